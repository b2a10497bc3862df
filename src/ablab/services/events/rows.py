"""The events of one type being checked, the first problem of each, and the conversions
the column checks share (Python values to Arrow arrays, JSON to canonical text).

A check reports a problem for a whole column at once (:meth:`Rows.refuse` with a mask) or
for one row (:meth:`Rows.refuse_at`), naming the field at fault; each row keeps the first
problem it is given, so the order the checks run in is the order problems are reported in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from itertools import repeat
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "Rows",
    "canonical_json",
    "is_flag",
    "is_number",
    "is_text",
    "json_texts",
    "quoted",
    "typed",
]


class Rows:
    """The events of one type and, for each, the first problem found: the field at fault
    (None when no one field is) and the reason; None while there is none."""

    def __init__(
        self, events: Sequence[Mapping[str, Any]], positions: Sequence[int], *, plain: bool
    ) -> None:
        self.events = events
        self.positions = positions
        self.plain = plain  # every event a dict: ``dict.get`` can be mapped in C
        self.problems: list[tuple[str | None, str] | None] = [None] * len(events)

    def values(self, key: str) -> list[Any]:
        if self.plain:
            return list(map(dict.get, self.events, repeat(key)))  # type: ignore[arg-type]
        return [event.get(key) for event in self.events]

    def refuse(self, field: str | None, mask: Any, reason: str | Callable[[int], str]) -> None:
        """Blame ``field`` with ``reason`` in every row where ``mask`` holds (and with no
        problem yet).

        ``mask`` is a list of booleans or an Arrow boolean array (nulls do not hold); the
        usual all-clear costs one count.
        """
        if isinstance(mask, pa.Array | pa.ChunkedArray):
            held = mask.true_count if isinstance(mask, pa.BooleanArray) else pc.any(mask).as_py()
            if not held:
                return
            mask = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
        elif not any(mask):
            return
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)):
            self.refuse_at(field, int(i), reason(int(i)) if callable(reason) else reason)

    def refuse_at(self, field: str | None, index: int, reason: str) -> None:
        if self.problems[index] is None:
            self.problems[index] = (field, reason)

    def all_good(self) -> bool:
        return self.problems.count(None) == len(self.problems)

    def ok(self) -> pa.Array:
        return pa.array([problem is None for problem in self.problems], type=pa.bool_())


def typed(
    values: list[Any], arrow_type: pa.DataType, accept: Callable[[Any], bool]
) -> tuple[pa.Array, list[bool]]:
    """``values`` as an Arrow array, with the positions whose Python type was wrong.

    The whole column converts in one call; only when that fails is it redone value by value,
    with the wrong ones (by ``accept``) left null.
    """
    try:
        if arrow_type != pa.string():
            return pa.array(values, type=arrow_type), []
        # Text is inferred, not imposed: told to make strings, Arrow would read bytes as
        # text; left to infer, it makes a binary column of them (for the same cost).
        inferred = pa.array(values)
        if inferred.type in (pa.string(), pa.null()):
            return inferred.cast(pa.string()), []
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    wrong = [v is not None and not accept(v) for v in values]
    kept = [None if bad else v for v, bad in zip(values, wrong, strict=True)]
    if arrow_type == pa.float64():
        # Arrow refuses integers beyond 2**53 as doubles; Python rounds them, as JSON does.
        kept = [float(v) if type(v) is int else v for v in kept]
    return pa.array(kept, type=arrow_type), wrong


def is_text(value: object) -> bool:
    # A str subclass (a str enum member) is its text, as Arrow and the wire schema read it.
    return isinstance(value, str)


def is_number(value: object) -> bool:
    if type(value) is float:
        return True
    return type(value) is int and -(2**63) <= value < 2**63


def is_flag(value: object) -> bool:
    return type(value) is bool


# Sorted keys make the text canonical. The passthrough options make orjson refuse, as
# domain.limits.inspect_json does, what it would otherwise write but JSON does not hold: a
# datetime, a dataclass, a subclass of str, int, dict or list (a str enum member).
_CANONICAL = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def canonical_json(value: object) -> str:
    """Compact JSON with sorted keys: an output and a label compare by this text.

    Raises:
        ValueError: the value is not plain JSON (a set, a datetime, a non-string key, an
            integer beyond 64 bits).
    """
    try:
        return orjson.dumps(value, option=_CANONICAL).decode()
    except orjson.JSONEncodeError as exc:
        raise ValueError(str(exc)) from None


_DUMP = partial(orjson.dumps, option=_CANONICAL)


def json_texts(values: list[Any]) -> tuple[pa.Array, bool] | None:
    """Canonical JSON of every value in one pass, and whether one may not be plain JSON;
    None if one is not JSON at all.

    Each value is dumped by a C call mapped over the list; the results are joined by NUL
    (which JSON text never holds unescaped), decoded once and split back. orjson writes a
    NUL in a string as ``\\u0000`` and NaN or infinity as ``null``: when the joined text holds
    neither (the usual batch), no value needs a closer look.
    """
    present = [v for v in values if v is not None] if None in values else values
    try:
        dumped = list(map(_DUMP, present))
    except orjson.JSONEncodeError:
        return None
    joined = b"\x00".join(dumped)
    doubtful = b"\\u0000" in joined or b"null" in joined
    texts: list[str | None] = list(joined.decode().split("\x00")) if present else []
    if len(present) < len(values):
        found = iter(texts)
        texts = [None if value is None else next(found) for value in values]
    return pa.array(texts, type=pa.string()), doubtful


_QUOTED_LENGTH = 100


def quoted(value: object) -> str:
    """``repr(value)``, cut: a reason never echoes a megabyte back, once per event."""
    shown = repr(value) if not isinstance(value, int) or abs(value) < 2**63 else "a huge integer"
    return shown if len(shown) <= _QUOTED_LENGTH else f"{shown[:_QUOTED_LENGTH]}..."
