"""Wire schemas of custom metric definitions."""

from __future__ import annotations

from datetime import datetime

from ablab.contract.base import Schema
from ablab.domain.metrics import Aggregation, CustomMetric, MetricKind

__all__ = ["MetricCreate", "MetricPublic"]


class MetricCreate(Schema):
    """A metric computed from ``metric`` events named ``name``.

    ``aggregation`` turns one unit's events into a number (sum, mean, count, any); ``kind``
    says how arms are compared: ``proportion`` (units whose aggregate is above 0) or
    ``continuous`` (the aggregate's mean).
    """

    name: str
    aggregation: Aggregation = Aggregation.SUM
    kind: MetricKind = MetricKind.CONTINUOUS
    higher_is_better: bool = True
    description: str = ""


class MetricPublic(Schema):
    id: str
    name: str
    aggregation: Aggregation
    kind: MetricKind
    higher_is_better: bool
    description: str
    created_at: datetime

    @classmethod
    def from_domain(cls, metric: CustomMetric) -> MetricPublic:
        return cls.model_validate(metric)
