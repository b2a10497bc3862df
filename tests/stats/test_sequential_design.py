"""Choosing the mixing variance before the data: gbstats' rho(N*) and Johari et al.'s tau.

gbstats' published test outputs (``packages/stats/tests/frequentist/test_tests.py`` of
growthbook/growthbook) anchor the tuned confidence sequence; the truncation-optimal tau is
checked against a direct numerical minimisation of the run-length expansion it comes
from, and (slow) against simulated run lengths of the truncated test itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.stats import norm

from ablab.errors import ValidationError
from ablab.stats import (
    Moments,
    always_valid_p_values,
    mixing_variance_for_tuning_units,
    msprt,
    msprt_from_difference,
    sequential_rho,
    truncation_optimal_mixing_variance,
    welch_t_test,
)

# (estimate, standard error, units of both arms, N*, published interval) from gbstats'
# SequentialTwoSidedTTest tests: relative lift with N* = 1000, and a proportion with the
# default N* = 5000.
GBSTATS_CASES = [
    pytest.param(0.50336, 0.33341, 6_461, 1_000, (-0.55844, 1.56516), id="relative-N1000"),
    pytest.param(0.50386, 0.03386, 6_461, 5_000, (0.40098, 0.60675), id="proportion-N5000"),
]


@pytest.mark.parametrize(("estimate", "error", "units", "tuning", "published"), GBSTATS_CASES)
def test_tuned_confidence_sequence_reproduces_gbstats(
    estimate: float, error: float, units: int, tuning: int, published: tuple[float, float]
) -> None:
    tau_sq = mixing_variance_for_tuning_units(error**2 * units, tuning)
    result = msprt_from_difference(estimate, error**2, mixing_variance=tau_sq)
    # The inputs are gbstats' rounded outputs (5 decimals): agreement to 1e-4.
    assert result.confidence_sequence == pytest.approx(published, abs=1e-4)


def test_rho_is_the_waudby_smith_formula_and_one_sided_uses_twice_alpha() -> None:
    for alpha in (0.01, 0.05, 0.1):
        for tuning in (100, 5_000, 1e6):
            log_alpha = math.log(alpha)
            expected = math.sqrt((-2 * log_alpha + math.log(1 - 2 * log_alpha)) / tuning)
            assert sequential_rho(alpha, tuning) == pytest.approx(expected, rel=1e-12)
            for side in ("greater", "less"):
                assert sequential_rho(alpha, tuning, alternative=side) == pytest.approx(
                    sequential_rho(2 * alpha, tuning), rel=1e-12
                )


@pytest.mark.parametrize("tuning", [500, 5_000, 50_000])
def test_the_interval_is_nearly_narrowest_at_the_tuning_size(tuning: int) -> None:
    """Among all tuning sizes, the one equal to the sample gives (almost) the narrowest
    interval there: Waudby-Smith et al.'s rho approximates the exact minimiser."""
    unit_variance, units = 4.0, tuning
    variance = unit_variance / units

    def width(candidate: float) -> float:
        tau_sq = mixing_variance_for_tuning_units(unit_variance, candidate)
        low, high = msprt_from_difference(0.0, variance, mixing_variance=tau_sq).confidence_sequence
        return high - low

    best = optimize.minimize_scalar(
        lambda log_n: width(math.exp(log_n)), bounds=(0.0, 20.0), method="bounded"
    )
    assert math.exp(best.x) == pytest.approx(units, rel=0.1)
    assert width(units) <= width(math.exp(best.x)) * 1.001


def test_tau_stays_fixed_as_the_sample_grows() -> None:
    """The plug-in settles: tau**2 from a tuning size barely moves between looks, while the
    old choice from the current standard error shrank like 1/n."""
    rng = np.random.default_rng(3)
    values = rng.normal(10.0, 3.0, size=(2, 40_000))
    taus = []
    for n in (1_000, 10_000, 40_000):
        comparison = welch_t_test(
            Moments.from_values(values[0, :n]), Moments.from_values(values[1, :n])
        )
        unit_variance = comparison.standard_error**2 * (2 * n)
        taus.append(mixing_variance_for_tuning_units(unit_variance, 5_000))
    assert max(taus) / min(taus) < 1.1
    expected = sequential_rho(0.05, 5_000) ** 2 * 4 * 9.0  # rho**2 * 2 (s_c**2 + s_t**2)
    assert taus[-1] == pytest.approx(expected, rel=0.03)


