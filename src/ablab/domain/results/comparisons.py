"""One treatment against the control on one metric, as every report shows it."""

from __future__ import annotations

from dataclasses import dataclass

from ablab.stats.novelty import TrendPattern

__all__ = ["Comparison", "Cuped", "Interval", "NoveltyCheck", "SequentialSummary"]

Interval = tuple[float | None, float | None]
"""A confidence, credible or always-valid interval; ``None`` ends when it is not known."""


@dataclass(frozen=True, slots=True)
class Cuped:
    """The CUPED adjustment behind a comparison (Deng et al. 2013): the pre-period
    ``covariate``, its coefficient ``theta`` and the share of variance it removed."""

    covariate: str
    theta: float | None
    variance_reduction: float | None


@dataclass(frozen=True, slots=True)
class SequentialSummary:
    """How a comparison's always-valid test is built, and how many looks it has counted.

    The mixing variance ``tau**2 = rho**2 * s**2`` is fixed before the data by
    ``tuning_units`` (``rho``); ``level`` is the comparison's alpha divided among its family
    (Bonferroni); the always-valid p-value is the minimum, and the confidence sequence the
    intersection, over ``looks`` looks.
    """

    tuning_units: int
    rho: float
    mixing_variance: float | None
    level: float
    alternative: str
    null_difference: float
    looks: int


@dataclass(frozen=True, slots=True)
class NoveltyCheck:
    """Whether the lift trends over the experiment's days (``stats.lift_trend``).

    ``status`` is ok, too_few_days or zero_variance; ``days`` the points in the fit, each
    ``window_days`` long; ``meaning`` says what ``pattern`` implies, in words.
    """

    status: str
    pattern: TrendPattern
    significant: bool
    days: int
    window_days: float
    slope_per_day: float | None
    p_value: float | None
    first_lift: float | None
    last_lift: float | None
    average_lift: float | None
    meaning: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """One treatment against the control on one metric.

    ``p_value`` is the fixed-horizon test's, ``adjusted_p_value`` corrected for multiplicity
    as ``correction`` says (holm or benjamini_hochberg); ``always_valid_p_value`` and
    ``msprt_log_lr`` come from the mSPRT. ``significant`` follows the analysis method.
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
    cuped: Cuped | None
    sequential: SequentialSummary | None = None
    correction: str = "holm"
    novelty: NoveltyCheck | None = None
    prior: str | None = None
    credible_interval: Interval = (None, None)
    relative_expected_loss: float | None = None
