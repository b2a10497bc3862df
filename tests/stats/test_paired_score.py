"""McNemar's score test and Tango's interval: against statsmodels and scipy, against the
published vectors of Fagerland, Laake and Veierød's book (Chapter 8, the paired 2x2 table),
against an independently maximised likelihood, and the agreement of verdict and interval."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from scipy.optimize import minimize_scalar
from statsmodels.stats.contingency_tables import mcnemar

from ablab.errors import ValidationError
from ablab.stats import Status, mcnemar_score_test, mcnemar_test

# (b, c, pairs, printed interval, printed p-value): Cavo et al. (2012), complete response
# before and after consolidation therapy, table [[59, 6], [16, 80]], treatment = "before"
# (Tango's delta = p1+ - p+1 = (6 - 16) / 161); and the two zero-cell tables of 3 pairs.
# Fagerland, M. W., Lydersen, S., Laake, P. (2017). Statistical Analysis of Contingency
# Tables. Chapman & Hall/CRC, Chapter 8; the values as its companion package prints them.
PUBLISHED = [
    pytest.param(16, 6, 161, (-0.1240, -0.0054), 0.033006, id="cavo-2012"),
    pytest.param(0, 3, 3, (-0.1230, 1.0), None, id="only-treatment-passed"),
    pytest.param(3, 0, 3, (-1.0, 0.1230), None, id="only-control-passed"),
]


@pytest.mark.parametrize(("b", "c", "pairs", "interval", "p_value"), PUBLISHED)
def test_tango_interval_matches_the_published_values(
    b: int, c: int, pairs: int, interval: tuple[float, float], p_value: float | None
) -> None:
    result = mcnemar_score_test(b, c, pairs)
    assert result.difference_ci == pytest.approx(interval, abs=5e-5)
    if p_value is not None:
        assert result.p_value == pytest.approx(p_value, abs=5e-7)


CASES = [
    pytest.param(4, 15, 200, id="treatment-better"),
    pytest.param(15, 4, 200, id="control-better"),
    pytest.param(10, 10, 100, id="balanced"),
    pytest.param(0, 7, 40, id="one-sided-discordance"),
    pytest.param(5, 0, 10, id="the-llm-case-of-issue-14"),
    pytest.param(150, 86, 1_600, id="agresti-approval"),
    pytest.param(1_200, 1_310, 100_000, id="large"),
]


@pytest.mark.parametrize(("b", "c", "pairs"), CASES)
def test_the_p_value_is_mcnemars_without_continuity_correction(b: int, c: int, pairs: int) -> None:
    both = (pairs - b - c) // 2
    table = [[both, b], [c, pairs - b - c - both]]  # rows: control; columns: treatment
    expected = mcnemar(table, exact=False, correction=False)
    result = mcnemar_score_test(b, c, pairs)
    assert result.statistic**2 == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-10)
    assert result.p_value == pytest.approx(scipy_stats.chi2.sf(result.statistic**2, 1), rel=1e-10)
    assert result.difference == pytest.approx((c - b) / pairs)
    greater = mcnemar_score_test(b, c, pairs, alternative="greater")
    less = mcnemar_score_test(b, c, pairs, alternative="less")
    assert greater.p_value == pytest.approx(scipy_stats.norm.sf(result.statistic), rel=1e-10)
    assert less.p_value == pytest.approx(scipy_stats.norm.cdf(result.statistic), rel=1e-10)


def _score_by_likelihood(b: int, c: int, pairs: int, difference: float) -> float:
    """Tango's statistic at ``difference``, its nuisance parameter (the chance that only
    control passes) found by maximising the multinomial likelihood numerically."""
    rest = pairs - b - c
    low, high = max(0.0, -difference), (1.0 - difference) / 2.0

    def negative_log_likelihood(only_control: float) -> float:
        cells = ((b, only_control), (c, only_control + difference),
                 (rest, 1.0 - 2.0 * only_control - difference))  # fmt: skip
        return -sum(count * math.log(p) for count, p in cells if count)

    found = minimize_scalar(
        negative_log_likelihood,
        bounds=(low + 1e-12, high - 1e-12),
        method="bounded",
        options={"xatol": 1e-13},
    )
    variance = pairs * (2.0 * found.x + difference * (1.0 - difference))
    return (c - b - pairs * difference) / math.sqrt(variance)


@pytest.mark.parametrize(("b", "c", "pairs"), [(16, 6, 161), (4, 15, 200), (5, 0, 10), (3, 9, 30)])
def test_the_bounds_are_where_the_likelihood_score_reaches_the_critical_value(
    b: int, c: int, pairs: int
) -> None:
    critical = scipy_stats.norm.ppf(0.975)
    lower, upper = mcnemar_score_test(b, c, pairs).difference_ci
    assert _score_by_likelihood(b, c, pairs, lower) == pytest.approx(critical, abs=1e-5)
    assert _score_by_likelihood(b, c, pairs, upper) == pytest.approx(-critical, abs=1e-5)


def test_the_contradiction_of_issue_14_is_gone() -> None:
    # 10 tasks, 5 lost by the variant, none won: the exact test's p beside the Agresti-Min
    # interval, then the score test's p beside its own interval.
    exact = mcnemar_test(5, 0, 10)
    assert exact.p_value == pytest.approx(0.0625)
    assert not exact.significant
    assert exact.difference_ci[1] < 0  # the old pair: "not significant" beside [-74%, -9%]
    score = mcnemar_score_test(5, 0, 10)
    assert score.significant
    assert score.difference_ci[1] < 0
    strict = mcnemar_score_test(5, 0, 10, alpha=0.05 / 3)  # Bonferroni over three variants
    assert not strict.significant
    assert strict.difference_ci[0] < 0 < strict.difference_ci[1]


def test_no_pairs_and_no_discordant_pairs() -> None:
    empty = mcnemar_score_test(0, 0, 0)
    assert empty.status is Status.TOO_FEW_UNITS
    assert math.isnan(empty.p_value)
    assert not empty.significant
    agreed = mcnemar_score_test(0, 0, 50)
    assert (agreed.p_value, agreed.statistic, agreed.significant) == (1.0, 0.0, False)
    # Tango's bound with no discordant pair: |d| = z^2 / (N + z^2).
    z = scipy_stats.norm.ppf(0.975)
    assert agreed.difference_ci == pytest.approx((-(z**2) / (50 + z**2), z**2 / (50 + z**2)))


@pytest.mark.parametrize(
    ("b", "c", "pairs", "message"),
    [(-1, 0, 5, "only_control_passed"), (0, 2.5, 5, "only_treatment_passed"), (4, 4, 7, "exceed")],
)
def test_misuse_raises(b: int, c: float, pairs: int, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        mcnemar_score_test(b, c, pairs)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 300),
    st.integers(0, 300),
    st.integers(0, 1_000),
    st.sampled_from(["two-sided", "greater", "less"]),
    st.sampled_from([0.001, 0.01, 0.05 / 3, 0.05, 0.1, 0.2]),
)
def test_the_verdict_and_the_interval_agree(
    b: int, c: int, concordant: int, alternative: str, alpha: float
) -> None:
    pairs = b + c + concordant
    if pairs == 0:
        return
    result = mcnemar_score_test(b, c, pairs, alpha=alpha, alternative=alternative)
    lower, upper = result.difference_ci
    assert 0.0 <= result.p_value <= 1.0
    assert -1.0 <= lower <= result.difference <= upper <= 1.0
    assert result.significant == (result.p_value < alpha)
    assert result.significant == (not lower <= 0.0 <= upper)
    mirrored = mcnemar_score_test(c, b, pairs, alpha=alpha)
    two_sided = mcnemar_score_test(b, c, pairs, alpha=alpha)
    assert mirrored.difference_ci == pytest.approx(
        (-two_sided.difference_ci[1], -two_sided.difference_ci[0]), abs=1e-9
    )


@pytest.mark.slow
def test_coverage_and_size_on_task_sets_of_llm_experiments() -> None:
    """Tango's interval covers the true difference close to 95% at 20-300 pairs, also when
    one kind of discordance dominates (where the conditional exact interval scaled by the
    discordant share covered 35-78%), and the test's size stays at or below alpha."""
    rng = np.random.default_rng(1414)
    simulations = 3_000
    coverages = []
    for pairs in (20, 50, 100, 300):
        for only_control, only_treatment in ((0.05, 0.15), (0.02, 0.2), (0.0, 0.3), (0.1, 0.5)):
            truth = only_treatment - only_control
            tables = rng.multinomial(
                pairs, [only_control, only_treatment, 1 - only_control - only_treatment],
                size=simulations,
            )  # fmt: skip
            hits = 0
            for b, c, _ in tables:
                lower, upper = mcnemar_score_test(int(b), int(c), pairs).difference_ci
                hits += lower <= truth <= upper
            coverages.append(hits / simulations)
    print(f"\nTango coverage: min {min(coverages):.3f}, mean {np.mean(coverages):.3f}")
    error = math.sqrt(0.95 * 0.05 / simulations)
    assert min(coverages) >= 0.95 - 0.015 - 3 * error
    assert abs(float(np.mean(coverages)) - 0.95) <= 0.02
    for pairs in (20, 100):
        null = rng.multinomial(pairs, [0.1, 0.1, 0.8], size=simulations)
        size = np.mean([mcnemar_score_test(int(b), int(c), pairs).significant for b, c, _ in null])
        print(f"score test size at {pairs} pairs: {size:.4f}")
        assert size <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / simulations)
