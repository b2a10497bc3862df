"""The analysis room's ports: what it asks of the event store (sums, in one SQL pass), the
values that come back, unit files read where they lie, and the sequential tests' state
between looks (``services.analysis``; the guard, the bandit and the rollout steps read the
same sums)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from ablab.domain.metrics import CustomMetric
from ablab.domain.sequential import SequentialState
from ablab.domain.sources import AnalysisSource
from ablab.stats import CovariateMoments, RatioCovariateMoments

__all__ = [
    "EventReader",
    "MetricRequest",
    "SequentialStateRecords",
    "ShadowSums",
    "SourceChecker",
    "SourceRecords",
    "TimeBucket",
    "UnitTable",
    "UnitTableReader",
    "VariantSums",
]


class SequentialStateRecords(Protocol):
    """The running always-valid test of each (experiment, metric, treatment) between looks
    (``domain.sequential``): read, merged with the new look and written back under a lock."""

    def lock_sequential_states(
        self, experiment_id: str, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], SequentialState]:
        """The stored state of each (metric, variant) of the experiment that has one.

        Each of ``keys`` gets an empty row first if it has none, then every row of the
        experiment is locked until the transaction ends, so a concurrent look (a first one
        too) waits and then merges its look into this one's.
        """
        ...

    def save_sequential_state(self, state: SequentialState) -> None:
        """Write the state after a look, in the transaction that locked it (a key never
        locked has no row, and nothing is written)."""
        ...


class SourceRecords(Protocol):
    """The project's analysis sources (``domain.sources``)."""

    def get_source(self, project_id: str, name: str) -> AnalysisSource | None: ...
    def list_sources(self, project_id: str) -> list[AnalysisSource]:
        """The project's sources, by name."""
        ...

    def add_source(self, source: AnalysisSource) -> None:
        """Insert; raises Conflict if the name is taken in the project."""
        ...


class SourceChecker(Protocol):
    """The engines a server reaches, as its operator set them up: reads a source's sample."""

    def check(self, source: AnalysisSource) -> dict[str, int]:
        """The rows of a sample read from each event type of ``source``.

        Raises:
            ValidationError: what the engine cannot read or the operator does not allow (an
                engine not set up, a path outside the allowed folders, a missing column),
                named in one line.
        """
        ...

    def forget(self, source: AnalysisSource, *, kept: bool = False) -> None:
        """Drop the answers kept from ``source`` (``refresh_minutes``); with ``kept``, its
        experiments' kept per-unit days too, so the next reads scan every day again."""
        ...


