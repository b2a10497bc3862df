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

from pathlib import Path

from ablab.store.events.engines import Engine
from ablab.store.events.schema import EVENT_TABLES

__all__ = ["LAKE_TABLES", "lake_relations", "table_folder"]

LAKE_TABLES = tuple(table.name for table in EVENT_TABLES.values())


def table_folder(root: Path, table: str) -> Path:
    return root / table


def lake_relations(root: Path, engine: Engine) -> dict[str, str]:
    """Event table -> ``engine``'s relation reading it from the lake at ``root``.

    Raises:
        ValueError: an engine without a way to read Parquet files here.
    """
    relations = {}
    for table in LAKE_TABLES:
        folder = table_folder(root.resolve(), table)
        files = engine.string(f"{folder}/**/*.parquet")
        if engine.name == "duckdb":
            relations[table] = f"read_parquet({files}, hive_partitioning = false)"
        elif engine.name == "clickhouse":
            relations[table] = f"file({files}, Parquet)"
        elif engine.name == "spark":
            # Spark's path-as-table form: the folder in backquotes (a backquote doubled).
            relations[table] = "parquet.`" + str(folder).replace("`", "``") + "`"
        else:
            raise ValueError(f"{engine.name} does not read ablab's lake from local files")
    return relations
