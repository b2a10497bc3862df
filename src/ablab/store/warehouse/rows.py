"""Rows of an Arrow result as the managed stores give them (``store.events.rows`` reads them)."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

__all__ = ["arrow_rows"]


def arrow_rows(table: pa.Table) -> tuple[list[str], list[tuple[object, ...]]]:
    """Column names and rows of ``table``; a time with a zone becomes the naive UTC time, as
    DuckDB's and PostgreSQL's time buckets are."""
    columns = [[_plain(value) for value in column.to_pylist()] for column in table.columns]
    return list(table.column_names), list(zip(*columns, strict=True)) if columns else []


def _plain(value: object) -> object:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
