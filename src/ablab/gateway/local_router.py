"""``LocalRouter``: the gateway in the caller's process (``client.router(...)``).

The same decisions as the server's gateway (``routing``): assign, call the variant's model
with its breaker and timeout, fall back to the control, mirror to shadows without waiting,
and log exposures and predictions through the client (queued, never in the way).
Models are Python objects (callables or estimators with ``predict``) or artifact URIs (a
joblib/pickle/skops file, ``module:attribute``, ``models:/name/version``), loaded here with
the local store's open policy: the caller's own process may run any code already.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

from ablab.assignment.decide import Assignment, AssignmentReason
from ablab.contract.catalogue import AssignmentPublic
from ablab.contract.experiments import ExperimentPublic
from ablab.contract.predictions import PredictionPublic
from ablab.domain.experiments import Experiment, Variant
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.trust import ArtifactPolicy, Trust
from ablab.errors import ValidationError
from ablab.gateway import routing
from ablab.gateway.backends import BackendError, PythonModel, load_artifact
from ablab.gateway.breaker import CircuitBreaker

__all__ = ["LocalRouter"]


class _Client(Protocol):
    def assign(
        self,
        experiment: str,
        unit_id: str,
        attributes: dict[str, Any] | None = None,
        *,
        log_exposure: bool = True,
    ) -> AssignmentPublic: ...

    def track(self, event: Mapping[str, Any]) -> bool: ...


def _domain(experiment: ExperimentPublic) -> Experiment:
    """Enough of the experiment for the routing rules."""
    return Experiment(
        id=experiment.id,
        project_id="",
        name=experiment.name,
        status=ExperimentStatus(experiment.status),
        salt="",
        created_at=experiment.created_at,
        updated_at=experiment.updated_at,
        variants=tuple(
            Variant(v.name, v.weight, v.model_version, v.config, v.is_control)
            for v in experiment.variants
        ),
        model=experiment.model_id,
        shadow=experiment.shadow,
    )


class LocalRouter:
    def __init__(
        self,
        client: _Client,
        experiment: Callable[[], ExperimentPublic],
        models: Mapping[str, Any],
        *,
        timeout: float = 2.0,
        shadow_sample: float = 1.0,
        shadow_queue: int = 1_000,
        refresh: float = 5.0,
        breaker: Callable[[], CircuitBreaker] = CircuitBreaker,
        artifacts: ArtifactPolicy | None = None,
    ) -> None:
        if not models:
            raise ValidationError("a router needs at least one model: {version: model}")
        self._client = client
        self._load = experiment
        policy = artifacts or Trust.local().artifacts
        self._models = {
            version: PythonModel(
                f"{version}",
                load_artifact(model, policy) if isinstance(model, str) else model,
                timeout=timeout,
            )
            for version, model in models.items()
        }
        self.breakers = {version: breaker() for version in self._models}
        self._timeout = timeout
        self._shadow_sample = shadow_sample
        self._refresh = refresh
        self._experiment: tuple[float, Experiment] | None = None
        self._calls = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ablab-model")
        self._shadows = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ablab-shadow")
        self._shadow_slots = threading.BoundedSemaphore(shadow_queue)
        self.shadow_dropped = 0

    def predict(
        self, unit_id: str, features: Any, attributes: Mapping[str, Any] | None = None
    ) -> PredictionPublic:
        """The prediction for ``unit_id``, from its variant's model or the control's.

        Raises:
            Unavailable: neither the unit's model nor the control's could answer.
        """
        experiment = self._current()
        public = self._client.assign(
            experiment.name, unit_id, dict(attributes or {}), log_exposure=False
        )
        assignment = Assignment(
            experiment=public.experiment,
            unit_id=public.unit_id,
            variant=public.variant,
            model_version=public.model_version,
            in_experiment=public.in_experiment,
            reason=AssignmentReason(public.reason),
        )
        plan = routing.plan_request(
            experiment, assignment, shadow_sample=self._shadow_sample, draw=random.random()
        )
        served = self._serve(experiment, plan, features)
        for event in routing.prediction_events(experiment.name, unit_id, attributes, plan, served):
            self._client.track(event)
        for variant, version in plan.shadows:
            self._mirror(
                experiment, plan, unit_id, variant=variant, version=version, features=features
            )
        return PredictionPublic(
            prediction=served.prediction,
            variant=served.variant if served.in_experiment else assignment.variant,
            model_version=served.model_version,
            prediction_id=served.prediction_id,
            in_experiment=served.in_experiment,
            fallback=served.fallback,
        )

    def _current(self) -> Experiment:
        now = time.monotonic()
        if self._experiment is None or now - self._experiment[0] > self._refresh:
            self._experiment = (now, _domain(self._load()))
        return self._experiment[1]

    def _serve(self, experiment: Experiment, plan: routing.Plan, features: Any) -> routing.Served:
        serving = routing.Serving(experiment.name, plan)
        for version in serving.versions():
            try:
                answer = self._call(version, features)
            except BackendError as exc:
                serving.failed(exc)
                continue
            return serving.served(version, answer)
        raise serving.unavailable()

    def _call(self, version: str, features: Any) -> Any:
        if version not in self._models:
            raise BackendError(f"{version}: no model for this version")
        with self.breakers[version].guarding(version):
            future: Future[Any] = self._calls.submit(self._models[version].predict_now, features)
            try:
                return future.result(timeout=self._timeout)
            except FutureTimeout:
                raise BackendError(f"{version} took longer than {self._timeout:g} s") from None

    def _mirror(
        self,
        experiment: Experiment,
        plan: routing.Plan,
        unit_id: str,
        *,
        variant: str,
        version: str,
        features: Any,
    ) -> None:
        if version not in self._models or not self._shadow_slots.acquire(blocking=False):
            self.shadow_dropped += 1
            return

        def run() -> None:
            started = time.perf_counter()
            try:
                answer, error = self._call(version, features), False
            except BackendError:
                answer, error = None, True
            finally:
                self._shadow_slots.release()
            self._client.track(
                routing.shadow_event(
                    experiment.name,
                    unit_id,
                    plan,
                    variant=variant,
                    prediction=answer,
                    latency_ms=routing.elapsed_ms(started),
                    error=error,
                )
            )

        self._shadows.submit(run)

    def close(self) -> None:
        self._shadows.shutdown(wait=True)
        self._calls.shutdown(wait=False)
