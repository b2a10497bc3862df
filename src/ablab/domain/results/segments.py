"""The primary metric by a unit attribute: the largest segments, the rest as (other)."""

from __future__ import annotations

from dataclasses import dataclass

from ablab.domain.results.comparisons import Interval

__all__ = ["SegmentBreakdown", "SegmentComparison", "SegmentResult", "SegmentVariant"]


@dataclass(frozen=True, slots=True)
class SegmentVariant:
    name: str
    units: int
    value: float | None


@dataclass(frozen=True, slots=True)
class SegmentComparison:
    """A treatment against the control within one segment, on the primary metric.

    ``adjusted_p_value`` is Benjamini-Hochberg across every segment and treatment.
    """

    variant: str
    relative_lift: float | None
    relative_ci: Interval
    p_value: float | None
    adjusted_p_value: float | None
    significant: bool


@dataclass(frozen=True, slots=True)
class SegmentResult:
    value: str
    variants: tuple[SegmentVariant, ...]
    comparisons: tuple[SegmentComparison, ...]


@dataclass(frozen=True, slots=True)
class SegmentBreakdown:
    attribute: str
    metric: str
    correction: str
    segments: tuple[SegmentResult, ...]
