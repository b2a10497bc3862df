"""An experiment's metric over time, cumulatively, bucket by bucket."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ablab.domain.results.comparisons import Interval

__all__ = ["ExperimentTimeseries", "LiftPoint", "VariantPoint"]


@dataclass(frozen=True, slots=True)
class VariantPoint:
    """One variant at the end of a bucket: all its units and events up to then."""

    at: datetime
    variant: str
    units: int
    value: float | None
    ci: Interval


@dataclass(frozen=True, slots=True)
class LiftPoint:
    """A treatment against the control at the end of a bucket, each bucket a look.

    ``confidence_sequence`` is the running intersection of the always-valid interval of the
    difference over the buckets so far, divided by the control's value at that time;
    ``always_valid_p_value`` the running minimum, family-adjusted as in the results.
    """

    at: datetime
    variant: str
    relative_lift: float | None
    relative_ci: Interval
    confidence_sequence: Interval
    always_valid_p_value: float | None


@dataclass(frozen=True, slots=True)
class ExperimentTimeseries:
    experiment: str
    metric: str
    interval: str
    variants: Sequence[VariantPoint]
    lifts: Sequence[LiftPoint]
