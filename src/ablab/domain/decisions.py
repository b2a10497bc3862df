"""Turning evidence into a rollout decision, in the vocabulary of a model rollout.

The rules follow seed 001's rollout decision (``make_rollout_decision``: full rollout,
gradual rollout, keep the champion, roll back, extend the test), checked in this order for
each treatment against the control:

1. A sample ratio mismatch means the assignment is broken: keep the control, trust nothing.
2. A violated guardrail, or a significant change in the wrong direction: roll back.
3. Fewer than ``min_samples`` counted units in an arm (``Evidence.counted`` names the count:
   units with labels for accuracy, units with predictions for latency and error rate,
   units exposed for event metrics): extend the test, results are directional. After the
   maximum duration the test can no longer reach them: stop for futility, keep the control.
4. No significant difference: keep the control if the test had its planned sample size
   (enough units to detect the MDE at the planned power); after ``max_duration_days``
   stop for futility and keep the control (seed 001: "no significant difference after 14
   days" keeps the champion); otherwise extend the test, with the days left when known.
5. A significant improvement: a full rollout if the whole interval of the relative lift clears
   ``full_rollout_lift`` (seed 001 uses the estimate above +20%; the interval is stricter);
   a gradual rollout if the estimated lift exceeds the practical threshold, the experiment's
   MDE when it has one (seed 001: a lift above the 5% minimum effect rolls out gradually,
   a smaller one keeps the champion as "too small to justify the change"); otherwise keep
   the control.

``Recommendation.action`` maps each decision onto the results contract's actions: full and
gradual rollouts ``promote``; keeping the control, stopping for futility and the end of a
shadow check ``keep_control``; extending ``continue``; rolling back ``rollback``; and
``none`` where the experiment's status allows none of them (:func:`within_status`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ablab.domain.lifecycle import ExperimentStatus

__all__ = [
    "DecisionThresholds",
    "Evidence",
    "Recommendation",
    "RecommendedAction",
    "RolloutDecision",
    "days_run",
    "decide",
    "decide_overall",
    "within_status",
]


class RolloutDecision(StrEnum):
    FULL_ROLLOUT = "full_rollout"
    GRADUAL_ROLLOUT = "gradual_rollout"
    KEEP_CONTROL = "keep_control"
    ROLLBACK = "rollback"
    EXTEND_TEST = "extend_test"
    STOP_FOR_FUTILITY = "stop_for_futility"
    SHADOW_PASSED = "shadow_passed"
    SHADOW_FAILED = "shadow_failed"
    NOT_LAUNCHED = "not_launched"
    ENDED = "ended"


class RecommendedAction(StrEnum):
    PROMOTE = "promote"
    KEEP_CONTROL = "keep_control"
    CONTINUE = "continue"
    ROLLBACK = "rollback"
    NONE = "none"


_ACTION = {
    RolloutDecision.FULL_ROLLOUT: RecommendedAction.PROMOTE,
    RolloutDecision.GRADUAL_ROLLOUT: RecommendedAction.PROMOTE,
    RolloutDecision.KEEP_CONTROL: RecommendedAction.KEEP_CONTROL,
    RolloutDecision.ROLLBACK: RecommendedAction.ROLLBACK,
    RolloutDecision.EXTEND_TEST: RecommendedAction.CONTINUE,
    RolloutDecision.STOP_FOR_FUTILITY: RecommendedAction.KEEP_CONTROL,
    # A shadow's treatment never served anyone: whatever the check found, the experiment
    # keeps the control; a passed check is the cue for a live A/B test.
    RolloutDecision.SHADOW_PASSED: RecommendedAction.KEEP_CONTROL,
    RolloutDecision.SHADOW_FAILED: RecommendedAction.KEEP_CONTROL,
    RolloutDecision.NOT_LAUNCHED: RecommendedAction.NONE,
    RolloutDecision.ENDED: RecommendedAction.NONE,
}


@dataclass(frozen=True, slots=True)
class DecisionThresholds:
    """Practical thresholds, as relative lifts (0.05 is +5%).

    ``min_lift`` applies when the evidence carries no MDE; with one, the MDE is the
    practical threshold (the larger of the two counts).
    """

    full_rollout_lift: float = 0.20
    min_lift: float = 0.0


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the analysis found for one treatment on the primary metric.

    ``improved`` is the sign of the effect once the metric's direction is accounted for (a
    lower latency is an improvement). ``relative_ci`` is oriented the same way.
    ``control_units`` and ``treatment_units`` are the units the minimum-samples rule counts,
    named by ``counted`` ("units with labels"). ``mde`` is the experiment's relative
    minimum detectable effect, its practical threshold. ``days_run`` and
    ``max_duration_days`` place the test in time; ``days_left`` is the estimate of the time
    to the planned sample size (None when unknown).
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
    counted: str = "units"
    mde: float | None = None
    days_run: float | None = None
    max_duration_days: int | None = None
    days_left: float | None = None

    @property
    def max_duration_reached(self) -> bool:
        return (
            self.max_duration_days is not None
            and self.days_run is not None
            and self.days_run >= self.max_duration_days
        )


@dataclass(frozen=True, slots=True)
class Recommendation:
    decision: RolloutDecision
    reason: str
    variant: str | None = None

    @property
    def action(self) -> RecommendedAction:
        return _ACTION[self.decision]


def decide(evidence: Evidence, thresholds: DecisionThresholds | None = None) -> Recommendation:
    """The decision for one treatment, with its reason in plain words (rules above).

    Examples:
        >>> win = Evidence("b", True, True, 0.033, (0.01, 0.056), 9000, 9000, 100, mde=0.05)
        >>> decide(win).decision.value
        'keep_control'
    """
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
        shortfall = (
            f"only {fewest} {evidence.counted} in the smallest arm, below the minimum of "
            f"{evidence.min_samples}"
        )
        if evidence.max_duration_reached:
            return _futility(evidence, shortfall)
        return Recommendation(
            RolloutDecision.EXTEND_TEST, f"{shortfall}: results are directional", name
        )
    if not evidence.significant:
        if evidence.planned_units_reached:
            return Recommendation(
                RolloutDecision.KEEP_CONTROL,
                f"no significant difference ({lift}) at the planned sample size",
                name,
            )
        if evidence.max_duration_reached:
            return _futility(evidence, f"no significant difference ({lift})")
        return Recommendation(
            RolloutDecision.EXTEND_TEST, f"not significant yet ({lift}): {_wait(evidence)}", name
        )
    lower = evidence.relative_ci[0]
    practical, named = _practical_threshold(evidence, limits)
    if math.isfinite(lower) and lower >= max(limits.full_rollout_lift, practical):
        return Recommendation(
            RolloutDecision.FULL_ROLLOUT,
            f"{name} is significantly better by {lift}, at least {_percent(lower)} with confidence",
            name,
        )
    # Seed 001 rolls out a lift strictly above its minimum effect; without an MDE the
    # configured floor itself is enough (0 by default: any significant improvement).
    worthwhile = (
        evidence.relative_lift > practical
        if evidence.mde is not None
        else evidence.relative_lift >= practical
    )
    if worthwhile:
        return Recommendation(
            RolloutDecision.GRADUAL_ROLLOUT,
            f"{name} is significantly better ({lift}); roll it out in steps",
            name,
        )
    return Recommendation(
        RolloutDecision.KEEP_CONTROL,
        f"{name} is significantly better ({lift}) but not above {named} of "
        f"{_percent(practical)}: too small to be worth the change",
        name,
    )


def _practical_threshold(evidence: Evidence, limits: DecisionThresholds) -> tuple[float, str]:
    """The smallest lift worth a rollout and what it is: the MDE, or the configured floor."""
    if evidence.mde is not None and evidence.mde >= limits.min_lift:
        return evidence.mde, "the MDE"
    return limits.min_lift, "the practical threshold"


def _futility(evidence: Evidence, finding: str) -> Recommendation:
    return Recommendation(
        RolloutDecision.STOP_FOR_FUTILITY,
        f"{finding} after {evidence.days_run:.1f} days, the maximum duration of "
        f"{evidence.max_duration_days} days: stop for futility and keep the control",
        evidence.variant,
    )


def _wait(evidence: Evidence) -> str:
    """What waiting means: the days left to the planned sample size, within the maximum."""
    limit = evidence.max_duration_days
    remaining = None if limit is None or evidence.days_run is None else limit - evidence.days_run
    if evidence.days_left is None:
        said = "collect more data"
    elif evidence.days_left <= 0:
        said = "the planned sample size is reached; collect more data to be sure"
    else:
        said = f"about {evidence.days_left:.1f} days left to the planned sample size"
    if remaining is not None:
        said += f" ({remaining:.1f} of the maximum {limit} days left"
        if evidence.days_left is not None and evidence.days_left > remaining:
            said += ": the plan will not be reached in time, expect a futility stop"
        said += ")"
    return said


_PREFERENCE = (
    RolloutDecision.FULL_ROLLOUT,
    RolloutDecision.GRADUAL_ROLLOUT,
    RolloutDecision.ROLLBACK,
    RolloutDecision.EXTEND_TEST,
    RolloutDecision.KEEP_CONTROL,
    RolloutDecision.STOP_FOR_FUTILITY,
)


def decide_overall(
    recommendations: Sequence[Recommendation], lifts: Sequence[float]
) -> Recommendation:
    """One decision for an A/B/n test from the per-treatment ones.

    A treatment worth rolling out wins (the largest lift among them); otherwise a rollback if
    every treatment must be rolled back; otherwise extend the test if any treatment needs more
    data; otherwise keep the control (a futility stop when that is why).
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
    for decision in (
        RolloutDecision.EXTEND_TEST,
        RolloutDecision.KEEP_CONTROL,
        RolloutDecision.STOP_FOR_FUTILITY,
    ):
        for recommendation in recommendations:
            if recommendation.decision is decision:
                return recommendation
    return recommendations[0]


