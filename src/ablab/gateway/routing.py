"""What a prediction request is served, decided once for both routers (server and in-process).

- A unit is served its variant's model version; outside the experiment, the control's (a
  promoted experiment: the winner's).
- In shadow mode everyone is served the control; each treatment gets a mirrored copy,
  sampled at ``shadow_sample``, whose answer is only logged (``shadow: true``, the same
  prediction id).
- When the served model fails or its breaker is open, a treatment falls back to the
  control model; the prediction is logged under the treatment with ``error: true``, so
  the failure counts against the treatment while the caller still gets an answer.

``Serving`` walks one request through those steps; the routers differ only in how they
call a model (``await`` over HTTP, a thread with a timeout in process).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ablab.assignment.decide import Assignment
from ablab.domain.experiments import Experiment
from ablab.errors import Unavailable

__all__ = ["Plan", "Served", "Serving", "plan_request", "prediction_events", "shadow_event"]


@dataclass(frozen=True, slots=True)
class Plan:
    """The versions to call for one request."""

    prediction_id: str
    logged_variant: str | None  # the variant the prediction is logged under
    version: str | None  # the model version to serve
    fallback_version: str | None  # the control's, when ``version`` is a treatment's
    shadows: tuple[tuple[str, str], ...]  # (treatment, version) to mirror to
    in_experiment: bool


@dataclass(frozen=True, slots=True)
class Served:
    """What the caller gets back, and what is logged."""

    prediction: Any
    variant: str | None
    model_version: str | None
    prediction_id: str
    in_experiment: bool
    fallback: bool = False
    latency_ms: float = 0.0
    error: bool = False
    answered_by: str | None = field(default=None, repr=False)


def plan_request(
    experiment: Experiment, assignment: Assignment, *, shadow_sample: float, draw: float
) -> Plan:
    """The plan for one request; ``draw`` in [0, 1) decides the shadow sampling."""
    control = next((v for v in experiment.variants if v.is_control), None)
    control_version = control.model_version if control else None
    # 128 random bits as 32 hex digits, like uuid4().hex without building a UUID object.
    prediction_id = os.urandom(16).hex()
    if experiment.shadow and assignment.in_experiment and control is not None:
        shadows = tuple(
            (t.name, t.model_version)
            for t in experiment.treatments
            if t.model_version is not None and draw < shadow_sample
        )
        return Plan(prediction_id, control.name, control_version, None, shadows, True)
    version = assignment.model_version
    fallback = control_version if version != control_version else None
    return Plan(prediction_id, assignment.variant, version, fallback, (), assignment.in_experiment)


class Serving:
    """One request's way through its plan: the planned version, then the control's.

    The router calls each version ``versions()`` yields and reports back: ``served(...)``
    for the first answer, ``failed(...)`` for an error or an open breaker; when none
    answered, it raises ``unavailable()``.

    Examples:
        A treatment whose model failed is answered by the control, logged as an error:

        >>> plan = Plan("p1", "treatment", "v2", "v1", (), True)
        >>> serving = Serving("checkout", plan)
        >>> for version in serving.versions():
        ...     if version == "v2":
        ...         serving.failed("v2: circuit open")
        ...     else:
        ...         served = serving.served(version, 0.7)
        ...         break
        >>> (served.variant, served.model_version, served.fallback, served.error)
        ('treatment', 'v1', True, True)
    """

    __slots__ = ("_failures", "_plan", "_started", "experiment")

    def __init__(self, experiment: str, plan: Plan) -> None:
        self.experiment = experiment
        self._plan = plan
        self._started = time.perf_counter()
        self._failures: list[str] = []

    def versions(self) -> Iterator[str]:
        """The versions to call, in order, until one answers."""
        if self._plan.version is not None:
            yield self._plan.version
        else:
            self._failures.append("no model version to serve")
        if self._plan.fallback_version is not None:
            yield self._plan.fallback_version

    def failed(self, reason: object) -> None:
        """The version just called did not answer (its error, or its breaker was open)."""
        self._failures.append(str(reason))

    def served(self, version: str, prediction: Any, *, answered_by: str | None = None) -> Served:
        """The answer of ``version``: a fallback when it is not the planned version."""
        fallback = version != self._plan.version
        return Served(
            prediction,
            self._plan.logged_variant,
            version,
            self._plan.prediction_id,
            self._plan.in_experiment,
            fallback=fallback,
            latency_ms=elapsed_ms(self._started),
            # The planned model failed: its error counts against the variant it was logged as.
            error=fallback,
            answered_by=answered_by,
        )

    def unavailable(self) -> Unavailable:
        """The error when no version answered: why the planned one failed, then the control."""
        reason = "; the control too: ".join(self._failures)
        return Unavailable(
            f"no model could answer for experiment {self.experiment!r}: {reason}",
            details={"experiment": self.experiment},
        )


def elapsed_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()``), to the microsecond."""
    return round((time.perf_counter() - started) * 1000, 3)


def prediction_events(
    experiment: str,
    unit_id: str,
    attributes: Mapping[str, Any] | None,
    plan: Plan,
    served: Served,
    *,
    exposure: bool = True,
) -> list[dict[str, Any]]:
    """The exposure and prediction events of a served request (none outside the experiment)."""
    if not plan.in_experiment or plan.logged_variant is None:
        return []
    now = datetime.now(UTC).isoformat()
    events: list[dict[str, Any]] = []
    if exposure:
        events.append(
            {
                "event_id": f"x-{plan.prediction_id}",
                "type": "exposure",
                "experiment": experiment,
                "unit_id": unit_id,
                "variant": plan.logged_variant,
                "attributes": dict(attributes) if attributes else None,
                "timestamp": now,
            }
        )
    events.append(
        {
            "event_id": f"p-{plan.prediction_id}",
            "type": "prediction",
            "experiment": experiment,
            "unit_id": unit_id,
            "variant": plan.logged_variant,
            "prediction_id": plan.prediction_id,
            "latency_ms": served.latency_ms,
            "error": served.error,
            # A failed model answered nothing; the fallback's answer is not its own.
            "output": None if served.error else served.prediction,
            "timestamp": now,
        }
    )
    return events


def shadow_event(
    experiment: str,
    unit_id: str,
    plan: Plan,
    *,
    variant: str,
    prediction: Any,
    latency_ms: float,
    error: bool,
) -> dict[str, Any]:
    """The logged answer of one mirrored call (same prediction id, ``shadow: true``)."""
    return {
        "event_id": f"s-{variant}-{plan.prediction_id}",
        "type": "prediction",
        "experiment": experiment,
        "unit_id": unit_id,
        "variant": variant,
        "prediction_id": plan.prediction_id,
        "latency_ms": latency_ms,
        "error": error,
        "shadow": True,
        "output": prediction,
        "timestamp": datetime.now(UTC).isoformat(),
    }
