"""Reading events from files for ``ablab events import``: JSON Lines, CSV or Parquet.

JSON Lines are read line by line as the wire format says, so each line is exactly one event
(a line that is not JSON becomes a bad event, not a failed import). CSV and Parquet are read
by DuckDB in chunks; empty cells are left out, zoned timestamps come back as ISO 8601 UTC
text, and timestamps without a zone stay without one (and are refused, as on the wire).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from ablab.errors import ValidationError

__all__ = ["count_events", "read_events"]

_TABULAR = {".csv": "read_csv_auto", ".parquet": "read_parquet", ".pq": "read_parquet"}
_LINES = (".jsonl", ".ndjson", ".json")


def _check(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in _TABULAR and suffix not in _LINES:
        raise ValidationError(f"cannot read {path.name!r}: use a .jsonl, .csv or .parquet file")
    if not path.is_file():
        raise ValidationError(f"file not found: {path}")
    return suffix


def count_events(path: Path) -> int:
    """How many events the file holds (for a progress bar)."""
    suffix = _check(path)
    if suffix in _LINES:
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    with duckdb.connect() as connection:
        try:
            found = connection.execute(
                f"SELECT count(*) FROM {_TABULAR[suffix]}(?)", [str(path)]
            ).fetchone()
        except duckdb.Error as exc:
            raise ValidationError(
                f"cannot read {path.name!r}: {str(exc).splitlines()[0]}"
            ) from None
    return int(found[0]) if found else 0


def read_events(path: Path, chunk: int = 10_000) -> Iterator[list[Any]]:
    """The file's events in chunks; a JSON line that does not parse is passed on as text."""
    suffix = _check(path)
    if suffix in _LINES:
        yield from _json_lines(path, chunk)
        return
    with duckdb.connect() as connection:
        connection.execute("SET enable_progress_bar = false")
        source = f"{_TABULAR[suffix]}(?)"
        try:
            described = connection.execute(f"DESCRIBE SELECT * FROM {source}", [str(path)])
            columns = [_select(name, kind) for name, kind, *_ in described.fetchall()]
            result = connection.execute(f"SELECT {', '.join(columns)} FROM {source}", [str(path)])
        except duckdb.Error as exc:
            raise ValidationError(
                f"cannot read {path.name!r}: {str(exc).splitlines()[0]}"
            ) from None
        names = [column[0] for column in result.description or []]
        while rows := result.fetchmany(chunk):
            yield [
                {
                    name: _plain(value)
                    for name, value in zip(names, row, strict=True)
                    if value is not None
                }
                for row in rows
            ]


def _json_lines(path: Path, chunk: int) -> Iterator[list[Any]]:
    events: list[Any] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                events.append(line.strip())  # reported as "an event must be a JSON object"
            if len(events) == chunk:
                yield events
                events = []
    if events:
        yield events


# Identifiers are text on the wire; a CSV of numeric ids would otherwise be read as numbers.
_TEXT_FIELDS = {"event_id", "unit_id", "prediction_id", "variant", "experiment", "name", "type"}


def _select(name: str, kind: str) -> str:
    """The column as selected: ids as text, zoned timestamps as ISO 8601 UTC text."""
    quoted = '"' + name.replace('"', '""') + '"'
    if name in _TEXT_FIELDS:
        return f"CAST({quoted} AS VARCHAR) AS {quoted}"
    if kind == "TIMESTAMP WITH TIME ZONE":
        return f"strftime({quoted} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ') AS {quoted}"
    return quoted


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
