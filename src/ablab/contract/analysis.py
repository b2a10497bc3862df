"""Wire schemas of an analysis report: per-variant figures, comparisons, SRM, recommendation.

The field names follow the results contract of DESIGN.md, so ``ablab analyze`` on a file and
the results of a live experiment read alike.
"""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import Field

from ablab.contract.base import Schema

__all__ = [
    "AllocationPeriodPublic",
    "AnalysisReport",
    "ComparisonPublic",
    "CupedPublic",
    "DecisionPublic",
    "DurationPublic",
    "MinSamplesRule",
    "NoveltyPublic",
    "SequentialPublic",
    "SrmPeriodPublic",
    "SrmPublic",
    "VariantFigures",
    "format_probability",
]

Interval = tuple[float | None, float | None]

# A posterior probability closer to 0 or 1 than this is shown as a bound: a model's
# "100.0%" claims a certainty that no finite sample gives.
_PROBABILITY_SHOWN_TO = 0.001


def format_probability(value: float | None) -> str:
    """A probability for people, as the CLI and the console show it: ``"96.1%"``, and
    ``">99.9%"`` or ``"<0.1%"`` beyond one decimal of a percent, never ``"100.0%"`` or
    ``"0.0%"``; ``"-"`` when there is none.

    Examples:
        >>> [format_probability(p) for p in (0.9614, 0.99995, 1.0, 0.0004, 0.0, None)]
        ['96.1%', '>99.9%', '>99.9%', '<0.1%', '<0.1%', '-']
    """
    if value is None or math.isnan(value):
        return "-"
    if value > 1.0 - _PROBABILITY_SHOWN_TO:
        return ">99.9%"
    if value < _PROBABILITY_SHOWN_TO:
        return "<0.1%"
    # Between the bounds one decimal never rounds to 100.0% or 0.0%.
    return f"{value:.1%}"


class VariantFigures(Schema):
    name: str
    is_control: bool
    units: int
    mean: float | None
    ci: Interval
    weight: float | None = Field(description="configured share of units, 0..1, if known")


class CupedPublic(Schema):
    covariate: str
    theta: float | None
    variance_reduction: float | None


class SequentialPublic(Schema):
    """How a comparison's always-valid test is built, and how many looks it has counted.

    The mixing variance ``tau**2 = rho**2 * s**2`` is fixed before the data by
    ``tuning_units`` (``rho``); only the per-unit variance ``s**2`` is estimated, so
    ``mixing_variance`` (this look's) moves a little as it settles. ``level`` is the level of
    ``confidence_sequence`` and of the test: the comparison's alpha divided among its family
    (Bonferroni, which is what keeps the adjusted always-valid p-value and the interval in
    agreement). The always-valid p-value is the minimum, and the confidence sequence the
    intersection, over ``looks`` looks.
    """

    tuning_units: int
    rho: float
    mixing_variance: float | None
    level: float
    alternative: str
    null_difference: float
    looks: int


class NoveltyPublic(Schema):
    """Whether the lift trends over the experiment's days (``stats.lift_trend``).

    Each point is the treatment-minus-control difference in the days of one window alone
    (one day, or several when the experiment is long); the slope is per day, the lifts are
    absolute differences of the metric. ``pattern`` is ``novelty`` (the lift shrinks: the
    long-run effect is likely smaller than the average reported), ``primacy`` (it grows:
    likely larger) or ``none``; ``meaning`` says so in words.
    """

    status: str = Field(description="ok, too_few_days (3 are needed) or zero_variance")
    pattern: str
    significant: bool
    days: int = Field(description="points in the fit (days or windows with a lift)")
    window_days: float = Field(description="days per point")
    slope_per_day: float | None
    p_value: float | None
    first_lift: float | None = Field(description="fitted lift on the first day")
    last_lift: float | None = Field(description="fitted lift on the last day")
    average_lift: float | None = Field(description="inverse-variance weighted daily mean")
    meaning: str


