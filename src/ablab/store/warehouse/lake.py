"""ablab's events as a lake: day-partitioned Parquet that every engine reads.

The layout is Hive's, one folder per event table and UTC day of the event's ``ts``::

    <root>/predictions/day=2026-12-01/<file>.parquet
    <root>/labels/day=2026-12-01/<file>.parquet
    ...

Each file holds the table's columns (``store.events.schema``) with times as UTC instants,
so Spark, ClickHouse, DuckDB and PostgreSQL's foreign readers see the same values.
``lake_relations`` gives each engine's SQL for reading one table of a lake.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ablab.store.events.engines import Engine
from ablab.store.events.schema import EVENT_TABLES

__all__ = ["LAKE_TABLES", "lake_relations", "parquet_relation", "table_folder", "write_parquet"]

LAKE_TABLES = tuple(table.name for table in EVENT_TABLES.values())


def table_folder(root: Path, table: str) -> Path:
    return root / table


def lake_relations(root: Path, engine: Engine) -> dict[str, str]:
    """Event table -> ``engine``'s relation reading it from the lake at ``root``.

    Raises:
        ValueError: an engine without a way to read Parquet files here.
    """
    return {
        table: parquet_relation(table_folder(root.resolve(), table), engine, hive=False)
        for table in LAKE_TABLES
    }


def parquet_relation(path: Path, engine: Engine, *, hive: bool) -> str:
    """``engine``'s relation reading the Parquet file ``path``, or every Parquet file below
    the folder ``path``; with ``hive``, DuckDB adds the ``name=value`` folders' columns
    (Spark and ClickHouse always do: ``engines.CLICKHOUSE``'s settings).

    Raises:
        ValueError: an engine without a way to read Parquet files here.
    """
    files = str(path)
    if not files.endswith(".parquet"):
        files = f"{files.rstrip('/')}/**/*.parquet"
    if engine.name == "duckdb":
        return f"read_parquet({engine.string(files)}, hive_partitioning = {str(hive).lower()})"
    if engine.name == "clickhouse":
        return f"file({engine.string(files)}, Parquet)"
    if engine.name == "spark":
        # Spark's path-as-table form: the path in backquotes (a backquote doubled).
        return "parquet.`" + str(path).replace("`", "``") + "`"
    raise ValueError(f"{engine.name} reads no local Parquet files")


def write_parquet(data: pa.Table, path: Path) -> None:
    """Write ``data`` to the Parquet file ``path`` whole: beside it under a name of this
    write's own, then renamed into place, so a reader never sees half a file and two
    writers (two servers landing into one folder) never write into each other's; the last
    rename wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.partial"
    pq.write_table(data, partial)
    os.replace(partial, path)
