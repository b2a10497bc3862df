"""Seed 001's decision rules as tables: the MDE, the maximum duration, counts, status, shadow."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from ablab.domain.decisions import (
    Evidence,
    Recommendation,
    RecommendedAction,
    RolloutDecision,
    decide,
    decide_overall,
    within_status,
)
from ablab.domain.lifecycle import Action, ExperimentStatus, allowed_actions
from ablab.domain.shadow_verdict import ShadowEvidence, decide_shadow, shadow_overall

WIN = Evidence(
    variant="treatment",
    significant=True,
    improved=True,
    relative_lift=0.08,
    relative_ci=(0.03, 0.13),
    control_units=5000,
    treatment_units=5000,
    min_samples=100,
    counted="units with labels",
)

D = RolloutDecision


@pytest.mark.parametrize(
    ("changes", "decision", "reason"),
    [
        # The finding of the day: +3.3% against an MDE of 5% is not worth a rollout.
        (
            {"relative_lift": 0.033, "relative_ci": (0.01, 0.056), "mde": 0.05},
            D.KEEP_CONTROL,
            "not above the MDE of +5.0%",
        ),
        ({"relative_lift": 0.033, "relative_ci": (0.01, 0.056)}, D.GRADUAL_ROLLOUT, "in steps"),
        ({"mde": 0.05}, D.GRADUAL_ROLLOUT, "significantly better (+8.0%)"),
        # Seed 001 rolls out strictly above the minimum effect.
        ({"relative_lift": 0.05, "relative_ci": (0.02, 0.08), "mde": 0.05}, D.KEEP_CONTROL, "MDE"),
        (
            {"relative_lift": 0.35, "relative_ci": (0.25, 0.45), "mde": 0.05},
            D.FULL_ROLLOUT,
            "at least +25.0%",
        ),
        # A large MDE is a floor for the full rollout too: the interval must clear both.
        (
            {"relative_lift": 0.35, "relative_ci": (0.25, 0.45), "mde": 0.30},
            D.GRADUAL_ROLLOUT,
            "in steps",
        ),
        (
            {"significant": False, "days_run": 14.0, "max_duration_days": 14},
            D.STOP_FOR_FUTILITY,
            "after 14.0 days, the maximum duration of 14 days: stop for futility",
        ),
        (
            {"significant": False, "days_run": 3.0, "max_duration_days": 14, "days_left": 2.5},
            D.EXTEND_TEST,
            "about 2.5 days left to the planned sample size (11.0 of the maximum 14 days left)",
        ),
        (
            {"significant": False, "days_run": 10.0, "max_duration_days": 14, "days_left": 9.0},
            D.EXTEND_TEST,
            "will not be reached in time",
        ),
        ({"significant": False}, D.EXTEND_TEST, "collect more data"),
        (
            {"treatment_units": 40},
            D.EXTEND_TEST,
            "only 40 units with labels in the smallest arm, below the minimum of 100",
        ),
        (
            {"treatment_units": 40, "days_run": 20.5, "max_duration_days": 14},
            D.STOP_FOR_FUTILITY,
            "only 40 units with labels",
        ),
        # A significant win is not a futility: the maximum duration does not overrule it.
        ({"days_run": 30.0, "max_duration_days": 14}, D.GRADUAL_ROLLOUT, "in steps"),
        # Harm outranks the clock.
        (
            {"improved": False, "relative_lift": -0.08, "days_run": 30.0, "max_duration_days": 1},
            D.ROLLBACK,
            "significantly worse",
        ),
    ],
)
def test_seed_001_rules(changes: dict[str, object], decision: RolloutDecision, reason: str) -> None:
    recommendation = decide(replace(WIN, **changes))  # type: ignore[arg-type]
    assert recommendation.decision is decision, recommendation.reason
    assert reason in recommendation.reason


def test_futility_keeps_the_control() -> None:
    futile = decide(replace(WIN, significant=False, days_run=15.0, max_duration_days=14))
    assert futile.action is RecommendedAction.KEEP_CONTROL


def test_the_overall_decision_of_futile_treatments_is_a_futility_stop() -> None:
    futile = Recommendation(D.STOP_FOR_FUTILITY, "b futile", "b")
    assert decide_overall([futile, futile], [0.0, 0.01]).decision is D.STOP_FOR_FUTILITY
    extend = Recommendation(D.EXTEND_TEST, "c needs data", "c")
    assert decide_overall([futile, extend], [0.0, 0.01]).decision is D.EXTEND_TEST


_LIFECYCLE_OF = {
    RecommendedAction.PROMOTE: {Action.PROMOTE},
    RecommendedAction.KEEP_CONTROL: {Action.STOP},
    RecommendedAction.ROLLBACK: {Action.STOP},
    # Continuing is staying in running, or resuming a paused experiment.
    RecommendedAction.CONTINUE: {Action.PAUSE, Action.RESUME},
}


@pytest.mark.parametrize("status", list(ExperimentStatus))
@pytest.mark.parametrize("decision", list(RolloutDecision))
def test_a_recommendation_names_only_what_the_status_allows(
    status: ExperimentStatus, decision: RolloutDecision
) -> None:
    restated = within_status(Recommendation(decision, "the data says so", "b"), status, "b")
    if restated.action is RecommendedAction.NONE:
        assert status not in (ExperimentStatus.RUNNING, ExperimentStatus.PAUSED) or decision in (
            D.NOT_LAUNCHED,
            D.ENDED,
        )
        return
    assert _LIFECYCLE_OF[restated.action] & set(allowed_actions(status))
    assert "the data says so" in restated.reason


def test_a_stopped_experiment_is_never_told_to_promote() -> None:
    win = decide(WIN)
    assert win.action is RecommendedAction.PROMOTE
    stopped = within_status(win, ExperimentStatus.STOPPED)
    assert stopped.action is RecommendedAction.NONE
    assert stopped.decision is D.ENDED
    assert "stopped and the control kept" in stopped.reason
    assert "treatment is significantly better" in stopped.reason
    assert "run a new experiment or a rollout" in stopped.reason
    promoted = within_status(win, ExperimentStatus.PROMOTED, "treatment")
    assert "treatment is the winner" in promoted.reason
    assert "run a new experiment" not in promoted.reason


def test_a_paused_experiment_is_told_to_resume_to_continue() -> None:
    waiting = within_status(decide(replace(WIN, significant=False)), ExperimentStatus.PAUSED)
    assert waiting.action is RecommendedAction.CONTINUE
    assert waiting.reason.startswith("paused: resume it")
    assert within_status(decide(WIN), ExperimentStatus.PAUSED) == decide(WIN)


def test_a_draft_is_told_to_launch() -> None:
    draft = within_status(decide(WIN), ExperimentStatus.DRAFT)
    assert (draft.decision, draft.action) == (D.NOT_LAUNCHED, RecommendedAction.NONE)
    assert "launch it" in draft.reason


SHADOW = ShadowEvidence(
    variant="b",
    pairs=1000,
    min_samples=100,
    agreement=0.97,
    agreement_ci=(0.96, 0.98),
    error_difference_ci=(-0.01, 0.01),
    served_error_rate=0.01,
    shadow_error_rate=0.01,
    labelled=400,
    served_accuracy=0.90,
    shadow_accuracy=0.91,
    accuracy_difference_ci=(-0.03, 0.05),
    served_latency_ms=40.0,
    latency_difference_ms=5.0,
    latency_difference_ci=(3.0, 7.0),
)


@pytest.mark.parametrize(
    ("changes", "decision", "reason"),
    [
        ({}, D.SHADOW_PASSED, "agrees on 97.0% [96.0%, 98.0%] of answers"),
        ({}, D.SHADOW_PASSED, "not less accurate (91.0% vs 90.0% on 400 labels)"),
        ({"pairs": 40}, D.EXTEND_TEST, "only 40 mirrored predictions of b, below the minimum"),
        (
            {"pairs": 40, "days_run": 8.0, "max_duration_days": 7},
            D.STOP_FOR_FUTILITY,
            "stop for futility",
        ),
        (
            {"error_difference_ci": (0.01, 0.03), "shadow_error_rate": 0.03},
            D.SHADOW_FAILED,
            "fails more often",
        ),
        ({"accuracy_difference_ci": (-0.08, -0.01)}, D.SHADOW_FAILED, "less accurate"),
        ({"latency_limit_ms": 42.0}, D.SHADOW_FAILED, "slower than the latency guardrail"),
        ({"latency_limit_ms": 60.0}, D.SHADOW_PASSED, "latency +5.0 ms [+3.0, +7.0]"),
        ({"agreement": 0.8, "agreement_ci": (0.78, 0.82)}, D.SHADOW_FAILED, "agrees with"),
        # Divergence explained by labels: the shadow is more accurate.
        (
            {
                "agreement": 0.8,
                "agreement_ci": (0.78, 0.82),
                "accuracy_difference_ci": (0.02, 0.09),
            },
            D.SHADOW_PASSED,
            "more accurate",
        ),
        # Numeric answers rarely agree exactly: agreement is not the yardstick.
        (
            {"agreement": 0.1, "agreement_ci": (0.08, 0.12), "numeric": True},
            D.SHADOW_PASSED,
            "passed",
        ),
        (
            {"labelled": 0, "accuracy_difference_ci": (math.nan, math.nan)},
            D.SHADOW_PASSED,
            "accuracy not measured",
        ),
    ],
)
def test_shadow_rules(changes: dict[str, object], decision: RolloutDecision, reason: str) -> None:
    verdict = decide_shadow(replace(SHADOW, **changes))  # type: ignore[arg-type]
    assert verdict.decision is decision, verdict.reason
    assert reason in verdict.reason
    assert verdict.action is not RecommendedAction.PROMOTE


def test_shadow_overall_waits_for_every_treatment_then_prefers_a_pass() -> None:
    passed = decide_shadow(SHADOW)
    failed = decide_shadow(replace(SHADOW, variant="c", accuracy_difference_ci=(-0.2, -0.1)))
    waiting = decide_shadow(replace(SHADOW, variant="d", pairs=3))
    assert shadow_overall([failed, passed]) is passed
    assert shadow_overall([failed, passed, waiting]) is waiting
    assert shadow_overall([failed]) is failed
    assert shadow_overall([]).decision is D.EXTEND_TEST
