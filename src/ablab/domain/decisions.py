"""Turning evidence into a rollout decision, in the vocabulary of a model rollout.

The rules, checked in this order for each treatment against the control:

1. A sample ratio mismatch means the assignment is broken: keep the control, trust nothing.
2. A violated guardrail, or a significant change in the wrong direction: roll back.
3. Fewer units than ``min_samples`` in an arm: extend the test (results are directional).
4. No significant difference: keep the control if the test had its planned sample size (enough
   units to detect the MDE), otherwise extend the test.
5. A significant improvement: a full rollout if the whole interval of the relative lift clears
   ``full_rollout_lift``; a gradual rollout if the lift clears ``min_lift`` (the practical
   threshold, 0 by default); otherwise keep the control (too small to be worth the change).

``Recommendation.action`` maps each decision onto the results contract's four actions:
full and gradual rollouts ``promote``, keeping the control ``keep_control``, extending
``continue``, rolling back ``rollback``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DecisionThresholds",
    "Evidence",
    "Recommendation",
    "RecommendedAction",
    "RolloutDecision",
    "decide",
    "decide_overall",
]


class RolloutDecision(StrEnum):
    FULL_ROLLOUT = "full_rollout"
    GRADUAL_ROLLOUT = "gradual_rollout"
    KEEP_CONTROL = "keep_control"
    ROLLBACK = "rollback"
    EXTEND_TEST = "extend_test"


class RecommendedAction(StrEnum):
    PROMOTE = "promote"
    KEEP_CONTROL = "keep_control"
    CONTINUE = "continue"
    ROLLBACK = "rollback"


_ACTION = {
    RolloutDecision.FULL_ROLLOUT: RecommendedAction.PROMOTE,
    RolloutDecision.GRADUAL_ROLLOUT: RecommendedAction.PROMOTE,
    RolloutDecision.KEEP_CONTROL: RecommendedAction.KEEP_CONTROL,
    RolloutDecision.ROLLBACK: RecommendedAction.ROLLBACK,
    RolloutDecision.EXTEND_TEST: RecommendedAction.CONTINUE,
}


@dataclass(frozen=True, slots=True)
class DecisionThresholds:
    """Practical thresholds, as relative lifts (0.05 is +5%)."""

    full_rollout_lift: float = 0.20
    min_lift: float = 0.0


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the analysis found for one treatment on the primary metric.

    ``improved`` is the sign of the effect once the metric's direction is accounted for (a
    lower latency is an improvement). ``relative_ci`` is oriented the same way.
    """

    variant: str
    significant: bool
    improved: bool
    relative_lift: float
    relative_ci: tuple[float, float]
    control_units: int
    treatment_units: int
    min_samples: int
    planned_units_reached: bool = False
    srm_mismatch: bool = False
    violated_guardrails: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Recommendation:
    decision: RolloutDecision
    reason: str
    variant: str | None = None

    @property
    def action(self) -> RecommendedAction:
        return _ACTION[self.decision]


def decide(evidence: Evidence, thresholds: DecisionThresholds | None = None) -> Recommendation:
    """The decision for one treatment, with its reason in plain words."""
    limits = thresholds or DecisionThresholds()
    name = evidence.variant
    lift = _percent(evidence.relative_lift)
    if evidence.srm_mismatch:
        return Recommendation(
            RolloutDecision.KEEP_CONTROL,
            "sample ratio mismatch: units did not split as configured, so the comparison "
            "cannot be trusted; fix the assignment or logging before deciding",
            name,
        )
    if evidence.violated_guardrails:
        return Recommendation(
            RolloutDecision.ROLLBACK,
            f"{name} breaks guardrails: {', '.join(evidence.violated_guardrails)}",
            name,
        )
    if evidence.significant and not evidence.improved:
        return Recommendation(
            RolloutDecision.ROLLBACK, f"{name} is significantly worse than control ({lift})", name
        )
    fewest = min(evidence.control_units, evidence.treatment_units)
    if fewest < evidence.min_samples:
        return Recommendation(
            RolloutDecision.EXTEND_TEST,
            f"only {fewest} units in the smallest arm, below the minimum of "
            f"{evidence.min_samples}: results are directional",
            name,
        )
    if not evidence.significant:
        if evidence.planned_units_reached:
            return Recommendation(
                RolloutDecision.KEEP_CONTROL,
                f"no significant difference ({lift}) at the planned sample size",
                name,
            )
        return Recommendation(
            RolloutDecision.EXTEND_TEST, f"not significant yet ({lift}): collect more data", name
        )
    lower = evidence.relative_ci[0]
    if math.isfinite(lower) and lower >= limits.full_rollout_lift:
        return Recommendation(
            RolloutDecision.FULL_ROLLOUT,
            f"{name} is significantly better by {lift}, at least {_percent(lower)} with confidence",
            name,
        )
    if evidence.relative_lift >= limits.min_lift:
        return Recommendation(
            RolloutDecision.GRADUAL_ROLLOUT,
            f"{name} is significantly better ({lift}); roll it out in steps",
            name,
        )
    return Recommendation(
        RolloutDecision.KEEP_CONTROL,
        f"{name} is better ({lift}) but below the practical threshold of "
        f"{_percent(limits.min_lift)}",
        name,
    )


_PREFERENCE = (
    RolloutDecision.FULL_ROLLOUT,
    RolloutDecision.GRADUAL_ROLLOUT,
    RolloutDecision.ROLLBACK,
    RolloutDecision.EXTEND_TEST,
    RolloutDecision.KEEP_CONTROL,
)


def decide_overall(
    recommendations: Sequence[Recommendation], lifts: Sequence[float]
) -> Recommendation:
    """One decision for an A/B/n test from the per-treatment ones.

    A treatment worth rolling out wins (the largest lift among them); otherwise a rollback if
    every treatment must be rolled back; otherwise extend the test if any treatment needs more
    data; otherwise keep the control.
    """
    if not recommendations:
        return Recommendation(RolloutDecision.EXTEND_TEST, "no treatment to compare yet")
    rollouts = [
        (lift, rec)
        for rec, lift in zip(recommendations, lifts, strict=True)
        if rec.action is RecommendedAction.PROMOTE
    ]
    if rollouts:
        return max(rollouts, key=lambda pair: (pair[0], -_PREFERENCE.index(pair[1].decision)))[1]
    decisions = {r.decision for r in recommendations}
    if decisions == {RolloutDecision.ROLLBACK}:
        return (
            recommendations[0]
            if len(recommendations) == 1
            else Recommendation(
                RolloutDecision.ROLLBACK,
                "every treatment is worse than control or breaks a guardrail",
            )
        )
    for decision in (RolloutDecision.EXTEND_TEST, RolloutDecision.KEEP_CONTROL):
        for recommendation in recommendations:
            if recommendation.decision is decision:
                return recommendation
    return recommendations[0]


def _percent(value: float) -> str:
    if not math.isfinite(value):
        return "lift undefined"
    return f"{value:+.1%}"
