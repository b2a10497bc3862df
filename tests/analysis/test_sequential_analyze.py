"""``ablab analyze`` with the sequential method: verdicts agree with their intervals.

With several treatments each always-valid test runs at alpha / m and its p-value is shown
as ``min(1, m p)``; a one-sided analysis gets a one-sided sequential test.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ablab.services.analysis.unit_analysis import UnitAnalysisOptions, analyze_unit_table
from ablab.services.ports import UnitTable
from ablab.stats import (
    CovariateMoments,
    Moments,
    mixing_variance_for_tuning_units,
    msprt_from_difference,
    welch_t_test,
)


def table(values: dict[str, np.ndarray]) -> UnitTable:
    variants = {
        name: CovariateMoments(len(v), float(v.sum()), float((v * v).sum()), 0.0, 0.0, 0.0)
        for name, v in values.items()
    }
    units = sum(len(v) for v in values.values())
    return UnitTable(rows=units, units=units, excluded_units=0, binary=False, variants=variants)


@settings(max_examples=30)
@given(
    seed=st.integers(0, 10_000),
    lifts=st.tuples(st.floats(-0.4, 0.4), st.floats(-0.4, 0.4)),
)
def test_every_treatment_agrees_with_its_interval(seed: int, lifts: tuple[float, float]) -> None:
    rng = np.random.default_rng(seed)
    values = {
        "control": rng.normal(0.0, 1.0, 300),
        "a": rng.normal(lifts[0], 1.0, 300),
        "b": rng.normal(lifts[1], 1.0, 300),
    }
    report = analyze_unit_table(table(values), UnitAnalysisOptions(metric="score"))
    for row in report.comparisons:
        assert row.sequential is not None
        assert row.sequential.level == pytest.approx(0.025)
        low, high = row.confidence_sequence
        assert low is not None
        assert high is not None
        assert row.significant == (not low <= 0.0 <= high)
        control = Moments.from_values(values["control"])
        treatment = Moments.from_values(values[row.variant])
        comparison = welch_t_test(control, treatment)
        tau_sq = mixing_variance_for_tuning_units(
            comparison.standard_error**2 * 600, 5_000, alpha=0.025
        )
        raw = msprt_from_difference(
            comparison.absolute_lift,
            comparison.standard_error**2,
            mixing_variance=tau_sq,
            alpha=0.025,
        )
        assert row.always_valid_p_value == pytest.approx(
            min(1.0, 2 * raw.always_valid_p_value), rel=1e-9
        )
        assert row.confidence_sequence == pytest.approx(raw.confidence_sequence, rel=1e-9)


def test_a_one_sided_analysis_is_never_significant_for_harm() -> None:
    rng = np.random.default_rng(1)
    values = {"control": rng.normal(1.0, 1.0, 2_000), "treatment": rng.normal(0.7, 1.0, 2_000)}
    two_sided = analyze_unit_table(table(values), UnitAnalysisOptions(metric="score"))
    assert two_sided.comparisons[0].significant  # a clear harm
    greater = analyze_unit_table(
        table(values), UnitAnalysisOptions(metric="score", alternative="greater")
    )
    (row,) = greater.comparisons
    assert row.sequential is not None
    assert row.sequential.alternative == "greater"
    assert not row.significant
    assert row.always_valid_p_value == 1.0
    assert row.confidence_sequence[1] is None  # one-sided: no upper bound


def test_analyze_rows_state_their_bayesian_prior_and_credible_interval() -> None:
    """Welch rows get GrowthBook's effect model under the flat default prior: the chance
    to win is ``Phi(lift / se)`` on the relative scale, and the 90% credible interval
    (1 - 2 alpha) excludes 0 exactly when that chance passes 95% or falls below 5%."""
    rng = np.random.default_rng(4)
    values = {"control": rng.normal(10.0, 2.0, 500), "a": rng.normal(10.3, 2.0, 500)}
    (row,) = analyze_unit_table(table(values), UnitAnalysisOptions(metric="score")).comparisons
    assert row.prior is not None
    assert row.prob_beat_control is not None
    low, high = row.credible_interval
    assert low is not None
    assert high is not None
    assert low < row.relative_lift < high
    decided = row.prob_beat_control > 0.95 or row.prob_beat_control < 0.05
    assert decided == (not low <= 0.0 <= high)
    assert row.relative_expected_loss is not None
