"""The prior grammar, and properties of the Bayesian results under any prior (Hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy import stats as scipy_stats

from ablab.errors import ValidationError
from ablab.stats import (
    BetaPrior,
    Moments,
    NormalPrior,
    Prior,
    Status,
    bayesian_for_comparison,
    bayesian_from_comparison,
    bayesian_means,
    bayesian_proportions,
    parse_prior,
    two_proportion_z_test,
    welch_t_test,
)
from ablab.stats.priors import DEFAULT_PRIOR, FLAT, JEFFREYS, UNIFORM


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        (None, Prior(JEFFREYS, FLAT)),
        ("jeffreys", Prior(JEFFREYS, FLAT)),
        ("uniform", Prior(UNIFORM, FLAT)),
        ("beta:2,8", Prior(BetaPrior(2.0, 8.0), FLAT)),
        ("beta:0.5,1e2", Prior(BetaPrior(0.5, 100.0), FLAT)),
        ("normal:0,0.09", Prior(JEFFREYS, NormalPrior(0.0, 0.09, proper=True))),
        ("normal:-0.1,.04", Prior(JEFFREYS, NormalPrior(-0.1, 0.04, proper=True))),
        ("flat", Prior(JEFFREYS, FLAT)),
        (["uniform", "normal:0,0.09"], Prior(UNIFORM, NormalPrior(0.0, 0.09, proper=True))),
        ("uniform normal:0,0.09", Prior(UNIFORM, NormalPrior(0.0, 0.09, proper=True))),
    ],
)
def test_grammar_accepts(terms: str | list[str] | None, expected: Prior) -> None:
    assert parse_prior(terms) == expected
    assert parse_prior(expected.spec) == expected


@pytest.mark.parametrize(
    "terms",
    [
        "",
        "Jeffreys",
        "beta",
        "beta:",
        "beta:1",
        "beta:1,2,3",
        "beta:0,1",
        "beta:-1,1",
        "beta:1, 2",
        "beta:nan,1",
        "beta:inf,1",
        "beta:1e999,1",
        "normal:0,0",
        "normal:0,-1",
        "normal:x,1",
        "gamma:1,1",
        "jeffreys uniform",
        "flat normal:0,1",
        ["jeffreys", ""],
    ],
)
def test_grammar_refuses_naming_the_field(terms: str | list[str]) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_prior(terms)
    assert refused.value.details["field"] == "prior"
    assert "prior" in refused.value.message


def test_defaults_are_jeffreys_and_flat() -> None:
    assert DEFAULT_PRIOR.proportions == BetaPrior(0.5, 0.5, "jeffreys")
    assert not DEFAULT_PRIOR.effect.proper
    # GrowthBook keeps N(0, 0.3**2) as the prior it would use when made proper.
    assert (DEFAULT_PRIOR.effect.mean, DEFAULT_PRIOR.effect.variance) == (0.0, 0.09)
    assert DEFAULT_PRIOR.spec == "jeffreys flat"


beta_priors = st.builds(
    BetaPrior,
    st.floats(min_value=0.2, max_value=20.0),
    st.floats(min_value=0.2, max_value=20.0),
)


@st.composite
def proportion(draw: st.DrawFn) -> Moments:
    units = draw(st.integers(min_value=1, max_value=200_000))
    return Moments.from_successes(draw(st.integers(min_value=0, max_value=units)), units)


@settings(max_examples=150, deadline=None)
@given(proportion(), proportion(), beta_priors, st.floats(min_value=0.01, max_value=0.4))
def test_beta_results_are_coherent(
    control: Moments, treatment: Moments, prior: BetaPrior, alpha: float
) -> None:
    result = bayesian_proportions(control, treatment, prior=prior, alpha=alpha)
    assert result.status is Status.OK
    chance = result.probability_to_beat_control
    assert 0.0 <= chance <= 1.0
    low, high = result.relative_credible_interval
    assert -1.0 <= low <= result.relative_lift <= high
    # One verdict: the interval excludes 0 exactly when the chance to win is that extreme
    # (away from the knife edge, where the quadrature's last digits decide).
    if abs(chance - (1 - alpha / 2)) > 1e-6:
        assert (low > 0) == (chance > 1 - alpha / 2)
    if abs(chance - alpha / 2) > 1e-6:
        assert (high < 0) == (chance < alpha / 2)
    assert result.expected_loss_treatment >= 0.0
    assert result.expected_loss_control >= 0.0
    difference = result.treatment_value - result.control_value
    # Quadrature holds ~1e-9 absolute for any prior (1e-11 for whole and half parameters).
    assert result.expected_loss_control - result.expected_loss_treatment == pytest.approx(
        difference, abs=1e-8
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(min_value=-100.0, max_value=100.0), min_size=2, max_size=30),
    st.lists(st.floats(min_value=-100.0, max_value=100.0), min_size=2, max_size=30),
    st.booleans(),
)
def test_effect_results_are_coherent(
    control: list[float], treatment: list[float], proper: bool
) -> None:
    prior = NormalPrior(0.0, 0.09, proper=proper)
    result = bayesian_means(
        Moments.from_values(control), Moments.from_values(treatment), prior=prior
    )
    if result.status is not Status.OK:
        return
    chance = result.probability_to_beat_control
    assert 0.0 <= chance <= 1.0
    low, high = result.relative_credible_interval
    assert low <= result.relative_lift <= high
    if math.isfinite(low) and abs(chance - 0.975) > 1e-9:
        assert (low > 0) == (chance > 0.975)


@pytest.mark.parametrize("alpha", [0.05, 0.1])
@pytest.mark.parametrize("treatment_successes", [100, 118, 121, 124, 130])
def test_the_view_of_a_comparison_agrees_with_the_bayesian_verdict(
    treatment_successes: int, alpha: float
) -> None:
    control, treatment = (
        Moments.from_successes(100, 1_000),
        Moments.from_successes(treatment_successes, 1_000),
    )
    comparison = two_proportion_z_test(control, treatment, alpha=alpha)
    view = bayesian_for_comparison(comparison, parse_prior("uniform"))
    direct = bayesian_proportions(control, treatment, prior=UNIFORM, alpha=2 * alpha)
    assert view == direct
    # The verdict's rule: chance above 1 - alpha (or below alpha); the interval at 1 - 2 alpha
    # excludes 0 exactly then.
    chance = view.probability_to_beat_control
    low, high = view.relative_credible_interval
    assert (low > 0 or high < 0) == (chance > 1 - alpha or chance < alpha)


def test_the_view_of_other_comparisons_is_the_effect_model() -> None:
    control = Moments(n=400, sum=4_000.0, sum_sq=440_000.0)
    treatment = Moments(n=500, sum=5_100.0, sum_sq=570_000.0)
    comparison = welch_t_test(control, treatment)
    prior = parse_prior("normal:0,0.01")
    view = bayesian_for_comparison(comparison, prior)
    assert view == bayesian_from_comparison(comparison, prior=prior.effect, alpha=0.1)
    assert view.method == "normal"


@pytest.mark.parametrize(("control_beta", "successes", "units"), [(3.0, 82, 83), (2.0, 92, 117)])
def test_lift_quantiles_of_a_control_piled_at_zero_match_scipy_quadrature(
    control_beta: float, successes: int, units: int
) -> None:
    """0 successes under a ``Beta(0.203, b)`` prior: the lift's upper tail reaches 1e10.

    Each bound of the credible interval is where ``P(T <= (1 + lift) C)``, integrated by
    scipy's adaptive quadrature, equals its tail probability (it used to stop at 343 for
    a true 0.61, above the median).
    """
    prior, alpha = BetaPrior(0.203125, control_beta - 1.0), 0.015625
    result = bayesian_proportions(
        Moments.from_successes(0, 1),
        Moments.from_successes(successes, units),
        prior=prior,
        alpha=alpha,
    )
    control = scipy_stats.beta(0.203125, control_beta)
    treatment = scipy_stats.beta(0.203125 + successes, control_beta - 1.0 + units - successes)
    low, high = result.relative_credible_interval
    assert -1.0 < low < result.relative_lift < high
    for bound, tail in ((low, alpha / 2), (result.relative_lift, 0.5), (high, 1 - alpha / 2)):
        factor = 1.0 + bound
        expected, _ = integrate.quad(
            lambda t, k=factor: treatment.pdf(t) * control.sf(t / k), 0.0, 1.0, limit=500
        )
        assert expected == pytest.approx(tail, rel=1e-9)
