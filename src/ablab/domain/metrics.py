"""The metric catalogue: the built-in model metrics and the rules for custom ones.

Per-prediction metrics (accuracy, latency, error rate) are ratio metrics over units: the unit of
analysis is the unit of randomisation, never the request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from ablab.errors import ValidationError

__all__ = [
    "BUILTIN_METRICS",
    "TESTED_METRICS",
    "MetricDefinition",
    "MetricKind",
    "validate_metric_name",
]


class MetricKind(StrEnum):
    PROPORTION = "proportion"
    CONTINUOUS = "continuous"
    RATIO = "ratio"
    QUANTILE = "quantile"


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """A metric's name, kind and the direction in which it improves."""

    name: str
    kind: MetricKind
    higher_is_better: bool
    description: str


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

# The metrics a comparison tests today (ratios over units); a quantile is reported and
# guarded but not tested. Custom metrics arrive as metric events and need a definition.
TESTED_METRICS = tuple(m.name for m in BUILTIN_METRICS.values() if m.kind is MetricKind.RATIO)

_CUSTOM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def validate_metric_name(name: str) -> str:
    """Return ``name`` if it is a built-in metric or a valid custom metric name.

    Custom metrics come from ``metric`` events, so any snake_case name is accepted here.

    Raises:
        ValidationError: the name is not snake_case (letters, digits, underscores).
    """
    if name in BUILTIN_METRICS or _CUSTOM_NAME.match(name):
        return name
    raise ValidationError(
        f"invalid metric name {name!r}: use a built-in metric "
        f"({', '.join(BUILTIN_METRICS)}) or a snake_case custom name",
        details={"metric": name, "builtin": list(BUILTIN_METRICS)},
    )
