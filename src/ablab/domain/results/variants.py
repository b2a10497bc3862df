"""Each variant's figures and counts, and a bandit arm's posterior."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ablab.domain.results.comparisons import Interval

__all__ = ["BanditArm", "MetricValue", "VariantResults"]


@dataclass(frozen=True, slots=True)
class MetricValue:
    """A metric's value with its interval; ``n`` counts the units behind it (predictions for
    latency_p95_ms)."""

    value: float | None
    n: int
    ci: Interval


@dataclass(frozen=True, slots=True)
class VariantResults:
    """One variant's figures and counts.

    ``units_exposed`` counts every unit seen (``units`` is the same number, kept for older
    readers), ``units_with_labels`` the units with at least one labelled prediction,
    ``labels`` the labelled predictions and ``conversions`` the units converted when the
    primary metric is a proportion.
    """

    name: str
    model_version: str | None
    weight: float
    units: int
    predictions: int
    metrics: Mapping[str, MetricValue]
    units_exposed: int = 0
    units_with_predictions: int = 0
    units_with_labels: int = 0
    labels: int = 0
    conversions: int | None = None

    def metric(self, name: str) -> float | None:
        """The value of metric ``name`` (None when there is no data for it yet)."""
        found = self.metrics.get(name)
        return found.value if found is not None else None

    @property
    def accuracy(self) -> float | None:
        return self.metric("accuracy")

    @property
    def latency_ms(self) -> float | None:
        return self.metric("latency_ms")

    @property
    def latency_p95_ms(self) -> float | None:
        return self.metric("latency_p95_ms")

    @property
    def error_rate(self) -> float | None:
        return self.metric("error_rate")


@dataclass(frozen=True, slots=True)
class BanditArm:
    """A variant's Thompson-sampling posterior ``Beta(alpha, beta)`` and current weight."""

    variant: str
    alpha: float
    beta: float
    weight: float
