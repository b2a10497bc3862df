"""Analysis sources: where an experiment's events are read from, when not ablab's own tables.

A source names an analysis engine (``duckdb`` over files, ``spark``, ``clickhouse``) and, per
event type, where the team keeps that type (a table, a Parquet or Delta path, or a SELECT)
and which of its columns hold ablab's columns. An experiment that names a source is analysed
over it with the same statements, giving the same results as over ablab's own events. An
event type the source leaves out has no events. Which engines a server reaches and which
folders a path may name are the operator's settings, checked where the source is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ablab.domain.experiment_settings import validate_name
from ablab.errors import ValidationError

__all__ = ["ENGINES", "EVENT_KINDS", "AnalysisSource", "SourceTable", "validate_source"]

ENGINES = ("duckdb", "spark", "clickhouse")
EVENT_KINDS = ("exposure", "prediction", "label", "metric")
FORMATS = ("parquet", "delta")
_MAX_COLUMN = 128
_MAX_REFRESH = 7 * 24 * 60
DEFAULT_LATE_DAYS = 7
MAX_LATE_DAYS = 366


@dataclass(frozen=True, slots=True)
class SourceTable:
    """Where one event type lives: exactly one of ``table``, ``path`` (Parquet, or Delta
    with ``format="delta"``) or ``select``, and ablab's column -> the table's column.
    ``late_days``: how many days after its own day an event of this type may still land
    (a label after its prediction's day); a refresh reads that many days again."""

    table: str | None = None
    path: str | None = None
    format: str = "parquet"
    select: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    partition: str | None = None
    dedupe: bool = True
    late_days: int = DEFAULT_LATE_DAYS


@dataclass(frozen=True, slots=True)
class AnalysisSource:
    """A named source. ``refresh_minutes`` bounds what reading it costs: an answer read
    from its engine is kept that long and given again (a warehouse bills each scan; the
    monitor and every results page would scan again), unless the source is refreshed
    first; None reads the engine every time. Its experiments' per-unit totals are kept per
    day, and a refresh reads only the days since the last it kept, ``late_days`` before."""

    id: str
    project_id: str
    name: str
    engine: str
    tables: Mapping[str, SourceTable]
    created_at: datetime
    refresh_minutes: int | None = None

    @property
    def late_days(self) -> int:
        """The days a refresh reads again before the last it kept: the latest any of the
        source's event types may land."""
        return max((table.late_days for table in self.tables.values()), default=0)


def validate_source(source: AnalysisSource) -> AnalysisSource:
    """Check the source's shape (the engine reads it later: ``check``).

    Raises:
        ValidationError: a malformed name, an unknown engine, event type or format, a table
            without exactly one place, or a column name that is empty or too long.
    """
    validate_name(source.name, "source name")
    if source.engine not in ENGINES:
        raise ValidationError(
            f"unknown engine {source.engine!r}: use {', '.join(ENGINES)}",
            details={"engine": source.engine},
        )
    if source.refresh_minutes is not None and not 1 <= source.refresh_minutes <= _MAX_REFRESH:
        raise ValidationError(
            f"refresh minutes must be 1 to {_MAX_REFRESH}, got {source.refresh_minutes}",
            details={"refresh_minutes": source.refresh_minutes},
        )
    if not source.tables:
        raise ValidationError("a source needs at least one event type", details={"tables": []})
    for kind, table in source.tables.items():
        if kind not in EVENT_KINDS:
            raise ValidationError(
                f"unknown event type {kind!r}: use {', '.join(EVENT_KINDS)}",
                details={"kind": kind},
            )
        places = [p for p in (table.table, table.path, table.select) if p]
        if len(places) != 1:
            raise ValidationError(
                f"the {kind} table needs exactly one of table, path or select",
                details={"kind": kind},
            )
        if not 0 <= table.late_days <= MAX_LATE_DAYS:
            raise ValidationError(
                f"late days of {kind} must be 0 to {MAX_LATE_DAYS}, got {table.late_days}",
                details={"kind": kind},
            )
        if table.format not in FORMATS:
            raise ValidationError(
                f"unknown format {table.format!r} for {kind}: use {', '.join(FORMATS)}",
                details={"kind": kind},
            )
        named = [*table.columns.values(), *([table.partition] if table.partition else [])]
        if any(not 0 < len(name) <= _MAX_COLUMN for name in named):
            raise ValidationError(
                f"the {kind} table names a column that is empty or longer than {_MAX_COLUMN}",
                details={"kind": kind},
            )
    return source
