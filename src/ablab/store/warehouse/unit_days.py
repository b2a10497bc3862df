"""A source's per-unit-per-day totals, kept so a refresh reads only the days that changed.

Scoring every prediction against its latest label is most of what an analysis costs on a
team's engine (issue 16 measured 12.5 of 14 s at 20M predictions), and a warehouse bills
each scan. The totals of a unit add up across days, so each experiment's are kept per UTC
day (``model_metric_sql.unit_days_query``), as day-partitioned Parquet every engine reads::

    <root>/<source id>/<shape>/v<version>/day=2026-12-01/totals.parquet

``shape`` is a digest of what a kept row means (the experiment, its time window, and
CUPED's pre-window and earlier experiments when their predictions are the covariate):
another shape is kept apart, and no name a user chose reaches a path or a glob.

A refresh reads, from the engine, the days from the last day it kept minus the source's
``late_days`` (labels arrive after their predictions, and a day still receiving events
was kept half-full) and keeps the days before as they were: with a partition column the
engine reads only those partitions (``sources.external_relation``).
A label that arrives more than ``late_days`` after its prediction's day is counted only by
a full refresh (``forget``).

Each refresh writes a new version beside the last (the days it keeps linked, not copied)
and then names it in ``kept.json``, so a reader always sees one whole version; the version
before stays for readers still on it, older ones are removed. One refresh of a shape runs
at a time, in this process and across the servers sharing the folder (a file lock).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ablab.services.ports import MetricRequest
from ablab.store.events.model_metric_sql import reads_prior
from ablab.store.warehouse.lake import write_parquet

__all__ = ["UNIT_DAY_SCHEMA", "KeptDays", "UnitDays", "day_start"]

# One schema on every engine (DuckDB sums to HUGEINT, ClickHouse to UInt64, Spark to
# BIGINT), so the kept files of one experiment read as one table.
UNIT_DAY_SCHEMA = pa.schema(
    [
        ("is_prior", pa.int64()),
        ("unit_id", pa.string()),
        ("variant", pa.string()),
        ("predictions", pa.int64()),
        ("latency", pa.float64()),
        ("errors", pa.int64()),
        ("labelled", pa.int64()),
        ("correct", pa.int64()),
        ("first_received", pa.timestamp("us", tz="UTC")),
    ]
)
_MANIFEST = "kept.json"
_EMPTY_DAY = "day=1970-01-01"
_FILE = "totals.parquet"


@dataclass(frozen=True, slots=True)
class KeptDays:
    """What a refresh left: the folder of the version to read, the days it read from the
    engine (``read_from``, None when it read none) and the last day kept."""

    folder: Path
    read_from: date | None
    through: date | None


class UnitDays:
    """The kept per-unit days of every sourced experiment under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._lock = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}

    def refresh(
        self,
        source_id: str,
        request: MetricRequest,
        *,
        first_day: date,
        late_days: int,
        read: Callable[[date], pa.Table],
    ) -> KeptDays:
        """Bring ``request``'s kept days up to date: ``read(day)`` gives the engine's rows
        (``AggregateQueries.unit_days``) for the predictions from ``day`` on."""
        shape = self._shape_folder(source_id, request)
        with self._shape_lock(shape), _folder_lock(shape):
            kept_version, through = _read_manifest(shape)
            start = first_day
            if through is not None:
                start = max(first_day, through - timedelta(days=late_days))
            rows = _conformed(read(start))
            days = _split_by_day(rows)
            version = kept_version + 1
            folder = shape / f"v{version}"
            if folder.exists():  # a refresh that stopped half-way
                shutil.rmtree(folder)
            if kept_version:
                _link_days_before(shape / f"v{kept_version}", folder, start)
            for day, part in days.items():
                write_parquet(part.cast(UNIT_DAY_SCHEMA), folder / f"day={day.isoformat()}" / _FILE)
            write_parquet(UNIT_DAY_SCHEMA.empty_table(), folder / _EMPTY_DAY / _FILE)
            last = max([*days, *([through] if through else [])], default=None)
            _write_manifest(shape, version, last)
            _remove_versions_before(shape, version - 1)
            return KeptDays(folder, start, last)

    def forget(self, source_id: str) -> None:
        """Drop every day kept from the source: the next refresh reads all of them."""
        with self._lock:
            shutil.rmtree(self.root / source_id, ignore_errors=True)

    def _shape_folder(self, source_id: str, request: MetricRequest) -> Path:
        shape = {
            "experiment": request.experiment_id,
            "since": _text(request.since),
            "until": _text(request.until),
            "prior": (
                [_text(t) for t in request.pre_window or ()] + list(request.prior_experiment_ids)
                if reads_prior(request)
                else None
            ),
        }
        digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]
        return self.root / source_id / digest

    def _shape_lock(self, shape: Path) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(shape, threading.Lock())


@contextmanager
def _folder_lock(shape: Path) -> Iterator[None]:
    """The shape's lock across processes (servers sharing ``root``): one refresh at a time."""
    shape.mkdir(parents=True, exist_ok=True)
    with (shape / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _text(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _conformed(rows: pa.Table) -> pa.Table:
    """The engine's rows with ``day`` as a UTC date and the rest in UNIT_DAY_SCHEMA."""
    day = rows.column("day")
    if pa.types.is_timestamp(day.type) and day.type.tz is None:
        day = pc.assume_timezone(day, "UTC")  # a naive time here is UTC (``arrow_rows``)
    days = pc.cast(pc.cast(day, pa.timestamp("us", tz="UTC")), pa.date32())
    columns = [rows.column(f.name).cast(f.type) for f in UNIT_DAY_SCHEMA]
    return pa.Table.from_arrays([*columns, days], names=[*UNIT_DAY_SCHEMA.names, "day"])


def _split_by_day(rows: pa.Table) -> dict[date, pa.Table]:
    found = {}
    for day in pc.unique(rows.column("day")).to_pylist():
        if day is None:  # pragma: no cover - every prediction has a time
            continue
        part = rows.filter(pc.equal(rows.column("day"), pa.scalar(day, pa.date32())))
        found[day] = part.drop_columns(["day"])
    return found


def _link_days_before(previous: Path, folder: Path, start: date) -> None:
    """The previous version's days before ``start`` in the new version, as hard links (the
    files never change once written)."""
    for day_folder in previous.glob("day=*"):
        day = date.fromisoformat(day_folder.name.removeprefix("day="))
        if day < start and day_folder.name != _EMPTY_DAY:
            target = folder / day_folder.name
            target.mkdir(parents=True, exist_ok=True)
            os.link(day_folder / _FILE, target / _FILE)


def _read_manifest(shape: Path) -> tuple[int, date | None]:
    """The version kept (0: none yet) and the last day it holds."""
    try:
        found = json.loads((shape / _MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 0, None
    through = found.get("through")
    return int(found["version"]), date.fromisoformat(through) if through else None


def _write_manifest(shape: Path, version: int, through: date | None) -> None:
    partial = shape / f".{_MANIFEST}.{uuid.uuid4().hex}.partial"
    text = json.dumps({"version": version, "through": through.isoformat() if through else None})
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, shape / _MANIFEST)


def _remove_versions_before(shape: Path, version: int) -> None:
    for folder in shape.glob("v*"):
        number = folder.name.removeprefix("v")
        if number.isdigit() and int(number) < version:
            shutil.rmtree(folder, ignore_errors=True)