def _run_length_objective(tau_sq: float, prior: float, truncation: float, alpha: float) -> float:
    """E[(v / theta**2) log tau**2 + v / tau**2 ; theta**2 > theta_M**2], v = 1, by quadrature."""
    theta_m = math.sqrt(2 * math.log(1 / alpha) / truncation)
    scale = math.sqrt(prior)

    def integrand(theta: float) -> float:
        return (math.log(tau_sq) / theta**2 + 1 / tau_sq) * norm.pdf(theta, scale=scale)

    value, _ = integrate.quad(integrand, theta_m, np.inf, limit=200)
    return 2 * value


@pytest.mark.parametrize(("prior", "truncation"), [(0.01, 1_000), (0.01, 50_000), (1e-4, 10_000)])
def test_truncation_optimal_tau_minimises_the_run_length_expansion(
    prior: float, truncation: float
) -> None:
    best = optimize.minimize_scalar(
        lambda log_tau: _run_length_objective(math.exp(log_tau), prior, truncation, 0.05),
        bounds=(-20.0, 5.0),
        method="bounded",
        options={"xatol": 1e-9},
    )
    found = truncation_optimal_mixing_variance(prior, truncation, alpha=0.05)
    assert found == pytest.approx(math.exp(best.x), rel=1e-4)


def test_truncation_optimal_tau_scales_with_the_unit_variance() -> None:
    one = truncation_optimal_mixing_variance(0.02, 4_000, unit_variance=1.0)
    # Doubling v halves the information per observation: the same as half the truncation.
    two = truncation_optimal_mixing_variance(0.02, 8_000, unit_variance=2.0)
    assert one == pytest.approx(two, rel=1e-12)
    assert truncation_optimal_mixing_variance(0.02, 1e9) < one  # long tests: smaller effects


@pytest.mark.slow
def test_truncation_optimal_tau_is_near_the_best_for_simulated_truncated_tests() -> None:
    """Run lengths of the truncated test (a look per pair, up to M) for effects drawn from
    the prior: the closed-form tau**2 is within a few percent of the best on a grid."""
    rng = np.random.default_rng(20)
    prior, truncation, alpha, experiments = 0.04, 800, 0.05, 3_000
    theta = rng.normal(0.0, math.sqrt(prior), size=(experiments, 1))
    steps = rng.normal(theta, 1.0, size=(experiments, truncation))
    looks = np.arange(1, truncation + 1)
    differences = np.cumsum(steps, axis=1) / looks
    variances = np.broadcast_to(1.0 / looks, differences.shape)

    def mean_run_length(tau_sq: float) -> float:
        p_values = always_valid_p_values(differences, variances, mixing_variance=tau_sq)
        rejected = p_values < alpha
        stop = np.where(rejected.any(axis=1), rejected.argmax(axis=1) + 1, truncation)
        return float(stop.mean())

    chosen = truncation_optimal_mixing_variance(prior, truncation, alpha=alpha)
    grid = chosen * np.geomspace(0.05, 20.0, 15)
    runs = [mean_run_length(t) for t in grid]
    assert mean_run_length(chosen) <= min(runs) * 1.05


@pytest.mark.parametrize(
    "call",
    [
        lambda: sequential_rho(0.05, 0),
        lambda: sequential_rho(1.5, 100),
        lambda: sequential_rho(0.6, 100, alternative="greater"),
        lambda: sequential_rho(0.05, 100, alternative="sideways"),  # type: ignore[arg-type]
        lambda: mixing_variance_for_tuning_units(0.0, 100),
        lambda: truncation_optimal_mixing_variance(0.0, 100),
        lambda: truncation_optimal_mixing_variance(0.01, -5),
        lambda: truncation_optimal_mixing_variance(0.01, 100, unit_variance=math.inf),
    ],
)
def test_misuse(call: object) -> None:
    with pytest.raises(ValidationError):
        call()  # type: ignore[operator]


def test_msprt_of_a_comparison_with_a_tuned_tau_equals_the_direct_look() -> None:
    comparison = welch_t_test(
        Moments.from_values([1.0, 2.0, 3.5, 2.2]), Moments.from_values([2.0, 3.1, 4.0, 3.3])
    )
    tau_sq = mixing_variance_for_tuning_units(comparison.standard_error**2 * 8, 100)
    direct = msprt_from_difference(
        comparison.absolute_lift, comparison.standard_error**2, mixing_variance=tau_sq
    )
    assert msprt(comparison, mixing_variance=tau_sq) == direct
