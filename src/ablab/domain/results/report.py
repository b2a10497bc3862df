"""``ablab analyze``'s report on a table of units (a file, not a stored experiment)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ablab.domain.decisions import Recommendation
from ablab.domain.results.checks import SrmCheck
from ablab.domain.results.comparisons import Comparison, Interval

__all__ = ["AnalysisReport", "VariantFigures"]


@dataclass(frozen=True, slots=True)
class VariantFigures:
    """A variant's mean and interval; ``weight`` its configured share, 0..1, if known."""

    name: str
    is_control: bool
    units: int
    mean: float | None
    ci: Interval
    weight: float | None


@dataclass(frozen=True, slots=True)
class AnalysisReport:
    """Each treatment against the control, the sample ratio check and the recommendation.

    ``alternative`` is the fixed-horizon test's (two-sided, greater or less);
    ``excluded_units`` were seen in more than one variant and left out.
    """

    metric: str
    metric_kind: str
    analysis_method: str
    alternative: str
    alpha: float
    rows: int
    units: int
    excluded_units: int
    variants: Sequence[VariantFigures]
    comparisons: Sequence[Comparison]
    srm: SrmCheck
    recommendation: Recommendation
    decisions: Sequence[Recommendation]
