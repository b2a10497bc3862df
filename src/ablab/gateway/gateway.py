"""``Gateway``: the server's router of prediction requests to model backends.

assign -> call the variant's model (breaker, timeout, fallback to the control) -> answer,
and in the background: log the exposure and the prediction, mirror to shadows. The
response never waits for a shadow: mirrored calls go through a bounded queue served by
their own tasks (a full queue drops the copy, counted), each with its backend's timeout.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ablab.assignment.decide import Assignment, AssignmentReason
from ablab.domain.experiments import Experiment
from ablab.domain.trust import Trust
from ablab.errors import AblabError, Unavailable
from ablab.gateway.backends import Backend, BackendError, SessionPool, backend_for
from ablab.gateway.breaker import CircuitBreaker
from ablab.gateway.routing import (
    Plan,
    Served,
    Serving,
    elapsed_ms,
    plan_request,
    prediction_events,
    shadow_event,
)
from ablab.services.ports import MetadataStore

__all__ = ["Gateway"]

logger = logging.getLogger("ablab.gateway")

Log = Callable[[str, list[dict[str, Any]]], None]  # (project id, events)


@dataclass(frozen=True, slots=True)
class _Mirror:
    """One mirrored call waiting in the shadow queue."""

    project_id: str
    experiment: Experiment
    plan: Plan
    unit_id: str
    variant: str
    version: str
    features: Any


class Gateway:
    def __init__(
        self,
        store: MetadataStore,
        log: Log,
        *,
        timeout: float = 2.0,
        shadow_sample: float = 1.0,
        shadow_queue: int = 1_000,
        shadow_workers: int = 8,
        breaker: Callable[[], CircuitBreaker] = CircuitBreaker,
        trust: Trust | None = None,
    ) -> None:
        self._store = store
        self._log = log
        self._timeout = timeout
        self._shadow_sample = shadow_sample
        self._new_breaker = breaker
        # What models may load and which addresses endpoints may reach (the operator's).
        self._trust = trust or Trust()
        self.pool = SessionPool(outbound=self._trust.outbound)
        self._backends: dict[tuple[str, str, str], Backend] = {}
        # One breaker per project and backend: one tenant's failing model never opens another's.
        self.breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._shadow: asyncio.Queue[_Mirror] | None = None
        self._shadow_size = shadow_queue
        self._shadow_workers = shadow_workers
        self._tasks: list[asyncio.Task[None]] = []
        self.shadow_dropped = 0
        self.fallbacks = 0

    async def predict(
        self,
        project_id: str,
        experiment: Experiment,
        assignment: Assignment,
        features: Any,
        attributes: Mapping[str, Any] | None = None,
    ) -> Served:
        """Serve one request.

        Raises:
            Unavailable: neither the assigned model nor the control could answer.
            ValidationError: the experiment's model has no registered backend.
        """
        plan = plan_request(
            experiment, assignment, shadow_sample=self._shadow_sample, draw=random.random()
        )
        served = await self._serve(project_id, experiment, plan, features)
        # An exposure per unit is enough for the analysis: log it on the unit's first request
        # here (its assignment is new to this process), a prediction on every request.
        events = prediction_events(
            experiment.name,
            assignment.unit_id,
            attributes,
            plan,
            served,
            exposure=assignment.reason is AssignmentReason.NEW,
        )
        if events:
            self._log(project_id, events)
        for variant, version in plan.shadows:
            mirror = _Mirror(
                project_id, experiment, plan, assignment.unit_id, variant, version, features
            )
            self._mirror(mirror)
        return served

    async def _serve(
        self, project_id: str, experiment: Experiment, plan: Plan, features: Any
    ) -> Served:
        serving = Serving(experiment.name, plan)
        for version in serving.versions():
            backend = self._backend(project_id, experiment, version)
            try:
                answer = await self._call(project_id, backend, features)
            except BackendError as exc:
                serving.failed(exc)
                continue
            served = serving.served(version, answer, answered_by=backend.name)
            if served.fallback:
                self.fallbacks += 1
            return served
        raise serving.unavailable()

    async def _call(self, project_id: str, backend: Backend, features: Any) -> Any:
        breaker = self.breakers.setdefault((project_id, backend.name), self._new_breaker())
        with breaker.guarding(backend.name):
            return await backend.predict(features)

    def _backend(self, project_id: str, experiment: Experiment, version: str) -> Backend:
        if experiment.model is None:
            raise AblabError(f"experiment {experiment.name!r} has no model to route to")
        key = (project_id, experiment.model, version)
        found = self._backends.get(key)
        if found is None:
            with self._store.session(read_only=True) as session:
                model = session.get_model(project_id, experiment.model)
                registered = session.get_model_version(model.id, version) if model else None
            if registered is None:
                raise Unavailable(f"model {experiment.model} {version} is not registered")
            found = self._backends[key] = backend_for(
                experiment.model,
                registered,
                self.pool,
                artifacts=self._trust.artifacts,
                timeout=self._timeout,
            )
        return found

    def forget_backends(self) -> None:
        """Drop cached backends (a version was registered or changed)."""
        self._backends.clear()

    # Shadows

    def _mirror(self, mirror: _Mirror) -> None:
        try:
            self._queue().put_nowait(mirror)
        except asyncio.QueueFull:
            self.shadow_dropped += 1

    def _queue(self) -> asyncio.Queue[_Mirror]:
        if self._shadow is None:
            self._shadow = asyncio.Queue(self._shadow_size)
            self._tasks = [
                asyncio.get_running_loop().create_task(self._shadow_worker())
                for _ in range(self._shadow_workers)
            ]
        return self._shadow

    async def _shadow_worker(self) -> None:
        assert self._shadow is not None
        while True:
            mirror = await self._shadow.get()
            started = time.perf_counter()
            try:
                backend = self._backend(mirror.project_id, mirror.experiment, mirror.version)
                answer, error = await self._call(mirror.project_id, backend, mirror.features), False
            except (BackendError, AblabError):
                answer, error = None, True
            except Exception:  # a shadow must never take the worker down
                logger.exception("shadow call failed")
                answer, error = None, True
            finally:
                self._shadow.task_done()
            event = shadow_event(
                mirror.experiment.name,
                mirror.unit_id,
                mirror.plan,
                variant=mirror.variant,
                prediction=answer,
                latency_ms=elapsed_ms(started),
                error=error,
            )
            self._log(mirror.project_id, [event])

    async def drain(self) -> None:
        """Wait for the queued shadow calls (tests, shutdown)."""
        if self._shadow is not None:
            await self._shadow.join()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pool.close()
