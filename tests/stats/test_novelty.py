"""The daily-lift trend test against statsmodels' weighted least squares."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given
from hypothesis import strategies as st

from ablab.errors import ValidationError
from ablab.stats import Status, TrendPattern, lift_trend


@pytest.mark.parametrize("seed", range(8))
def test_slope_error_and_p_value_are_statsmodels_wls(seed: int) -> None:
    rng = np.random.default_rng(seed)
    days = int(rng.integers(3, 30))
    x = np.sort(rng.choice(60, days, replace=False)).astype(float) + rng.uniform(0, 1)
    errors = rng.uniform(0.002, 0.03, days)
    lifts = 0.04 - 0.001 * seed * x + rng.normal(0, errors * rng.uniform(0.5, 2.5))
    result = lift_trend(x.tolist(), lifts.tolist(), errors.tolist(), alpha=0.05)
    fitted = sm.WLS(lifts, sm.add_constant(x), weights=1 / errors**2).fit()
    intercept, slope = fitted.params
    assert result.status is Status.OK
    assert result.slope == pytest.approx(slope, rel=1e-9)
    assert result.slope_standard_error == pytest.approx(fitted.bse[1], rel=1e-9)
    assert result.dispersion == pytest.approx(fitted.scale, rel=1e-9)
    assert result.statistic == pytest.approx(fitted.tvalues[1], rel=1e-9)
    assert result.degrees_of_freedom == fitted.df_resid == days - 2
    assert result.p_value == pytest.approx(fitted.pvalues[1], rel=1e-8, abs=1e-300)
    assert result.significant == (fitted.pvalues[1] < 0.05)
    assert result.first_lift == pytest.approx(intercept + slope * x.min(), rel=1e-9, abs=1e-12)
    assert result.last_lift == pytest.approx(intercept + slope * x.max(), rel=1e-9, abs=1e-12)
    mean = sm.WLS(lifts, np.ones(days), weights=1 / errors**2).fit().params[0]
    assert result.average_lift == pytest.approx(mean, rel=1e-9)


def test_the_direction_names_the_effect() -> None:
    errors = [0.005] * 10
    days = list(range(10))
    fading = lift_trend(days, [0.10 * 0.7**d + 0.01 for d in days], errors)
    growing = lift_trend(days, [0.003 * d + 0.001 * (-1) ** d for d in days], errors)
    fading_harm = lift_trend(days, [-0.10 * 0.7**d for d in days], errors)
    assert (fading.pattern, growing.pattern, fading_harm.pattern) == (
        TrendPattern.NOVELTY,
        TrendPattern.PRIMACY,
        TrendPattern.NOVELTY,
    )
    assert fading.first_lift > fading.average_lift > fading.last_lift
    steady = lift_trend(days, [0.03 + 0.004 * (-1) ** d for d in days], errors)
    assert steady.pattern is TrendPattern.NONE
    assert not steady.significant


def test_too_few_days_or_no_spread() -> None:
    two = lift_trend([0, 1], [0.1, 0.0], [0.01, 0.01])
    assert two.status is Status.TOO_FEW_UNITS
    assert math.isnan(two.p_value)
    assert not two.significant
    assert two.average_lift == pytest.approx(0.05)
    same_day = lift_trend([2, 2, 2], [0.1, 0.0, 0.05], [0.01] * 3)
    assert same_day.status is Status.ZERO_VARIANCE
    exact_line = lift_trend([0, 1, 2], [0.1, 0.2, 0.3], [0.01] * 3)
    assert exact_line.status is Status.ZERO_VARIANCE
    assert exact_line.pattern is TrendPattern.NONE


@pytest.mark.parametrize(
    ("days", "lifts", "errors", "alpha"),
    [
        ([0, 1, 2], [0.1, 0.2], [0.1, 0.1, 0.1], 0.05),
        ([0, 1, 2], [0.1, math.nan, 0.2], [0.1] * 3, 0.05),
        ([0, math.inf, 2], [0.1, 0.1, 0.2], [0.1] * 3, 0.05),
        ([0, 1, 2], [0.1, 0.1, 0.2], [0.1, 0.0, 0.1], 0.05),
        ([0, 1, 2], [0.1, 0.1, 0.2], [0.1, -1.0, 0.1], 0.05),
        ([0, 1, 2], [0.1, 0.1, 0.2], [0.1] * 3, 1.0),
    ],
)
def test_misuse_raises(
    days: list[float], lifts: list[float], errors: list[float], alpha: float
) -> None:
    with pytest.raises(ValidationError):
        lift_trend(days, lifts, errors, alpha=alpha)


finite_lifts = st.floats(-1, 1, allow_nan=False)


@given(
    st.lists(st.tuples(finite_lifts, st.floats(0.001, 0.5)), min_size=3, max_size=20),
    st.floats(-50, 50),
    st.floats(0.1, 10),
)
def test_properties(points: list[tuple[float, float]], shift: float, scale: float) -> None:
    """p in [0, 1]; moving the day origin or scaling every error by one factor (absorbed by
    the dispersion) changes neither the slope nor its p-value."""
    days = [float(d) for d in range(len(points))]
    lifts = [p[0] for p in points]
    errors = [p[1] for p in points]
    result = lift_trend(days, lifts, errors)
    if result.status is not Status.OK:
        return
    assert 0.0 <= result.p_value <= 1.0
    moved = lift_trend([d + shift for d in days], lifts, [e * scale for e in errors])
    assert moved.slope == pytest.approx(result.slope, rel=1e-6, abs=1e-9)
    assert moved.p_value == pytest.approx(result.p_value, rel=1e-6, abs=1e-9)
