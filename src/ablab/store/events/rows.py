"""Result rows of the aggregate SQL as statistics objects: the only reader of their columns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from ablab.services.ports import ShadowSums, TimeBucket, VariantSums
from ablab.stats import RatioCovariateMoments
from ablab.store.events.model_metric_sql import MODEL_METRICS
from ablab.store.events.shadow_sql import SHADOW_COLUMNS
from ablab.store.events.sql_parts import SUM_COLUMNS
from ablab.store.events.timeseries_sql import TIMESERIES_COLUMNS

__all__ = [
    "by_window",
    "number",
    "read_custom_metrics",
    "read_model_metrics",
    "read_shadow",
    "read_timeseries",
]

Row = Sequence[object]


def number(value: object) -> float:
    """A sum as a float: DuckDB gives int or float, PostgreSQL Decimal for integer sums.

    A sum over no rows is NULL, which is 0 here.
    """
    if value is None:
        return 0.0
    if not isinstance(value, int | float | Decimal):
        raise TypeError(f"expected a number from the event store, got {value!r}")
    return float(value)


def _moments(n: int, named: dict[str, object], prefix: str) -> RatioCovariateMoments:
    sums = [number(named.get(f"{prefix}__{suffix}")) for suffix, _ in SUM_COLUMNS]
    return RatioCovariateMoments(n, *sums)


def read_model_metrics(
    names: Sequence[str], rows: Sequence[Row], periods: int
) -> list[VariantSums]:
    """Rows of ``model_metrics_query`` (column ``names``) as one VariantSums each."""
    found = []
    for row in rows:
        named = dict(zip(names, row, strict=True))
        n = int(number(named["units"]))
        p95 = named["latency_p95_ms"]
        found.append(
            VariantSums(
                variant=str(named["variant"]),
                segment=None if named["segment"] is None else str(named["segment"]),
                units=n,
                predictions=int(number(named["predictions"])),
                units_with_labels=int(number(named["units_with_labels"])),
                latency_p95_ms=None if p95 is None else number(p95),
                metrics={name: _moments(n, named, name) for name, _, _ in MODEL_METRICS},
                units_by_period=tuple(
                    int(number(named[f"period_{i}"])) for i in range(periods + 1)
                ),
            )
        )
    return found


def read_custom_metrics(
    names: Sequence[str], rows: Sequence[Row]
) -> dict[tuple[str | None, str], dict[str, RatioCovariateMoments]]:
    """Rows of ``custom_metrics_query``: per (segment, variant), each metric's sums."""
    found: dict[tuple[str | None, str], dict[str, RatioCovariateMoments]] = {}
    for row in rows:
        named = dict(zip(names, row, strict=True))
        segment = None if named["segment"] is None else str(named["segment"])
        metrics = found.setdefault((segment, str(named["variant"])), {})
        metrics[str(named["metric"])] = _moments(int(number(named["units"])), named, "m")
    return found


def by_window(names: Sequence[str], rows: Sequence[Row], windows: int) -> list[list[Row]]:
    """Rows of a query by window (``window_metric_sql``): those of window ``i`` at ``i``."""
    column = names.index("window_index")
    found: list[list[Row]] = [[] for _ in range(windows)]
    for row in rows:
        found[int(number(row[column]))].append(row)
    return found


def read_timeseries(rows: Sequence[Row]) -> list[TimeBucket]:
    """Rows of ``timeseries_query`` as one TimeBucket each, in time order."""
    buckets = []
    for bucket, variant, *values in rows:
        if not isinstance(bucket, datetime):
            raise TypeError(f"expected a timestamp from the event store, got {bucket!r}")
        changes = dict(zip(TIMESERIES_COLUMNS, (number(v) for v in values), strict=True))
        buckets.append(
            TimeBucket(
                start=bucket.replace(tzinfo=UTC),
                variant=str(variant),
                new_units=int(changes["new_units"]),
                change=(
                    changes["y"],
                    changes["yy"],
                    changes["x"],
                    changes["xx"],
                    changes["xy"],
                ),
            )
        )
    return buckets


def read_shadow(rows: Sequence[Row]) -> list[ShadowSums]:
    """Rows of ``shadow_query`` as one ShadowSums per treatment."""
    found = []
    counts = {"pairs", "answered", "agreements", "numeric", "served_errors", "shadow_errors"}
    counts |= {"valued_labels", "served_correct", "shadow_correct"}
    for variant, *values in rows:
        named = dict(zip(SHADOW_COLUMNS, values, strict=True))
        fields = {k: int(number(v)) if k in counts else number(v) for k, v in named.items()}
        found.append(ShadowSums(variant=str(variant), **fields))  # type: ignore[arg-type]
    return found
