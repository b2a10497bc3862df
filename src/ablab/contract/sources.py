"""Wire schemas of analysis sources (``domain.sources``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from ablab.contract.base import RequestSchema, Schema
from ablab.contract.fields import Flag, Identifier
from ablab.domain.sources import (
    DEFAULT_LATE_DAYS,
    MAX_LATE_DAYS,
    AnalysisSource,
    SourceTable,
)

__all__ = ["SourceCreate", "SourcePublic", "SourceRefresh", "SourceTableSchema"]

EventKind = Literal["exposure", "prediction", "label", "metric"]


class SourceTableSchema(RequestSchema):
    """Where one event type lives, and which of its columns hold ablab's.

    Exactly one of ``table`` (a table of the engine, ``schema.table``), ``path`` (a folder of
    Parquet files, or a Delta table's folder with ``format: "delta"``; within the folders the
    server's operator allows) or ``select`` (a SELECT in the engine's SQL). ``columns`` maps
    ablab's column names (``unit_id``, ``variant``, ``ts``, ``prediction_id``, ...) to the
    table's; ``partition`` names a column holding the event's UTC day (``YYYY-MM-DD``): an
    analysis then reads only the days from its CUPED window's first (before the
    experiment's start) on;
    ``dedupe`` keeps the first arrival of each event id; ``late_days`` is how many days
    after its own day an event may still land (a label after its prediction's day): a
    refresh reads that many days again before the last it kept.
    """

    table: str | None = Field(default=None, max_length=256)
    path: str | None = Field(default=None, max_length=1024)
    format: Literal["parquet", "delta"] = "parquet"
    select: str | None = Field(default=None, max_length=20_000)
    columns: dict[str, str] = Field(default_factory=dict, max_length=32)
    partition: str | None = Field(default=None, max_length=128)
    dedupe: bool = True
    late_days: Annotated[int, Field(strict=True, ge=0, le=MAX_LATE_DAYS)] = DEFAULT_LATE_DAYS

    def to_domain(self) -> SourceTable:
        return SourceTable(
            table=self.table,
            path=self.path,
            format=self.format,
            select=self.select,
            columns=dict(self.columns),
            partition=self.partition,
            dedupe=self.dedupe,
            late_days=self.late_days,
        )


class SourceCreate(RequestSchema):
    """A named source on an engine: ``duckdb`` (files), ``spark`` or ``clickhouse``."""

    name: Identifier
    engine: Literal["duckdb", "spark", "clickhouse"] = "duckdb"
    tables: dict[EventKind, SourceTableSchema] = Field(min_length=1)
    refresh_minutes: Annotated[int, Field(strict=True, ge=1, le=7 * 24 * 60)] | None = Field(
        default=None,
        description="minutes an answer read from the engine is kept and given again "
        "(POST /v1/sources/{name}/refresh reads anew); unset: every read scans",
    )

    def to_domain_tables(self) -> dict[str, SourceTable]:
        return {kind: table.to_domain() for kind, table in self.tables.items()}


class SourceRefresh(RequestSchema):
    """What a refresh forgets: the kept answers, and with ``full`` the kept per-unit days."""

    full: Flag = Field(
        default=False,
        description="read every day again, not only those since the last kept "
        "(minus the tables' late_days)",
    )


class SourcePublic(Schema):
    """A source; ``sample_rows``, when it was just read (added or tested), says how many rows
    of each event type's sample its engine read."""

    id: str
    name: str
    engine: str
    tables: dict[str, dict[str, object]]
    created_at: datetime
    refresh_minutes: int | None = None
    sample_rows: dict[str, int] | None = None

    @classmethod
    def from_domain(
        cls, source: AnalysisSource, sample_rows: dict[str, int] | None = None
    ) -> SourcePublic:
        tables = {
            kind: {
                "table": t.table,
                "path": t.path,
                "format": t.format,
                "select": t.select,
                "columns": dict(t.columns),
                "partition": t.partition,
                "dedupe": t.dedupe,
            }
            for kind, t in source.tables.items()
        }
        return cls(
            id=source.id,
            name=source.name,
            engine=source.engine,
            tables=tables,
            created_at=source.created_at,
            refresh_minutes=source.refresh_minutes,
            sample_rows=sample_rows,
        )