class ComparisonPublic(Schema):
    """One treatment against the control on one metric.

    ``p_value`` is the fixed-horizon test's; ``adjusted_p_value`` corrects it for multiplicity
    as ``correction`` says; ``always_valid_p_value`` and ``msprt_log_lr`` come from the mSPRT and
    stay valid however often the results are looked at. ``significant`` follows the analysis
    method chosen.
    """

    variant: str
    metric: str
    method: str
    status: str
    control_value: float | None
    treatment_value: float | None
    absolute_lift: float | None
    absolute_ci: Interval
    relative_lift: float | None
    relative_ci: Interval
    p_value: float | None
    adjusted_p_value: float | None
    always_valid_p_value: float | None
    msprt_log_lr: float | None
    confidence_sequence: Interval
    prob_beat_control: float | None
    expected_loss: float | None
    significant: bool
    cuped: CupedPublic | None
    sequential: SequentialPublic | None = Field(
        default=None, description="the always-valid test's design and the looks it counted"
    )
    correction: str = Field(
        default="holm",
        description="how adjusted_p_value was corrected: holm (primary metric, across "
        "treatments) or benjamini_hochberg (secondary metrics, across treatments and metrics)",
    )
    novelty: NoveltyPublic | None = Field(
        default=None,
        description="primary metric only: a trend in the daily lift (novelty or primacy)",
    )
    prior: str | None = Field(
        default=None,
        description="the Bayesian prior behind prob_beat_control, credible_interval and the "
        "expected losses, in words",
    )
    credible_interval: Interval = Field(
        default=(None, None),
        description="equal-tailed credible interval of the relative lift at 1 - 2 alpha: it "
        "excludes 0 exactly when prob_beat_control is above 1 - alpha or below alpha",
    )
    relative_expected_loss: float | None = Field(
        default=None,
        description="expected loss of shipping the treatment as a fraction of the control",
    )


class AllocationPeriodPublic(Schema):
    """The split in force from ``started_at`` until the next period: weights in percent of
    the experiment's traffic by variant, coverage in percent of eligible units."""

    started_at: datetime
    weights: dict[str, float]
    coverage: float
    reason: str = Field(description="launch, split (a person changed it) or bandit")
    actor: str


class SrmPeriodPublic(AllocationPeriodPublic):
    """The units first seen in one allocation period against that period's weights."""

    observed: dict[str, int]
    expected: dict[str, float]
    p_value: float | None


class SrmPublic(Schema):
    p_value: float | None
    mismatch: bool
    observed: dict[str, int]
    expected: dict[str, float]
    threshold: float
    checked: bool = Field(
        default=True,
        description="false when the configured weights are unknown: no check was run "
        "(ablab never assumes an equal split)",
    )
    note: str = Field(default="", description="why the check did not run, when it did not")
    periods: list[SrmPeriodPublic] = Field(
        default_factory=list,
        description="the same test on each allocation period alone; p_value above tests "
        "them all at once (empty where there is no stored history, as in `ablab analyze`)",
    )


class DecisionPublic(Schema):
    """``action`` is one of promote, keep_control, continue, rollback, or none when the
    experiment's status allows none of them (a draft, or an experiment that has ended);
    ``decision`` says how (full_rollout, gradual_rollout, keep_control, extend_test,
    rollback, stop_for_futility, shadow_passed, shadow_failed, not_launched, ended)."""

    action: str
    decision: str
    variant: str | None
    reason: str


class MinSamplesRule(Schema):
    """Which count the minimum-samples rule reads, and whether every variant reached it.

    ``counts`` names the per-variant field it compares with ``min_samples``: the units that
    carry the primary metric (``units_with_labels`` for accuracy, ``units_with_predictions``
    for latency and error rate, ``units_exposed`` for metrics from events), or
    ``mirrored_predictions`` (each shadow report's ``pairs``) in shadow mode.
    """

    min_samples: int
    counts: str
    reached: bool
    statement: str


class DurationPublic(Schema):
    """Where the test stands in time: days run, the maximum duration, and the days left.

    ``planned_units`` is each variant's planned sample size for the primary metric's test
    (the MDE at the experiment's power and alpha; empty without an MDE), in the units that
    test counts (``units_in_test``); ``days_left`` extrapolates the rate observed so far
    (``units_per_day``) to the planned sample size, None when it cannot be estimated.
    """

    days_run: float | None
    max_duration_days: int | None
    max_duration_reached: bool
    planned_units: dict[str, int]
    units_in_test: dict[str, int]
    units_per_day: dict[str, float]
    days_left: float | None
    basis: str


class AnalysisReport(Schema):
    metric: str
    metric_kind: str
    analysis_method: str
    alternative: str = Field(
        default="two-sided",
        description="the fixed-horizon test's alternative: two-sided, greater (treatment "
        "above control) or less",
    )
    alpha: float
    rows: int
    units: int
    excluded_units: int = Field(description="units seen in more than one variant, left out")
    variants: list[VariantFigures]
    comparisons: list[ComparisonPublic]
    srm: SrmPublic
    recommendation: DecisionPublic
    decisions: list[DecisionPublic]
