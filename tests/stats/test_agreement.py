"""One verdict per comparison: the p-value, the absolute interval and the relative interval agree.

For every fixed-horizon comparison and every alternative, whatever the data (Hypothesis):
``statistic == absolute_lift / standard_error``; ``significant == (p_value < alpha)``; the
``1 - alpha`` absolute interval excludes 0 exactly when the result is significant; so does
the relative interval wherever it is bounded. The only inputs left out are those within
``1e-9`` (relative) of the critical value, where rounding in the last digits decides.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from ablab.stats import (
    ComparisonResult,
    CovariateMoments,
    Moments,
    RatioCovariateMoments,
    RatioMoments,
    Status,
    compare_quantiles,
    cuped_test,
    ratio_cuped_test,
    ratio_test,
    two_proportion_z_test,
    welch_t_test,
)

ALTERNATIVES = st.sampled_from(["two-sided", "greater", "less"])
ALPHAS = st.floats(min_value=0.001, max_value=0.4)
VALUES = st.lists(
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False).map(lambda v: round(v, 3)),
    min_size=2,
    max_size=30,
)
COUNTS = st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(0, 20), st.integers(0, 20))


@st.composite
def proportions(draw: st.DrawFn) -> Moments:
    units = draw(st.integers(min_value=1, max_value=2_000_000))
    # Rare events, common ones and everything between, as the split of units allows.
    successes = draw(
        st.one_of(
            st.integers(0, min(units, 30)),
            st.integers(0, units),
            st.integers(max(0, units - 30), units),
        )
    )
    return Moments.from_successes(successes, units)


def _critical(result: ComparisonResult) -> float:
    level = 1 - result.alpha / 2 if result.alternative == "two-sided" else 1 - result.alpha
    if math.isinf(result.degrees_of_freedom):
        return float(scipy_stats.norm.ppf(level))
    return float(scipy_stats.t.ppf(level, result.degrees_of_freedom))


def _excludes_zero(interval: tuple[float, float]) -> bool:
    low, high = interval
    return low > 0.0 or high < 0.0


def check_agreement(result: ComparisonResult) -> None:
    if result.status not in (Status.OK, Status.ZERO_BASELINE):
        assert not result.significant
        return
    assert result.statistic == result.absolute_lift / result.standard_error
    assert result.significant == (result.p_value < result.alpha)
    critical = _critical(result)
    # The knife edge, where the last digits of the p-value and of a bound decide.
    assume(abs(abs(result.statistic) - critical) > 1e-9 * max(critical, 1.0))
    assert _excludes_zero(result.absolute_ci) == result.significant, result
    low, high = result.absolute_ci
    assert low <= result.absolute_lift <= high
    one_sided = {"greater": (False, True), "less": (True, False)}.get(result.alternative)
    if one_sided is not None:
        assert (low == -math.inf, high == math.inf) == one_sided
    if result.status is Status.OK:
        relative_low, relative_high = result.relative_ci
        assert relative_low <= result.relative_lift <= relative_high
        if (relative_low, relative_high) != (-math.inf, math.inf):
            assert _excludes_zero(result.relative_ci) == result.significant, result


@settings(max_examples=400, deadline=None)
@given(proportions(), proportions(), ALTERNATIVES, ALPHAS)
def test_proportions(control: Moments, treatment: Moments, alternative: str, alpha: float) -> None:
    check_agreement(two_proportion_z_test(control, treatment, alternative=alternative, alpha=alpha))


@settings(max_examples=300, deadline=None)
@given(VALUES, VALUES, ALTERNATIVES, ALPHAS)
def test_welch(
    control: list[float], treatment: list[float], alternative: str, alpha: float
) -> None:
    check_agreement(
        welch_t_test(
            Moments.from_values(control),
            Moments.from_values(treatment),
            alternative=alternative,
            alpha=alpha,
        )
    )


def _ratio(pairs: list[tuple[int, int, int, int]]) -> RatioCovariateMoments:
    rows = np.array(pairs or [(0, 0, 0, 0)], dtype=float).reshape(-1, 4)[: len(pairs)]
    correct = np.minimum(rows[:, 0], rows[:, 1])
    labelled = np.maximum(rows[:, 0], rows[:, 1])
    before_correct = np.minimum(rows[:, 2], rows[:, 3])
    before_labelled = np.maximum(rows[:, 2], rows[:, 3])
    return RatioCovariateMoments.from_values(correct, labelled, before_correct, before_labelled)


@settings(max_examples=300, deadline=None)
@given(st.lists(COUNTS, max_size=30), st.lists(COUNTS, max_size=30), ALTERNATIVES, ALPHAS)
def test_ratio_and_ratio_cuped(
    control: list[tuple[int, int, int, int]],
    treatment: list[tuple[int, int, int, int]],
    alternative: str,
    alpha: float,
) -> None:
    first, second = _ratio(control), _ratio(treatment)
    options = {"alternative": alternative, "alpha": alpha}
    plain: RatioMoments = first.metric
    check_agreement(ratio_test(plain, second.metric, **options))  # type: ignore[arg-type]
    check_agreement(ratio_cuped_test(first, second, **options))  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(VALUES.map(tuple), VALUES.map(tuple)), min_size=1, max_size=1),
    ALTERNATIVES,
    ALPHAS,
    st.floats(min_value=-1.0, max_value=1.0),
)
def test_cuped(
    arms: list[tuple[tuple[float, ...], tuple[float, ...]]],
    alternative: str,
    alpha: float,
    noise: float,
) -> None:
    control, treatment = arms[0]

    # Covariates correlated with the metric (plus a deterministic wobble), as CUPED expects.
    def with_covariate(values: tuple[float, ...]) -> CovariateMoments:
        metric = np.array(values)
        covariate = 0.8 * metric + noise * np.cos(np.arange(metric.size))
        return CovariateMoments.from_values(metric, covariate)

    check_agreement(
        cuped_test(
            with_covariate(control), with_covariate(treatment), alternative=alternative, alpha=alpha
        )
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=1e3), min_size=5, max_size=60),
    st.lists(st.floats(min_value=0.0, max_value=1e3), min_size=5, max_size=60),
    ALTERNATIVES,
    ALPHAS,
)
def test_quantiles(
    control: list[float], treatment: list[float], alternative: str, alpha: float
) -> None:
    check_agreement(
        compare_quantiles(control, treatment, 0.5, alternative=alternative, alpha=alpha)
    )
