"""Analysis where the events already live: Spark, ClickHouse, or DuckDB over files.

Each reader here answers the same :class:`~ablab.services.ports.EventReader` questions as
the managed stores (``store.events``), from the same portable SQL, rendered for its engine
(``store.events.render``), over relations that stand in for ablab's event tables: a
Parquet lake of ablab's own events (``lake``), or the team's tables. Only the sums per
variant leave the engine.
"""

from __future__ import annotations

from ablab.store.warehouse.clickhouse import ClickHouseEvents
from ablab.store.warehouse.duckdb_files import DuckDBFiles
from ablab.store.warehouse.lake import LAKE_TABLES, lake_relations
from ablab.store.warehouse.spark import SparkEvents

__all__ = ["LAKE_TABLES", "ClickHouseEvents", "DuckDBFiles", "SparkEvents", "lake_relations"]
