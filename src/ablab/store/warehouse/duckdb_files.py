"""``DuckDBFiles``: the analysis run by an in-memory DuckDB over files (a lake's Parquet).

Nothing is copied: each statement reads the relations it names (``read_parquet(...)``),
and DuckDB prunes the row groups a filter rules out. The connection reads only the
``folders`` it is given: DuckDB's ``allowed_directories`` with external access off, the
configuration locked, so neither a source's path nor its SELECT reaches another file.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from ablab.store.events.engines import DUCKDB
from ablab.store.events.queries import AggregateQueries

__all__ = ["DuckDBFiles"]


class DuckDBFiles(AggregateQueries):
    """The analysis reads on an in-memory DuckDB, over ``relations`` (event table -> DuckDB
    relation, such as ``read_parquet('/lake/labels/**/*.parquet')``)."""

    engine = DUCKDB

    def __init__(self, relations: Mapping[str, str], *, folders: Sequence[Path]) -> None:
        self.relations = dict(relations)
        self._connection = duckdb.connect(":memory:")
        self._connection.execute("SET TimeZone = 'UTC'")
        allowed = [f"{folder.resolve()}/" for folder in folders]
        self._connection.execute("SET allowed_directories = ?", [allowed])
        self._connection.execute("SET enable_external_access = false")
        self._connection.execute("SET lock_configuration = true")
        self._lock = threading.Lock()

    def _fetch(
        self, sql: str, params: Sequence[object]
    ) -> tuple[list[str], list[tuple[object, ...]]]:
        with self._lock:
            cursor = self._connection.cursor()
        try:
            cursor.execute(sql, list(params))
            names = [column[0] for column in cursor.description or ()]
            return names, cursor.fetchall()
        finally:
            cursor.close()

    def _fetch_arrow(self, sql: str, params: Sequence[object]) -> pa.Table:
        with self._lock:
            cursor = self._connection.cursor()
        try:
            return cursor.sql(sql, params=list(params)).to_arrow_table()
        finally:
            cursor.close()

    def read_arrow(self, sql: str) -> pa.Table:
        """Run one statement of DuckDB's own SQL (no relations rendered): its result."""
        return self._fetch_arrow(sql, ())

    def ping(self) -> None:
        self._fetch("SELECT 1", ())

    def close(self) -> None:
        self._connection.close()
