"""The team's own tables as ablab's event tables: a column mapping, a dedupe rule, a check.

An :class:`ExternalTable` says where one event type lives (a table of the engine, a folder
of Parquet files, or a SELECT) and which of its columns hold each of ablab's columns
(``store.events.schema``). :func:`external_relation` turns it into a relation of the
engine that has exactly ablab's columns, with ablab's types, so the portable analysis
runs over it unchanged (``render``'s ``relations``):

- a column ablab needs that the table lacks gets its natural value: no error, not a
  shadow copy, arrival at the event's time, the experiment's or project's id;
- ``dedupe`` keeps one row per event id (the first to arrive), as ablab's own ingestion
  does; a table without event ids cannot be deduplicated, and its labels cannot be
  ranked on a tie, so labels need one;
- ``partition`` names a column the table is partitioned by, holding the UTC day of the
  event as ``YYYY-MM-DD`` text or a date: rows before ``since`` are skipped by that
  column, so the engine reads only the partitions the analysis needs.

:func:`check_relation` runs a sample of the relation and names what is wrong (a missing
column, a type that does not fit) before an analysis meets it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import pyarrow as pa

from ablab.errors import ValidationError
from ablab.store.events.engines import Engine
from ablab.store.events.portable import instant
from ablab.store.events.render import render
from ablab.store.events.schema import EVENT_TABLES
from ablab.store.warehouse.delta import delta_relation
from ablab.store.warehouse.lake import parquet_relation

__all__ = ["ExternalTable", "check_relation", "external_relation", "no_events"]

# ablab's type of each column, in the portable SQL's spelling.
_PORTABLE_TYPES = {"VARCHAR": "VARCHAR", "DOUBLE": "DOUBLE", "BOOLEAN": "BOOLEAN"}

# What a column the table lacks is, by name (None: the kind cannot do without it).
_DEFAULTS: dict[str, str | None] = {
    "error": "FALSE",
    "shadow": "FALSE",
    "latency_ms": "CAST(NULL AS DOUBLE)",
    "output": "CAST(NULL AS VARCHAR)",
    "attributes": "'{}'",
    "correct": "CAST(NULL AS BOOLEAN)",
    "label": "CAST(NULL AS VARCHAR)",
    "event_id": "CAST(NULL AS VARCHAR)",
}

# What each kind cannot do without (beyond ids filled from the experiment or project).
_REQUIRED = {
    "exposure": ("unit_id", "variant", "ts"),
    "prediction": ("unit_id", "variant", "prediction_id", "ts"),
    "label": ("event_id", "prediction_id", "ts"),
    "metric": ("unit_id", "name", "value", "ts"),
}


@dataclass(frozen=True, slots=True)
class ExternalTable:
    """Where one event type lives in the team's engine, and how to read it as ablab's.

    Exactly one of ``table`` (a table name, dotted for a schema: ``lake.predictions``),
    ``path`` (a folder or glob of Parquet files, or with ``format="delta"`` a Delta table's
    folder, read at its current version: ``delta``) or ``select`` (a SELECT in the engine's
    own SQL) says where. ``columns`` maps ablab's column names to the table's.
    """

    kind: Literal["exposure", "prediction", "label", "metric"]
    table: str | None = None
    path: Path | None = None
    format: Literal["parquet", "delta"] = "parquet"
    select: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    partition: str | None = None
    dedupe: bool = True

    def __post_init__(self) -> None:
        given = [x for x in (self.table, self.path, self.select) if x is not None]
        if len(given) != 1:
            raise ValidationError(
                f"the {self.kind} source needs exactly one of a table, a path or a select",
                details={"kind": self.kind},
            )
        known = set(EVENT_TABLES[self.kind].column_names)
        unknown = sorted(set(self.columns) - known)
        if unknown:
            raise ValidationError(
                f"the {self.kind} source maps columns ablab does not have: {', '.join(unknown)}",
                details={"kind": self.kind, "known": sorted(known)},
            )
        missing = [c for c in _REQUIRED[self.kind] if c not in self.columns]
        if missing:
            raise ValidationError(
                f"the {self.kind} source must map {', '.join(missing)}",
                details={"kind": self.kind, "missing": missing},
            )
        if self.kind == "label" and "correct" not in self.columns and "label" not in self.columns:
            raise ValidationError(
                "the label source must map correct (a flag) or label (a value), or both",
                details={"kind": self.kind},
            )


def external_relation(
    source: ExternalTable,
    engine: Engine,
    *,
    project_id: str,
    experiment_id: str | None = None,
    experiment_ids: Mapping[str, str] | None = None,
    since: date | None = None,
) -> str:
    """``source`` as a parenthesised SELECT of ``engine`` with ablab's columns and types.

    ``project_id`` and ``experiment_id`` fill the owner columns the table does not map
    (a table that holds one experiment's events needs no experiment column).
    ``experiment_ids`` turns the values of a mapped experiment column (the team names an
    experiment as ablab does) into ablab's ids; other values stay as they are.
    """
    base = _base(source, engine)
    table = EVENT_TABLES[source.kind]
    selected = []
    for column in table.columns:
        mine = source.columns.get(column.name)
        if mine is not None and column.name == "experiment_id" and experiment_ids:
            named = f"CAST(src.{_quoted(mine)} AS VARCHAR)"
            cases = " ".join(
                f"WHEN {_string(name)} THEN {_string(ident)}"
                for name, ident in sorted(experiment_ids.items())
            )
            value = f"CASE {named} {cases} ELSE {named} END"
        elif mine is not None and column.duckdb_type == "TIMESTAMPTZ":
            value = instant(f"src.{_quoted(mine)}")
        elif mine is not None:
            value = f"CAST(src.{_quoted(mine)} AS {_PORTABLE_TYPES[column.duckdb_type]})"
        elif column.name == "received_at":
            value = instant(f"src.{_quoted(source.columns['ts'])}")
        elif column.name in ("project_id", "experiment_id"):
            owner = project_id if column.name == "project_id" else experiment_id
            value = "CAST(NULL AS VARCHAR)" if owner is None else _string(owner)
        else:
            value = _DEFAULTS.get(column.name) or "CAST(NULL AS VARCHAR)"
        selected.append(f"{value} AS {column.name}")
    where = ""
    if source.partition is not None and since is not None:
        where = f" WHERE CAST(src.{_quoted(source.partition)} AS VARCHAR) >= '{since.isoformat()}'"
    sql = f"SELECT {', '.join(selected)} FROM ablab_relation_base AS src{where}"
    if source.dedupe and "event_id" in source.columns:
        sql = (
            f"SELECT {', '.join(table.column_names)} FROM ("
            f"SELECT *, row_number() OVER (PARTITION BY {table.owner}, event_id "
            "ORDER BY received_at) AS ablab_copy "
            f"FROM ({sql}) AS mapped) AS numbered WHERE ablab_copy = 1"
        )
    return _subquery(sql, engine, {"ablab_relation_base": base})


def no_events(kind: str, engine: Engine) -> str:
    """A relation with the columns and types of ``kind``'s table and no row: the events of
    a type a source leaves out."""
    columns = []
    for column in EVENT_TABLES[kind].columns:
        if column.duckdb_type == "TIMESTAMPTZ":
            columns.append(f"{instant('CAST(NULL AS VARCHAR)')} AS {column.name}")
        else:
            columns.append(f"CAST(NULL AS {_PORTABLE_TYPES[column.duckdb_type]}) AS {column.name}")
    return _subquery(f"SELECT {', '.join(columns)} WHERE 1 = 0", engine)


def _subquery(sql: str, engine: Engine, relations: dict[str, str] | None = None) -> str:
    """Portable ``sql`` (no values) as ``engine``'s parenthesised subquery: without the
    settings a whole statement ends with, which belong to the statement that reads it."""
    text, _ = render(sql, [], engine, relations)
    return f"({text.removesuffix(engine.settings).strip()})"


def check_relation(
    source: ExternalTable, relation: str, run: Callable[[str], pa.Table], engine: Engine
) -> int:
    """Read a sample of ``relation`` (from :func:`external_relation`) through ``run`` and
    say what does not fit; the number of sample rows read.

    Raises:
        ValidationError: the engine refuses the relation (a missing table, file or column,
            or values that do not cast to ablab's type: the engine's message is kept), or a
            column ablab needs is empty in the whole sample.
    """
    try:
        sample = run(f"SELECT * FROM {relation} AS sample LIMIT 100{_settings(engine)}")
    except Exception as exc:  # the engine's own error names the table, file or column
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValidationError(
            f"the {source.kind} source cannot be read: {reason[:300]}",
            details={"kind": source.kind},
        ) from None
    for name in _REQUIRED[source.kind]:
        values = sample.column(name)
        if sample.num_rows and values.null_count == sample.num_rows:
            raise ValidationError(
                f"the {source.kind} source's column {source.columns[name]!r} ({name}) has no "
                f"value in the first {sample.num_rows} rows: is it the right column?",
                details={"kind": source.kind, "column": name},
            )
    rows: int = sample.num_rows
    return rows


def _settings(engine: Engine) -> str:
    return f" {engine.settings}" if engine.settings else ""


def _base(source: ExternalTable, engine: Engine) -> str:
    if source.select is not None:
        return f"({source.select})"
    if source.table is not None:
        return ".".join(engine.identifier(part) for part in source.table.split("."))
    assert source.path is not None
    if source.format == "delta":
        return delta_relation(source.path, engine)
    try:
        return parquet_relation(source.path, engine, hive=True)
    except ValueError:
        raise ValidationError(
            f"{engine.name} reads no local files: name a table or a select",
            details={"engine": engine.name},
        ) from None


def _quoted(name: str) -> str:
    """A column name as a quoted identifier of the portable SQL (DuckDB's double quotes)."""
    return '"' + name.replace('"', '""') + '"'


def _string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
