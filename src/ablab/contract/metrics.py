"""Wire schemas of custom metric definitions."""

from __future__ import annotations

from datetime import datetime

from ablab.contract.base import RequestSchema, Schema
from ablab.contract.fields import Flag, Identifier, Text
from ablab.domain.metrics import Aggregation, CustomMetric, MetricKind
from ablab.domain.specs import MetricSpec

__all__ = ["MetricCreate", "MetricPublic"]


class MetricCreate(RequestSchema):
    """A metric computed from ``metric`` events named ``name``.

    ``aggregation`` turns one unit's events into a number (sum, mean, count, any); ``kind``
    says how arms are compared: ``proportion`` (units whose aggregate is above 0) or
    ``continuous`` (the aggregate's mean).
    """

    name: Identifier
    aggregation: Aggregation = Aggregation.SUM
    kind: MetricKind = MetricKind.CONTINUOUS
    higher_is_better: Flag = True
    description: Text = ""

    def to_spec(self) -> MetricSpec:
        return MetricSpec(
            name=self.name,
            aggregation=self.aggregation,
            kind=self.kind,
            higher_is_better=self.higher_is_better,
            description=self.description,
        )


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
