"""ablab.stats: pure statistics on sufficient statistics.

Methods take additive sums (:class:`Moments`, :class:`RatioMoments`,
:class:`CovariateMoments`, :class:`RatioCovariateMoments`) and return frozen result records
whose ``status`` reports data problems (an empty arm, zero variance) instead of raising.
Misuse (alpha outside (0, 1), a negative count) raises :class:`ablab.errors.ValidationError`.
This package imports only numpy, scipy, the standard library and :mod:`ablab.errors`.

Examples:
    >>> from ablab.stats import Moments, msprt, two_proportion_z_test
    >>> control = Moments.from_successes(480, 4000)
    >>> treatment = Moments.from_successes(560, 4000)
    >>> fixed = two_proportion_z_test(control, treatment)
    >>> fixed.significant, round(fixed.relative_lift, 3)
    (True, 0.167)
"""

from ablab.stats._validation import Alternative
from ablab.stats.bandit import thompson_weights
from ablab.stats.bayesian import (
    bayesian_for_comparison,
    bayesian_from_comparison,
    bayesian_means,
    bayesian_proportions,
)
from ablab.stats.best_arm import probability_best_means, probability_best_proportions
from ablab.stats.cuped import cuped_test
from ablab.stats.intervals import mean_interval, ratio_interval
from ablab.stats.lift import RelativeLift, relative_lift
from ablab.stats.means import welch_t_test
from ablab.stats.moments import CovariateMoments, Moments, RatioMoments
from ablab.stats.multiplicity import MultiplicityMethod, adjust_p_values
from ablab.stats.novelty import LiftTrend, TrendPattern, lift_trend
from ablab.stats.paired import McNemarScoreResult, mcnemar_score_test, mcnemar_test
from ablab.stats.power import (
    MdeType,
    power_means,
    power_proportions,
    sample_size_means,
    sample_size_proportions,
)
from ablab.stats.priors import BetaPrior, NormalPrior, Prior, parse_prior
from ablab.stats.proportions import two_proportion_z_test
from ablab.stats.quantiles import compare_quantiles, quantile_interval
from ablab.stats.ratio import ratio_test
from ablab.stats.ratio_covariate_moments import RatioCovariateMoments
from ablab.stats.ratio_cuped import ratio_cuped_test
from ablab.stats.results import (
    BayesianResult,
    BestArmResult,
    ComparisonResult,
    McNemarResult,
    QuantileEstimate,
    SampleSize,
    SequentialPowerCost,
    SequentialResult,
    SrmResult,
    Status,
)
from ablab.stats.sequential import always_valid_p_values, msprt, msprt_from_difference
from ablab.stats.sequential_design import (
    mixing_variance_for_horizon,
    mixing_variance_for_tuning_units,
    mixing_variance_from_mde,
    rate_test_plan,
    sequential_power_cost,
    sequential_rho,
    truncation_optimal_mixing_variance,
)
from ablab.stats.srm import sample_ratio_mismatch, sample_ratio_mismatch_over_periods
from ablab.stats.srm_exact import exact_sample_ratio_mismatch
from ablab.stats.summary import comparison_summary

__all__ = [
    "Alternative",
    "BayesianResult",
    "BestArmResult",
    "BetaPrior",
    "ComparisonResult",
    "CovariateMoments",
    "LiftTrend",
    "McNemarResult",
    "McNemarScoreResult",
    "MdeType",
    "Moments",
    "MultiplicityMethod",
    "NormalPrior",
    "Prior",
    "QuantileEstimate",
    "RatioCovariateMoments",
    "RatioMoments",
    "RelativeLift",
    "SampleSize",
    "SequentialPowerCost",
    "SequentialResult",
    "SrmResult",
    "Status",
    "TrendPattern",
    "adjust_p_values",
    "always_valid_p_values",
    "bayesian_for_comparison",
    "bayesian_from_comparison",
    "bayesian_means",
    "bayesian_proportions",
    "compare_quantiles",
    "comparison_summary",
    "cuped_test",
    "exact_sample_ratio_mismatch",
    "lift_trend",
    "mcnemar_score_test",
    "mcnemar_test",
    "mean_interval",
    "mixing_variance_for_horizon",
    "mixing_variance_for_tuning_units",
    "mixing_variance_from_mde",
    "msprt",
    "msprt_from_difference",
    "parse_prior",
    "power_means",
    "power_proportions",
    "probability_best_means",
    "probability_best_proportions",
    "quantile_interval",
    "rate_test_plan",
    "ratio_cuped_test",
    "ratio_interval",
    "ratio_test",
    "relative_lift",
    "sample_ratio_mismatch",
    "sample_ratio_mismatch_over_periods",
    "sample_size_means",
    "sample_size_proportions",
    "sequential_power_cost",
    "sequential_rho",
    "thompson_weights",
    "truncation_optimal_mixing_variance",
    "two_proportion_z_test",
    "welch_t_test",
]
