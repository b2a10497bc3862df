"""Wire schemas of an analysis report: per-variant figures, comparisons, SRM, recommendation.

The field names follow the results contract of DESIGN.md, so ``ablab analyze`` on a file and
the results of a live experiment read alike.
"""

from __future__ import annotations

from pydantic import Field

from ablab.contract.base import Schema

__all__ = [
    "AnalysisReport",
    "ComparisonPublic",
    "CupedPublic",
    "DecisionPublic",
    "SrmPublic",
    "VariantFigures",
]

Interval = tuple[float | None, float | None]


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
    correction: str = Field(
        default="holm",
        description="how adjusted_p_value was corrected: holm (primary metric, across "
        "treatments) or benjamini_hochberg (secondary metrics, across treatments and metrics)",
    )


class SrmPublic(Schema):
    p_value: float | None
    mismatch: bool
    observed: dict[str, int]
    expected: dict[str, float]
    threshold: float


class DecisionPublic(Schema):
    """``action`` is one of promote, keep_control, continue, rollback; ``decision`` says how
    (full_rollout, gradual_rollout, keep_control, extend_test, rollback)."""

    action: str
    decision: str
    variant: str | None
    reason: str


class AnalysisReport(Schema):
    metric: str
    metric_kind: str
    analysis_method: str
    alpha: float
    rows: int
    units: int
    excluded_units: int = Field(description="units seen in more than one variant, left out")
    variants: list[VariantFigures]
    comparisons: list[ComparisonPublic]
    srm: SrmPublic
    recommendation: DecisionPublic
    decisions: list[DecisionPublic]
