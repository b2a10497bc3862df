"""The metric catalogue: the built-in model metrics and the custom ones a project defines.

Per-prediction metrics (accuracy, latency, error rate) are ratio metrics over units: the unit
of analysis is the unit of randomisation, never the request. A custom metric comes from
``metric`` events (unit, name, value): its ``aggregation`` turns a unit's events into one
number, and its ``kind`` picks the test.

- ``sum``, ``count``: the unit's total (or number) of events; 0 for a unit with none.
- ``any``: 1 if the unit has an event with a non-zero value, else 0.
- ``mean``: the mean value per event, a ratio over units (sum / count, by the delta method),
  so a unit with many events weighs as much as its events.
- kind ``proportion``: each unit counts as converted when its aggregate is above 0, and the
  arms are compared as proportions; ``continuous``: the aggregate itself, compared as means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ablab.errors import ValidationError

__all__ = [
    "BUILTIN_METRICS",
    "TESTED_METRICS",
    "Aggregation",
    "CustomMetric",
    "MetricDefinition",
    "MetricKind",
    "validate_custom_metric",
    "validate_metric_name",
]


class MetricKind(StrEnum):
    PROPORTION = "proportion"
    CONTINUOUS = "continuous"
    RATIO = "ratio"
    QUANTILE = "quantile"


class Aggregation(StrEnum):
    SUM = "sum"
    MEAN = "mean"
    COUNT = "count"
    ANY = "any"


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """A metric's name, kind and the direction in which it improves."""

    name: str
    kind: MetricKind
    higher_is_better: bool
    description: str


@dataclass(frozen=True, slots=True)
class CustomMetric:
    """A project's metric computed from its ``metric`` events of the same name."""

    id: str
    project_id: str
    name: str
    aggregation: Aggregation
    kind: MetricKind
    higher_is_better: bool
    created_at: datetime
    description: str = ""

    @property
    def definition(self) -> MetricDefinition:
        return MetricDefinition(self.name, self.kind, self.higher_is_better, self.description)


BUILTIN_METRICS: dict[str, MetricDefinition] = {
    m.name: m
    for m in (
        MetricDefinition(
            "accuracy", MetricKind.RATIO, True, "correct / labelled predictions, per unit"
        ),
        MetricDefinition("latency_ms", MetricKind.RATIO, False, "mean latency per prediction"),
        MetricDefinition(
            "latency_p95_ms", MetricKind.QUANTILE, False, "95th percentile of latency"
        ),
        MetricDefinition("error_rate", MetricKind.RATIO, False, "errors / predictions, per unit"),
    )
}

# The built-in metrics a comparison tests (ratios over units); the quantile is reported and
# guarded against a threshold but not tested.
TESTED_METRICS = tuple(m.name for m in BUILTIN_METRICS.values() if m.kind is MetricKind.RATIO)

_CUSTOM_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def validate_metric_name(name: str) -> str:
    """Return ``name`` if it is a built-in metric or a valid custom metric name.

    Whether a custom name is defined in the project is the service's check.

    Raises:
        ValidationError: the name is not snake_case (letters, digits, underscores).
    """
    if name in BUILTIN_METRICS or _CUSTOM_NAME.fullmatch(name):
        return name
    raise ValidationError(
        f"invalid metric name {name!r}: use a built-in metric "
        f"({', '.join(BUILTIN_METRICS)}) or a snake_case custom name",
        details={"metric": name, "builtin": list(BUILTIN_METRICS)},
    )


def validate_custom_metric(metric: CustomMetric) -> CustomMetric:
    """Check a custom metric's definition and return it.

    Raises:
        ValidationError: a built-in name, a malformed name, or a kind other than
            proportion or continuous.
    """
    if metric.name in BUILTIN_METRICS:
        raise ValidationError(
            f"{metric.name!r} is a built-in metric; choose another name for a custom one",
            details={"metric": metric.name},
        )
    validate_metric_name(metric.name)
    if metric.kind not in (MetricKind.PROPORTION, MetricKind.CONTINUOUS):
        raise ValidationError(
            f"a custom metric's kind is proportion or continuous, got {metric.kind.value!r}",
            details={"kind": metric.kind.value},
        )
    return metric
