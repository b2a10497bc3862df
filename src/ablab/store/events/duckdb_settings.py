"""The DuckDB settings of the event store: what bounds an analysis's memory and CPU.

DuckDB's defaults suit a notebook, not a server that also answers requests: its buffer
manager may take 80% of the machine's memory (the analysis of 100M predictions peaked at
19 GB of 24 here), and a query takes every core.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_MEMORY_LIMIT", "duckdb_config"]

# What DuckDB's buffer manager may hold before its joins, aggregations and sorts spill to
# disk. The process's peak is this plus what lives outside the buffer manager (Python,
# Arrow batches being ingested, query results), about 1 GB more at 100M predictions.
DEFAULT_MEMORY_LIMIT = "4GB"


def duckdb_config(
    path: Path, memory_limit: str | None, threads: int | None
) -> dict[str, str | bool | int | float | list[str]]:
    """The connection settings of the DuckDB event store at ``path``.

    Args:
        path: The database file; spilled data goes to a folder beside it.
        memory_limit: DuckDB's ``memory_limit`` (``"4GB"``, ``"50%"``); None for
            :data:`DEFAULT_MEMORY_LIMIT`.
        threads: Threads per query; None for DuckDB's default, one per core.

    ``preserve_insertion_order`` is off: every analysis query aggregates, and those that
    return rows in an order say so with ``ORDER BY``; keeping the order of inserted rows
    through a scan makes DuckDB buffer rows it could otherwise stream.
    """
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": memory_limit or DEFAULT_MEMORY_LIMIT,
        # Spilling must have a place: beside the events, on the same disk. DuckDB's default
        # is the same folder, named here so that an in-memory store would spill too.
        "temp_directory": os.fspath(path.with_name(path.name + ".tmp")),
        "preserve_insertion_order": False,
    }
    if threads is not None:
        config["threads"] = threads
    return config
