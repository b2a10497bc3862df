"""The events of one type being checked, the first problem of each, and the conversions
the column checks share (Python values to Arrow arrays, JSON to canonical text).

A check reports a problem for a whole column at once (:meth:`Rows.refuse` with a mask) or
for one row (:meth:`Rows.refuse_at`); each row keeps the first problem it is given, so the
order the checks run in is the order problems are reported in.
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
    """The events of one type and, for each, the first problem found (None: none yet)."""

    def __init__(
        self, events: Sequence[Mapping[str, Any]], positions: Sequence[int], *, plain: bool
    ) -> None:
        self.events = events
        self.positions = positions
        self.plain = plain  # every event a dict: ``dict.get`` can be mapped in C
        self.reasons: list[str | None] = [None] * len(events)

    def values(self, key: str) -> list[Any]:
        if self.plain:
            return list(map(dict.get, self.events, repeat(key)))  # type: ignore[arg-type]
        return [event.get(key) for event in self.events]

    def refuse(self, mask: Any, reason: str | Callable[[int], str]) -> None:
        """Give every row where ``mask`` holds (and with no problem yet) ``reason``.

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
            self.refuse_at(int(i), reason(int(i)) if callable(reason) else reason)

    def refuse_at(self, index: int, reason: str) -> None:
        if self.reasons[index] is None:
            self.reasons[index] = reason

    def ok(self) -> pa.Array:
        return pa.array([reason is None for reason in self.reasons], type=pa.bool_())


def typed(
    values: list[Any], arrow_type: pa.DataType, accept: Callable[[Any], bool]
) -> tuple[pa.Array, list[bool]]:
    """``values`` as an Arrow array, with the positions whose Python type was wrong.

    The whole column converts in one call; only when that fails is it redone value by value,
    with the wrong ones (by ``accept``) left null.
    """
    try:
        return pa.array(values, type=arrow_type), []
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        wrong = [v is not None and not accept(v) for v in values]
        kept = [None if bad else v for v, bad in zip(values, wrong, strict=True)]
        if arrow_type == pa.float64():
            # Arrow refuses integers beyond 2**53 as doubles; Python rounds them, as JSON does.
            kept = [float(v) if type(v) is int else v for v in kept]
        return pa.array(kept, type=arrow_type), wrong


def is_text(value: object) -> bool:
    return type(value) is str


def is_number(value: object) -> bool:
    if type(value) is float:
        return True
    return type(value) is int and -(2**63) <= value < 2**63


def is_flag(value: object) -> bool:
    return type(value) is bool


def canonical_json(value: object) -> str:
    """Compact JSON with sorted keys: an output and a label compare by this text.

    Raises:
        ValueError: the value is not JSON (a set, a non-string key, an integer beyond 64 bits).
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError as exc:
        raise ValueError(str(exc)) from None


_DUMP = partial(orjson.dumps, option=orjson.OPT_SORT_KEYS)


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