@dataclass(frozen=True, slots=True)
class MetricRequest:
    """What an analysis asks of the event store, answered in one pass per metric group.

    The built-in model metrics are always computed (from non-shadow predictions and the
    project's latest label of each); ``custom`` adds metrics from ``metric`` events. For
    CUPED, ``covariate`` names metric events whose per-unit mean adjusts every metric;
    otherwise ``pre_window`` [start, end) gives each metric its own value before launch,
    from the predictions of ``prior_experiment_ids`` and the project's metric events.
    ``segment`` breaks every figure down by a unit attribute (from the unit's first
    exposure that has it). ``period_boundaries`` are the sorted times the weights changed:
    the units first seen (exposed or predicted for, by arrival) are counted per period.
    ``since`` and ``until`` keep the exposures, predictions and experiment-named metric
    events of [since, until) by event time: a rollout step's traffic, or an experiment's
    own before its rollout began.
    """

    project_id: str
    experiment_id: str
    custom: tuple[CustomMetric, ...] = ()
    pre_window: tuple[datetime, datetime] | None = None
    prior_experiment_ids: tuple[str, ...] = ()
    covariate: str | None = None
    segment: str | None = None
    period_boundaries: tuple[datetime, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class VariantSums:
    """One variant's (or one segment of it) sufficient statistics over units.

    Every metric is a per-unit numerator and denominator with its covariate's (zero when
    there is none): accuracy = correct / labelled predictions, latency = latency sum /
    predictions, error rate = errors / predictions; a custom metric's denominator is 1 per
    unit except for a ``mean``, whose denominator is the unit's event count.
    ``latency_p95_ms`` is over predictions. ``units`` counts units with predictions,
    ``units_with_labels`` those with at least one labelled prediction;
    ``units_by_period`` counts every unit seen (exposed or predicted for), by the weight
    period of its first arrival.
    """

    variant: str
    segment: str | None
    units: int
    predictions: int
    latency_p95_ms: float | None
    metrics: Mapping[str, RatioCovariateMoments]
    units_by_period: tuple[int, ...] = ()
    units_with_labels: int = 0

    @property
    def seen(self) -> int:
        return sum(self.units_by_period)


@dataclass(frozen=True, slots=True)
class ShadowSums:
    """One treatment's mirrored answers paired with the served ones, summed per prediction.

    ``answered`` pairs had no error on either side; the differences are of numeric answers
    (``numeric`` of them); accuracy counts labels that are values (``valued_labels``).
    """

    variant: str
    pairs: int
    answered: int
    agreements: int
    numeric: int
    abs_diff: float
    abs_diff_sq: float
    served_latency: float
    served_latency_sq: float
    shadow_latency: float
    shadow_latency_sq: float
    latency_diff: float
    latency_diff_sq: float
    served_errors: int
    shadow_errors: int
    valued_labels: int
    served_correct: int
    shadow_correct: int


@dataclass(frozen=True, slots=True)
class TimeBucket:
    """How one variant's cumulative sums of one metric changed during a time bucket.

    ``change`` holds the changes of the per-unit sums of y, y**2, x, x**2 and x*y (a
    :class:`RatioMoments` without its count). Adding the changes of every bucket up to
    ``start`` gives the sums as they were at the end of that bucket; ``new_units`` counts
    the units first seen in it.
    """

    start: datetime
    variant: str
    new_units: int
    change: tuple[float, float, float, float, float]


class EventReader(Protocol):
    """The read side of the event store: per-variant sums, pushed down to the engine."""

    def metric_sums(self, request: MetricRequest) -> list[VariantSums]:
        """Per variant (and segment, if asked), the sums of every metric of ``request``."""
        ...

    def metric_sums_by_window(
        self, request: MetricRequest, edges: Sequence[datetime]
    ) -> list[list[VariantSums]]:
        """:meth:`metric_sums` of each window of time, all in one pass per metric group.

        ``edges`` are two or more increasing times; window ``i`` is ``[edges[i],
        edges[i + 1])`` and its list equals ``metric_sums(replace(request, since=edges[i],
        until=edges[i + 1]))``: each unit summed over that window's events alone.

        Raises:
            ValueError: fewer than two edges or unsorted ones, or a request with a segment,
                a CUPED covariate or pre-window, or weight periods (not split by window).
        """
        ...

    def shadow_sums(self, project_id: str, experiment_id: str) -> list[ShadowSums]:
        """Per treatment, its shadow answers paired with the served ones (by prediction id)."""
        ...

    def metric_timeseries(
        self, request: MetricRequest, metric: str, interval: str
    ) -> list[TimeBucket]:
        """The change of one metric's cumulative sums per variant and ``interval`` bucket.

        ``interval`` is ``hour`` or ``day``; buckets come in time order by event time.
        """
        ...


@dataclass(frozen=True, slots=True)
class UnitTable:
    """Per-variant sufficient statistics of a table of units.

    Rows of the same unit are averaged into one value per unit first: the unit is the unit of
    analysis. Units seen under more than one variant are left out and counted in
    ``excluded_units``. Without a covariate the covariate sums are zero.
    """

    rows: int
    units: int
    excluded_units: int
    binary: bool
    variants: dict[str, CovariateMoments]


class UnitTableReader(Protocol):
    """Reads a CSV, Parquet or JSON Lines file of unit-level rows where it lies."""

    def read(
        self, path: Path, *, unit: str, variant: str, metric: str, covariate: str | None
    ) -> UnitTable:
        """Raises ValidationError for a missing file, an unknown column or non-numbers."""
        ...
