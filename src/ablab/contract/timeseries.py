"""Wire schema of an experiment's cumulative time series (``GET /experiments/{ref}/timeseries``)."""

from __future__ import annotations

from datetime import datetime

from ablab.contract.base import Schema

__all__ = ["ExperimentTimeseries", "LiftPoint", "VariantPoint"]

Interval = tuple[float | None, float | None]


class VariantPoint(Schema):
    """One variant at the end of a bucket: all its units and events up to then."""

    at: datetime
    variant: str
    units: int
    value: float | None
    ci: Interval


class LiftPoint(Schema):
    """A treatment against the control at the end of a bucket.

    Each bucket is a look under the experiment's design. ``confidence_sequence`` is the
    always-valid interval of the relative lift: the running intersection, over the buckets
    so far, of the mSPRT's interval of the difference, divided by the control's value at
    that time. ``always_valid_p_value`` is the running minimum, adjusted for the family as
    in the results, so it is below alpha exactly when the interval excludes 0.
    """

    at: datetime
    variant: str
    relative_lift: float | None
    relative_ci: Interval
    confidence_sequence: Interval
    always_valid_p_value: float | None


class ExperimentTimeseries(Schema):
    experiment: str
    metric: str
    interval: str
    variants: list[VariantPoint]
    lifts: list[LiftPoint]
