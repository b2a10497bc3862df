"""What the results conclude: the minimum-samples rule, the time, and the go/no-go.

Each treatment's recommendation is a :class:`~ablab.domain.decisions.Recommendation`
(its ``action``, ``decision``, ``variant`` and ``reason`` are what the wire shows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ablab.domain.decisions import RecommendedAction
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.results.comparisons import Interval

__all__ = [
    "ControllerVerdict",
    "DecisionEvidence",
    "Duration",
    "ExperimentDecision",
    "MinSamplesRule",
]


@dataclass(frozen=True, slots=True)
class MinSamplesRule:
    """Which count the minimum-samples rule reads, and whether every variant reached it.

    ``counts`` names the per-variant count compared with ``min_samples`` (units_exposed,
    units_with_predictions, units_with_labels, or mirrored_predictions in shadow mode).
    """

    min_samples: int
    counts: str
    reached: bool
    statement: str


@dataclass(frozen=True, slots=True)
class Duration:
    """Where the test stands in time: days run, the maximum duration, and the days left.

    ``planned_units`` is each variant's planned sample size for the primary metric's test
    (empty without an MDE) in the units it counts (``units_in_test``); ``days_left``
    extrapolates ``units_per_day`` to it, None when it cannot be estimated.
    """

    days_run: float | None
    max_duration_days: int | None
    max_duration_reached: bool
    planned_units: Mapping[str, int]
    units_in_test: Mapping[str, int]
    units_per_day: Mapping[str, float]
    days_left: float | None
    basis: str


class ControllerVerdict(StrEnum):
    """A deployment controller's go/no-go: promote, roll back, or keep waiting."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class DecisionEvidence:
    """The primary comparison and the checks behind a go/no-go."""

    metric: str
    relative_lift: float | None
    relative_ci: Interval
    p_value: float | None
    always_valid_p_value: float | None
    significant: bool
    min_samples_reached: bool
    srm_mismatch: bool
    broken_guardrails: tuple[str, ...]
    units: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class ExperimentDecision:
    """For a deployment controller (Argo Rollouts, Flagger): ``decision`` is the verdict,
    ``action`` the recommendation it rests on."""

    experiment: str
    status: ExperimentStatus
    decision: ControllerVerdict
    action: RecommendedAction
    variant: str | None
    reason: str
    evidence: DecisionEvidence
