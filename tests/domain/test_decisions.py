from __future__ import annotations

from dataclasses import replace

import pytest

from ablab.domain.decisions import (
    DecisionThresholds,
    Evidence,
    Recommendation,
    RecommendedAction,
    RolloutDecision,
    decide,
    decide_overall,
)

WIN = Evidence(
    variant="treatment",
    significant=True,
    improved=True,
    relative_lift=0.08,
    relative_ci=(0.03, 0.13),
    control_units=5000,
    treatment_units=5000,
    min_samples=100,
)


@pytest.mark.parametrize(
    ("changes", "decision", "reason"),
    [
        ({}, RolloutDecision.GRADUAL_ROLLOUT, "significantly better (+8.0%)"),
        (
            {"relative_lift": 0.35, "relative_ci": (0.25, 0.45)},
            RolloutDecision.FULL_ROLLOUT,
            "at least +25.0%",
        ),
        (
            {"relative_lift": 0.35, "relative_ci": (0.02, 0.68)},
            RolloutDecision.GRADUAL_ROLLOUT,
            "roll it out in steps",
        ),
        ({"srm_mismatch": True}, RolloutDecision.KEEP_CONTROL, "sample ratio mismatch"),
        (
            {"violated_guardrails": ("error_rate<=0.01",)},
            RolloutDecision.ROLLBACK,
            "breaks guardrails: error_rate<=0.01",
        ),
        (
            {"improved": False, "relative_lift": -0.08},
            RolloutDecision.ROLLBACK,
            "significantly worse",
        ),
        ({"treatment_units": 40}, RolloutDecision.EXTEND_TEST, "only 40 units"),
        ({"significant": False}, RolloutDecision.EXTEND_TEST, "not significant yet"),
        (
            {"significant": False, "planned_units_reached": True},
            RolloutDecision.KEEP_CONTROL,
            "at the planned sample size",
        ),
    ],
)
def test_rules(changes: dict[str, object], decision: RolloutDecision, reason: str) -> None:
    recommendation = decide(replace(WIN, **changes))  # type: ignore[arg-type]
    assert recommendation.decision is decision
    assert reason in recommendation.reason
    assert recommendation.variant == "treatment"


def test_srm_outranks_everything_and_guardrails_outrank_a_win() -> None:
    both = replace(WIN, srm_mismatch=True, violated_guardrails=("latency_p95_ms<=200",))
    assert decide(both).decision is RolloutDecision.KEEP_CONTROL
    assert decide(replace(both, srm_mismatch=False)).decision is RolloutDecision.ROLLBACK


def test_practical_threshold() -> None:
    small = replace(WIN, relative_lift=0.01, relative_ci=(0.001, 0.02))
    assert decide(small).decision is RolloutDecision.GRADUAL_ROLLOUT
    strict = decide(small, DecisionThresholds(min_lift=0.05))
    assert strict.decision is RolloutDecision.KEEP_CONTROL
    assert "not above the practical threshold of +5.0%" in strict.reason


@pytest.mark.parametrize(
    ("decision", "action"),
    [
        (RolloutDecision.FULL_ROLLOUT, RecommendedAction.PROMOTE),
        (RolloutDecision.GRADUAL_ROLLOUT, RecommendedAction.PROMOTE),
        (RolloutDecision.KEEP_CONTROL, RecommendedAction.KEEP_CONTROL),
        (RolloutDecision.EXTEND_TEST, RecommendedAction.CONTINUE),
        (RolloutDecision.ROLLBACK, RecommendedAction.ROLLBACK),
    ],
)
def test_actions_of_the_results_contract(
    decision: RolloutDecision, action: RecommendedAction
) -> None:
    assert Recommendation(decision, "why").action is action


def rec(decision: RolloutDecision, variant: str) -> Recommendation:
    return Recommendation(decision, f"{variant} {decision.value}", variant)


def test_overall_prefers_the_largest_winning_lift() -> None:
    chosen = decide_overall(
        [
            rec(RolloutDecision.GRADUAL_ROLLOUT, "b"),
            rec(RolloutDecision.ROLLBACK, "c"),
            rec(RolloutDecision.GRADUAL_ROLLOUT, "d"),
        ],
        [0.05, -0.10, 0.09],
    )
    assert chosen.variant == "d"


def test_overall_without_a_winner() -> None:
    rollback = RolloutDecision.ROLLBACK
    assert decide_overall([rec(rollback, "b")], [-0.1]).variant == "b"
    both_bad = decide_overall([rec(rollback, "b"), rec(rollback, "c")], [-0.1, -0.2])
    assert (both_bad.decision, both_bad.variant) == (rollback, None)
    mixed = decide_overall(
        [rec(rollback, "b"), rec(RolloutDecision.EXTEND_TEST, "c")], [-0.1, 0.01]
    )
    assert mixed.decision is RolloutDecision.EXTEND_TEST
    keep = decide_overall([rec(rollback, "b"), rec(RolloutDecision.KEEP_CONTROL, "c")], [-0.1, 0.0])
    assert keep.decision is RolloutDecision.KEEP_CONTROL
    assert decide_overall([], []).decision is RolloutDecision.EXTEND_TEST


def test_undefined_lift_is_said_in_words() -> None:
    undefined = replace(WIN, significant=False, relative_lift=float("nan"))
    assert "lift undefined" in decide(undefined).reason
