"""The engines a server reaches for analysis sources, as its operator set them up.

``AnalysisEngines`` turns a stored source (``domain.sources``) into relations of its engine
(``sources.external_relation``) and a reader over them, and refuses what the operator did
not allow, whatever the request says:

- a path must lie inside ``ABLAB_SOURCE_FOLDERS`` (resolved, so ``..`` and links do not
  leave them); DuckDB's connection reads those folders and nothing else, SELECTs included;
- Spark and ClickHouse run only where ``ABLAB_SPARK_MASTER`` and ``ABLAB_CLICKHOUSE`` say,
  and a SELECT runs on them only with ``ABLAB_SOURCE_SELECT=true``;
- a table name is an identifier, quoted, never text spliced into SQL.

Experiments are named in the team's tables by ablab's experiment name (or id); an event
type the source leaves out has no events. The model metrics of a sourced experiment are
summed from its kept per-unit days (``unit_days``), refreshed from the engine first.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from ablab.domain.sources import EVENT_KINDS, AnalysisSource, SourceTable
from ablab.errors import AblabError, Unavailable, ValidationError
from ablab.services.ports import EventReader, MetricRequest
from ablab.settings import Settings
from ablab.store.events.engines import CLICKHOUSE, DUCKDB, SPARK, Engine
from ablab.store.events.schema import EVENT_TABLES
from ablab.store.warehouse.clickhouse import ClickHouseEvents, clickhouse_runner
from ablab.store.warehouse.duckdb_files import DuckDBFiles
from ablab.store.warehouse.lake import parquet_relation
from ablab.store.warehouse.sources import (
    ExternalTable,
    check_relation,
    external_relation,
    no_events,
)
from ablab.store.warehouse.spark import SparkEvents, spark_session
from ablab.store.warehouse.unit_days import KeptDays, UnitDays, day_start

__all__ = ["AnalysisEngines"]

T = TypeVar("T")

_ENGINES = {"duckdb": DUCKDB, "spark": SPARK, "clickhouse": CLICKHOUSE}


class AnalysisEngines:
    """The operator's engines: checks sources (``ports.SourceChecker``) and reads them."""

    def __init__(
        self,
        folders: Sequence[Path] = (),
        *,
        spark_master: str | None = None,
        clickhouse: str | None = None,
        allow_select: bool = False,
        unit_days_dir: Path | None = None,
    ) -> None:
        self.folders = tuple(folder.resolve() for folder in folders)
        self._unit_days_dir = unit_days_dir
        self._unit_days: UnitDays | None = None
        self.spark_master = spark_master
        self.clickhouse = clickhouse
        self.allow_select = allow_select
        self._lock = threading.Lock()
        self._spark: Any = None
        self._clickhouse: Callable[[str], pa.Table] | None = None
        # (source id, question) -> (when it was read, the answer), for refresh_minutes.
        self._answers: dict[tuple[str, Hashable], tuple[float, object]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> AnalysisEngines:
        clickhouse = settings.clickhouse.get_secret_value() if settings.clickhouse else None
        return cls(
            settings.source_folders,
            spark_master=settings.spark_master,
            clickhouse=clickhouse,
            allow_select=settings.source_select,
            unit_days_dir=settings.unit_days_dir or settings.home / "unit-days",
        )

    @property
    def unit_days(self) -> UnitDays:
        """The kept per-unit days: in the operator's folder, or one of this process's own
        (made at first use; a restart then reads every day once more)."""
        with self._lock:
            if self._unit_days is None:
                root = self._unit_days_dir or Path(tempfile.mkdtemp(prefix="ablab-unit-days-"))
                root.mkdir(parents=True, exist_ok=True)
                self._unit_days = UnitDays(root)
            return self._unit_days

    def check(self, source: AnalysisSource) -> dict[str, int]:
        """Read a sample of each table of ``source``: its rows per event type."""
        engine = self._engine(source)
        with self._connection(source) as run:
            found = {}
            for kind, table in source.tables.items():
                external = self._external(kind, table, engine)
                relation = external_relation(external, engine, project_id=source.project_id)
                found[kind] = check_relation(external, relation, run, engine)
        return found

    @contextmanager
    def reader(
        self,
        source: AnalysisSource,
        experiment_ids: Mapping[str, str],
        since: date | None = None,
        kept: Path | None = None,
    ) -> Iterator[DuckDBFiles | SparkEvents | ClickHouseEvents]:
        """A reader of ``source``'s events; ``experiment_ids`` maps the names the tables
        give experiments (ablab's names) to ablab's ids; a table with a partition column
        is read from the day ``since`` on; ``kept`` is a folder of kept per-unit days
        (``unit_days``) the model metrics are summed from."""
        engine = self._engine(source)
        relations = {}
        folders = self.folders
        if kept is not None:
            relations["unit_days"] = parquet_relation(kept, engine, hive=False)
            folders = (*folders, kept)
        for kind in EVENT_KINDS:
            name = EVENT_TABLES[kind].name
            table = source.tables.get(kind)
            if table is None:
                relations[name] = no_events(kind, engine)
                continue
            external = self._external(kind, table, engine)
            relations[name] = external_relation(
                external,
                engine,
                project_id=source.project_id,
                experiment_ids=experiment_ids,
                since=since,
            )
        if engine is SPARK:
            yield SparkEvents(self._spark_session(), relations)
        elif engine is CLICKHOUSE:
            yield ClickHouseEvents(self._clickhouse_runner(), relations)
        else:
            files = DuckDBFiles(relations, folders=folders)
            try:
                yield files
            finally:
                files.close()

    def answer(
        self,
        source: AnalysisSource,
        experiment_ids: Mapping[str, str],
        question: Hashable,
        ask: Callable[[EventReader], T],
        since: date | None = None,
        *,
        kept: MetricRequest | None = None,
    ) -> T:
        """``ask``'s answer from ``source``: kept for its ``refresh_minutes`` (by
        ``question``), or read from its engine each time without them. With ``kept``, the
        reader sums the model metrics from that request's kept per-unit days, refreshed
        first (``refresh_kept``)."""
        if source.refresh_minutes is None:
            return self._read(source, experiment_ids, ask, since, kept)
        key = (source.id, (question, since))
        now = time.monotonic()
        with self._lock:
            answered = self._answers.get(key)
        if answered is not None and now - answered[0] < source.refresh_minutes * 60:
            return answered[1]  # type: ignore[return-value]
        found = self._read(source, experiment_ids, ask, since, kept)
        with self._lock:
            self._answers[key] = (now, found)
        return found

    def _read(
        self,
        source: AnalysisSource,
        experiment_ids: Mapping[str, str],
        ask: Callable[[EventReader], T],
        since: date | None,
        kept: MetricRequest | None = None,
    ) -> T:
        """``ask`` of the source's engine; what the engine cannot do is the source's state
        (its files or tables changed since it was added), answered as ``Unavailable``."""
        try:
            folder = None
            if kept is not None:
                folder = self.refresh_kept(source, experiment_ids, kept, since).folder
            with self.reader(source, experiment_ids, since, folder) as reader:
                return ask(reader)
        except AblabError:
            raise
        except Exception as exc:  # the engine's own error: a missing file, table or column
            lines = str(exc).strip().splitlines()
            reason = lines[0][:300] if lines else type(exc).__name__
            raise Unavailable(
                f"the source {source.name!r} cannot be read: {reason}",
                details={"source": source.name},
            ) from None

    def refresh_kept(
        self,
        source: AnalysisSource,
        experiment_ids: Mapping[str, str],
        request: MetricRequest,
        since: date | None,
    ) -> KeptDays:
        """Read the days of ``request``'s per-unit totals that may have changed from the
        engine, the last ``late_days`` of the source before the last day kept on (all from
        ``since`` the first time), and keep them (``unit_days``)."""

        def read(start: date) -> pa.Table:
            with self.reader(source, experiment_ids, start) as reader:
                return reader.unit_days(request, day_start(start))

        return self.unit_days.refresh(
            source.id,
            request,
            first_day=since or date(1970, 1, 1),
            late_days=source.late_days,
            read=read,
        )

    def forget(self, source: AnalysisSource, *, kept: bool = False) -> None:
        """Drop the answers kept from ``source``; with ``kept``, its kept per-unit days too
        (the next read scans every day again)."""
        with self._lock:
            for key in [k for k in self._answers if k[0] == source.id]:
                del self._answers[key]
        if kept:
            self.unit_days.forget(source.id)

    def _engine(self, source: AnalysisSource) -> Engine:
        engine = _ENGINES[source.engine]
        if engine is SPARK and not self.spark_master:
            raise ValidationError(
                "this server runs no Spark: its operator sets ABLAB_SPARK_MASTER",
                details={"engine": "spark"},
            )
        if engine is CLICKHOUSE and not self.clickhouse:
            raise ValidationError(
                "this server runs no ClickHouse: its operator sets ABLAB_CLICKHOUSE",
                details={"engine": "clickhouse"},
            )
        return engine

    def _external(self, kind: str, table: SourceTable, engine: Engine) -> ExternalTable:
        path = None
        if table.path is not None:
            path = Path(table.path).resolve()
            if not any(path.is_relative_to(folder) for folder in self.folders):
                raise ValidationError(
                    f"the {kind} path is outside the folders this server reads sources from "
                    "(ABLAB_SOURCE_FOLDERS)",
                    details={"kind": kind},
                )
        if table.select is not None and engine is not DUCKDB and not self.allow_select:
            raise ValidationError(
                f"this server runs no SELECT on {engine.name}: name a table or a path "
                "(its operator may allow SELECTs with ABLAB_SOURCE_SELECT)",
                details={"kind": kind},
            )
        if table.table is not None and engine is DUCKDB:
            raise ValidationError(
                f"DuckDB sources read files: give the {kind} table a path or a select",
                details={"kind": kind},
            )
        return ExternalTable(
            kind,  # type: ignore[arg-type]
            table=table.table,
            path=path,
            format=table.format,  # type: ignore[arg-type]
            select=table.select,
            columns=dict(table.columns),
            partition=table.partition,
            dedupe=table.dedupe,
        )

    @contextmanager
    def _connection(self, source: AnalysisSource) -> Iterator[Callable[[str], pa.Table]]:
        engine = self._engine(source)
        if engine is SPARK:
            session = self._spark_session()
            yield lambda sql: session.sql(sql).toArrow()
        elif engine is CLICKHOUSE:
            yield self._clickhouse_runner()
        else:
            files = DuckDBFiles({}, folders=self.folders)
            try:
                yield files.read_arrow
            finally:
                files.close()

    def _spark_session(self) -> Any:
        with self._lock:
            if self._spark is None:
                assert self.spark_master is not None
                self._spark = spark_session(self.spark_master)
            return self._spark

    def _clickhouse_runner(self) -> Callable[[str], pa.Table]:
        with self._lock:
            if self._clickhouse is None:
                assert self.clickhouse is not None
                self._clickhouse = clickhouse_runner(self.clickhouse)
            return self._clickhouse
