"""One portable statement (``portable``) as the SQL of one engine, with its parameters.

sqlglot parses the portable text (DuckDB's syntax) and writes the engine's; before it
does, three kinds of nodes become plain identifiers that no dialect rewrites, and are
spelled afterwards by ablab itself:

- each ``?`` becomes ``ablab_param_<i>`` (numbered in the text's order); after writing,
  each is the driver's marker again, the values reordered to the order they now appear
  in, or, for an engine that takes no parameters, the value as a literal sqlglot escapes;
- each hook call (``ablab_p95(...)`` and the others) becomes ``ablab_hook_<k>``, spelled
  by the :class:`~ablab.store.events.engines.Engine` over its arguments as the engine
  writes them (inner hooks first);
- each event table the source maps elsewhere becomes ``ablab_relation_<table>``, replaced
  by the source's SQL for that table.

Every selected ``t.x`` is named ``x`` explicitly, as standard SQL names it anyway.

The text up to the values depends only on the statement, the engine and the source, and
is cached, so a repeated analysis does not parse again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.tokenizer_core import TokenType

from ablab.store.events.engines import Engine
from ablab.store.events.portable import HOOKS

__all__ = ["Rendered", "literal", "render"]

Rendered = tuple[str, tuple[object, ...]]

_PARAM = re.compile(r"\bablab_param_(\d+)\b", re.IGNORECASE)
_HOOK = re.compile(r"\bablab_hook_(\d+)\b", re.IGNORECASE)
_RELATION = re.compile(r"\bablab_relation_([a-z_]+)\b", re.IGNORECASE)


def render(
    sql: str,
    params: Sequence[object],
    engine: Engine,
    relations: Mapping[str, str] | None = None,
) -> Rendered:
    """``sql`` (portable, ``?`` markers) as ``engine``'s statement and its parameters.

    Args:
        sql: A statement of the portable subset.
        params: One value per ``?``, in the text's order.
        engine: The engine to write for.
        relations: Event table name -> the engine's SQL of a relation that stands in for it
            (a table name, a table function or a parenthesised SELECT); tables not named
            are read as they are.
    """
    frozen = tuple(sorted((relations or {}).items()))
    text = _spelled(sql, engine, frozen)
    if engine.marker is None:
        return _PARAM.sub(lambda m: literal(params[int(m.group(1))], engine), text), ()
    order = [int(m.group(1)) for m in _PARAM.finditer(text)]
    return _PARAM.sub(engine.marker.replace("\\", "\\\\"), text), tuple(params[i] for i in order)


def literal(value: object, engine: Engine) -> str:
    """``value`` as a SQL literal of ``engine``.

    Raises:
        TypeError: a value of a type the analysis never passes.
        ValueError: a float that is not finite.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        if not math.isfinite(value):
            raise ValueError(f"a parameter is not a finite number: {value!r}")
        return repr(float(value))
    if isinstance(value, str):
        return engine.string(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"a time parameter has no time zone: {value!r}")
        utc = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return engine.timestamp.format(text=engine.string(utc))
    raise TypeError(f"no SQL literal for a parameter of type {type(value).__name__}")


@lru_cache(maxsize=512)
def _spelled(sql: str, engine: Engine, relations: tuple[tuple[str, str], ...]) -> str:
    tree = sqlglot.parse_one(_numbered(sql), read="duckdb")
    hooks = _replace_hooks(tree, engine)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    mapped = dict(relations)
    for table in list(tree.find_all(exp.Table)):
        if table.name in mapped and table.name not in ctes and not table.args.get("db"):
            alias = table.alias or table.name
            table.replace(
                exp.Table(this=exp.to_identifier(f"ablab_relation_{table.name}")).as_(
                    alias, quoted=False
                )
            )
    _name_qualified_columns(tree)
    if not engine.materialized_ctes:
        for cte in tree.find_all(exp.CTE):
            cte.set("materialized", None)
    text = tree.sql(dialect=engine.sqlglot)
    while _HOOK.search(text):
        text = _HOOK.sub(lambda m: hooks[int(m.group(1))], text)
    text = _RELATION.sub(lambda m: mapped[m.group(1).lower()], text)
    return f"{text}\n{engine.settings}" if engine.settings else text


def _name_qualified_columns(tree: exp.Expr) -> None:
    """Give ``SELECT t.x`` its standard name, ``t.x AS x``: ClickHouse names it ``t.x``, and
    an outer ``t2.x`` would not find it."""
    for select in tree.find_all(exp.Select):
        for projection in select.expressions:
            if (
                isinstance(projection, exp.Column)
                and projection.table
                and not isinstance(projection.this, exp.Star)
            ):
                projection.replace(exp.alias_(projection.copy(), projection.name))


def _numbered(sql: str) -> str:
    """``sql`` with its ``?`` markers named ``ablab_param_0``, ``ablab_param_1``, ... in order
    (found by sqlglot's tokenizer, so a ``?`` inside a string literal stays)."""
    spans = [
        (token.start, token.end)
        for token in sqlglot.tokenize(sql, read="duckdb")
        if token.token_type == TokenType.PLACEHOLDER
    ]
    pieces: list[str] = []
    last = 0
    for i, (start, end) in enumerate(spans):
        pieces.extend((sql[last:start], f"ablab_param_{i}"))
        last = end + 1
    pieces.append(sql[last:])
    return "".join(pieces)


def _replace_hooks(tree: exp.Expr, engine: Engine) -> list[str]:
    """Swap each hook call for ``ablab_hook_<k>``, deepest first; the spelled hooks by k."""
    calls = [
        node
        for node in tree.find_all(exp.Anonymous)
        if isinstance(node.this, str) and node.this.lower() in HOOKS
    ]
    calls.sort(key=lambda node: -node.depth)
    spelled: list[str] = []
    for call in calls:
        spelled.append(_spell(call, engine))
        call.replace(exp.column(f"ablab_hook_{len(spelled) - 1}"))
    return spelled


def _spell(call: exp.Anonymous, engine: Engine) -> str:
    name = call.this.lower()
    args = call.expressions
    if name == "ablab_attribute":
        key = args[1]
        if not isinstance(key, exp.Literal) or not key.is_string:
            raise ValueError("ablab_attribute takes a string literal key")
        return engine.attribute(args[0].sql(dialect=engine.sqlglot), key.this)
    if name == "ablab_bucket":
        interval = args[0]
        if not isinstance(interval, exp.Literal) or interval.this not in ("minute", "hour", "day"):
            raise ValueError("ablab_bucket takes 'minute', 'hour' or 'day'")
        return engine.bucket(interval.this, args[1].sql(dialect=engine.sqlglot))
    template = {
        "ablab_p95": engine.p95,
        "ablab_json_number": engine.json_number,
        "ablab_bytewise": engine.bytewise,
        "ablab_instant": engine.instant,
    }[name]
    return template.format(x=args[0].sql(dialect=engine.sqlglot))