def within_status(
    recommendation: Recommendation, status: ExperimentStatus, winner: str | None = None
) -> Recommendation:
    """The recommendation restated in the actions ``status`` allows (see ``lifecycle``).

    A running experiment allows them all. A paused one allows promote and stop (keep the
    control, roll back); to continue it must be resumed, which the reason says. A draft
    allows none of them (launch it first); a stopped, promoted or archived experiment has
    ended: the action is ``none`` and the reason keeps what the data says, so a stopped
    experiment is never told to promote.

    Examples:
        >>> promote = Recommendation(RolloutDecision.GRADUAL_ROLLOUT, "b is better", "b")
        >>> within_status(promote, ExperimentStatus.STOPPED).action.value
        'none'
    """
    if status is ExperimentStatus.RUNNING:
        return recommendation
    if status is ExperimentStatus.PAUSED:
        if recommendation.action is RecommendedAction.CONTINUE:
            return Recommendation(
                recommendation.decision,
                f"paused: resume it to collect more data ({recommendation.reason})",
                recommendation.variant,
            )
        return recommendation
    if status is ExperimentStatus.DRAFT:
        return Recommendation(
            RolloutDecision.NOT_LAUNCHED,
            f"a draft: launch it to start the test (data so far: {recommendation.reason})",
        )
    if status is ExperimentStatus.PROMOTED:
        outcome = f"it was promoted, {winner} is the winner" if winner else "it was promoted"
    elif status is ExperimentStatus.STOPPED:
        outcome = "it was stopped and the control kept"
    else:
        outcome = f"it is archived ({'winner ' + winner if winner else 'the control kept'})"
    said = f"the experiment has ended ({outcome}); its data says: {recommendation.reason}"
    if recommendation.action is RecommendedAction.PROMOTE and status is not (
        ExperimentStatus.PROMOTED
    ):
        said += (
            f"; to ship {recommendation.variant}, run a new experiment or a rollout of its version"
        )
    return Recommendation(RolloutDecision.ENDED, said)


def days_run(started_at: datetime | None, ended_at: datetime | None, now: datetime) -> float | None:
    """Calendar days from launch to the end (or to ``now``), pauses included: the maximum
    duration is a date on the calendar. None before launch."""
    if started_at is None:
        return None
    return max(0.0, ((ended_at or now) - started_at).total_seconds() / 86_400.0)


def _percent(value: float) -> str:
    if not math.isfinite(value):
        return "lift undefined"
    return f"{value:+.1%}"
