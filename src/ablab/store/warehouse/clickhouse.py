"""``ClickHouseEvents``: the analysis run by ClickHouse, embedded (chdb) or on a server.

``target`` says where: ``chdb`` (ClickHouse in this process, reading local files) or a
``clickhouse://user:password@host:8123/database`` URL (a server, through
clickhouse-connect's HTTP client). Statements get their values written in as literals
(``render``) and end with ``join_use_nulls = 1``: without it ClickHouse fills a LEFT
JOIN's missing row with zeros and empty strings, and every prediction would count as
labelled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from urllib.parse import unquote, urlsplit

import pyarrow as pa

from ablab.errors import ValidationError
from ablab.extras import needs_extra
from ablab.store.events.engines import CLICKHOUSE
from ablab.store.events.queries import AggregateQueries
from ablab.store.warehouse.rows import arrow_rows

__all__ = ["ClickHouseEvents", "clickhouse_runner"]

Runner = Callable[[str], pa.Table]


def clickhouse_runner(target: str) -> Runner:
    """A function running one statement on ``target`` (``chdb`` or a ``clickhouse://`` URL)
    and giving its result as Arrow.

    Raises:
        MissingExtra: the package ``target`` needs is not installed (``ablab[clickhouse]``).
        ValidationError: ``target`` is neither.
    """
    if target == "chdb":
        with needs_extra("clickhouse", feature="analysis on embedded ClickHouse", package="chdb"):
            import chdb  # noqa: PLC0415 - the optional extra ablab[clickhouse]

        connection = chdb.connect(":memory:")  # type: ignore[no-untyped-call]
        return lambda sql: connection.query(sql, "ArrowTable")
    parts = urlsplit(target)
    if parts.scheme not in ("clickhouse", "clickhouses") or not parts.hostname:
        raise ValidationError(
            "a ClickHouse target is 'chdb' or clickhouse://user:password@host:port/database",
            details={"target": parts.scheme or target[:20]},
        )
    with needs_extra(
        "clickhouse", feature="analysis on a ClickHouse server", package="clickhouse-connect"
    ):
        import clickhouse_connect  # noqa: PLC0415 - the optional extra ablab[clickhouse]

    client = clickhouse_connect.get_client(
        host=parts.hostname,
        port=parts.port or (8443 if parts.scheme == "clickhouses" else 8123),
        username=unquote(parts.username or "default"),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/") or "default",
        secure=parts.scheme == "clickhouses",
    )
    return client.query_arrow


class ClickHouseEvents(AggregateQueries):
    """The analysis reads on ClickHouse, over ``relations`` (event table -> ClickHouse
    relation: a table name, or a table function such as ``file('/lake/labels/**/*.parquet',
    Parquet)``)."""

    engine = CLICKHOUSE

    def __init__(self, runner: Runner, relations: Mapping[str, str]) -> None:
        self._runner = runner
        self.relations = dict(relations)

    def _fetch(
        self, sql: str, params: Sequence[object]
    ) -> tuple[list[str], list[tuple[object, ...]]]:
        return arrow_rows(self._fetch_arrow(sql, params))

    def _fetch_arrow(self, sql: str, params: Sequence[object]) -> pa.Table:
        if params:
            raise ValueError("ClickHouse statements take their values as literals")
        return self._runner(sql)

    def ping(self) -> None:
        self._fetch("SELECT 1", ())

    def close(self) -> None:
        """Nothing to release: the connection closes with its last reference."""
