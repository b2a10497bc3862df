"""Checking a batch of events column by column, and turning the good ones into Arrow tables.

Events arrive as JSON objects. They are grouped by type, each field is gathered into one
column and converted to Arrow in one call; the checks then run on whole columns. Python
touches each value about once, so a batch of 50,000 events costs a few Python operations
per field instead of a dozen function calls per event. When a column holds a value of the
wrong type (a number where text belongs), only that column is checked value by value, to
name the events at fault.

Each bad event gets the first problem found, with its index in the batch; the checks run
in a fixed order (id, timestamp, experiment, unit, variant, then the type's own fields).

The limits are those of :mod:`ablab.domain.limits` (README.md, "Limits"): ids of at most
256 characters without control characters; timestamps from 2000-01-01T00:00Z to five
minutes ahead of the server's clock; finite metric values within ±2**53; latencies from 0
to a day; attributes (an object of at most 100 keys), outputs and labels within their size
in canonical JSON bytes, with finite numbers and no NUL. Each check first asks the whole
column one cheap question (its minimum and maximum, whether its text is plain ASCII, whether
the joined JSON holds a NUL or a null); only a column that fails it is looked at row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from itertools import repeat
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ablab.domain.experiments import Experiment
from ablab.domain.limits import (
    EARLIEST_EVENT_TIME,
    MAX_ATTRIBUTE_KEYS,
    MAX_ATTRIBUTES_BYTES,
    MAX_CLOCK_SKEW,
    MAX_ID_LENGTH,
    MAX_LATENCY_MS,
    MAX_METRIC_MAGNITUDE,
    MAX_OUTPUT_BYTES,
    check_identifier,
    control_character,
    json_problem,
)
from ablab.domain.metrics import validate_metric_name
from ablab.errors import ValidationError
from ablab.services.ports import EVENT_COLUMNS, EventBatch

__all__ = [
    "EVENT_TYPES",
    "MAX_CLOCK_SKEW",
    "MAX_ID_LENGTH",
    "BatchChecker",
    "canonical_json",
]

EVENT_TYPES = ("exposure", "prediction", "label", "metric")

_UTC_MICROS = pa.timestamp("us", tz="UTC")
# Unicode's control characters (category Cc), as RE2 reads them.
_CONTROL_PATTERN = r"[\x00-\x1f\x7f-\x9f]"


def canonical_json(value: object) -> str:
    """Compact JSON with sorted keys: an output and a label compare by this text.

    Raises:
        ValueError: the value is not JSON (a set, a non-string key, an integer beyond 64 bits).
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError as exc:
        raise ValueError(str(exc)) from None


class _Rows:
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


def _typed(
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


_DUMP = partial(orjson.dumps, option=orjson.OPT_SORT_KEYS)


def _json_texts(values: list[Any]) -> tuple[pa.Array, bool] | None:
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


def _is_text(value: object) -> bool:
    return type(value) is str


def _is_number(value: object) -> bool:
    if type(value) is float:
        return True
    return type(value) is int and -(2**63) <= value < 2**63


def _is_flag(value: object) -> bool:
    return type(value) is bool


_OBJECT_OR_NOTHING = frozenset({dict, type(None)})
_QUOTED_LENGTH = 100


def _quoted(value: object) -> str:
    """``repr(value)``, cut: a reason never echoes a megabyte back, once per event."""
    shown = repr(value) if not isinstance(value, int) or abs(value) < 2**63 else "a huge integer"
    return shown if len(shown) <= _QUOTED_LENGTH else f"{shown[:_QUOTED_LENGTH]}..."


def _reference_problem(ref: str, key: str) -> str | None:
    """Why ``ref`` cannot name anything (blank, too long, a control character), or None."""
    try:
        check_identifier(ref, key)
    except ValidationError as exc:
        return exc.message
    return None


class BatchChecker:
    """Checks one batch; :meth:`check` returns the good events and the reasons of the rest."""

    def __init__(
        self,
        resolve: Callable[[str], Experiment | None],
        project_id: str,
        now: datetime,
        default_experiment: str | None,
    ) -> None:
        self._resolve = resolve
        self._project_id = project_id
        self._now = now
        self._latest = now + MAX_CLOCK_SKEW
        self._default_experiment = default_experiment

    def check(self, events: Sequence[Any]) -> tuple[EventBatch, list[tuple[int, str]]]:
        """Tables of the good events by type, and (index, reason) of each bad one."""
        plain = set(map(type, events)) == {dict}
        kinds = list(map(dict.get, events, repeat("type"))) if plain else []
        if kinds and kinds[0] in EVENT_TYPES and kinds.count(kinds[0]) == len(kinds):
            # The usual batch: one type only, no regrouping needed.
            return self._check_groups({kinds[0]: (events, range(len(events)))}, [], plain=True)
        groups: dict[str, tuple[list[Mapping[str, Any]], list[int]]] = {
            kind: ([], []) for kind in EVENT_TYPES
        }
        problems: list[tuple[int, str]] = []
        for index, event in enumerate(events):
            if type(event) is not dict and not isinstance(event, Mapping):
                problems.append((index, "an event must be a JSON object"))
                continue
            kind = event.get("type")
            group = groups.get(kind) if isinstance(kind, str) else None
            if group is None:
                problems.append((index, _bad_type(event)))
                continue
            group[0].append(event)
            group[1].append(index)
        return self._check_groups(groups, problems, plain=plain)

    def _check_groups(
        self,
        groups: Mapping[str, tuple[Sequence[Mapping[str, Any]], Sequence[int]]],
        problems: list[tuple[int, str]],
        *,
        plain: bool,
    ) -> tuple[EventBatch, list[tuple[int, str]]]:
        batch = EventBatch()
        for kind, (found, positions) in groups.items():
            if not found:
                continue
            rows = _Rows(found, positions, plain=plain)
            table = self._table(kind, rows)
            if rows.reasons.count(None) == len(rows.reasons):
                batch.tables[kind] = table  # all good: nothing to filter
                continue
            problems += [(p, r) for p, r in zip(positions, rows.reasons, strict=True) if r]
            batch.tables[kind] = table.filter(rows.ok())
        problems.sort()
        return batch, problems

    # Columns shared by several types

    def _identifier(self, rows: _Rows, key: str) -> pa.Array:
        array, wrong = _typed(rows.values(key), pa.string(), _is_text)
        reason = f"{key} must be a non-empty string"
        rows.refuse(wrong, reason)
        length = pc.utf8_length(array)
        shortest, longest = pc.min_max(length).values()
        if (
            not array.null_count
            and shortest.as_py() >= 1
            and longest.as_py() <= MAX_ID_LENGTH
            and not pc.utf8_is_space(array).true_count
            # Printable ASCII holds no control character (0.4 ms per 50,000 ids; the exact
            # pattern below costs 10 ms, so it runs only on ids that are not plain ASCII).
            and pc.ascii_is_printable(array).true_count == len(array)
        ):
            return array  # the usual all-clear: five calls instead of ten
        # Missing, empty or blank: one mask.
        empty = pc.or_kleene(pc.equal(length, 0), pc.utf8_is_space(array))
        rows.refuse(pc.or_kleene(array.is_null(), empty), reason)
        rows.refuse(
            pc.greater(length, MAX_ID_LENGTH),
            f"{key} is longer than {MAX_ID_LENGTH} characters",
        )
        rows.refuse(
            pc.match_substring_regex(array, _CONTROL_PATTERN),
            lambda i: f"{key} holds a control character ({control_character(array[i].as_py())})",
        )
        return array

    def _timestamp(self, rows: _Rows) -> pa.Array:
        values = rows.values("timestamp")
        text, wrong = _typed(values, pa.string(), _is_text)
        rows.refuse(wrong, "timestamp must be an ISO 8601 string with a time zone")
        rows.refuse(text.is_null(), "timestamp must be an ISO 8601 string with a time zone")
        try:
            stamps = text.cast(_UTC_MICROS)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            stamps = self._timestamps_one_by_one(rows, values)
        earliest, latest = pc.min_max(stamps).values()
        if latest.is_valid and latest.as_py() > self._latest:
            rows.refuse(
                pc.greater(stamps, pa.scalar(self._latest, type=_UTC_MICROS)),
                lambda i: f"timestamp {_quoted(values[i])} is in the future",
            )
        if earliest.is_valid and earliest.as_py() < EARLIEST_EVENT_TIME:
            rows.refuse(
                pc.less(stamps, pa.scalar(EARLIEST_EVENT_TIME, type=_UTC_MICROS)),
                lambda i: (
                    f"timestamp {_quoted(values[i])} is before "
                    f"{EARLIEST_EVENT_TIME:%Y-%m-%dT%H:%MZ}, the earliest accepted"
                ),
            )
        return stamps

    @staticmethod
    def _timestamps_one_by_one(rows: _Rows, values: list[Any]) -> pa.Array:
        """Python's ISO 8601 parser on each value: the precise reason for each bad one."""
        parsed: list[datetime | None] = []
        for i, value in enumerate(values):
            if type(value) is not str:
                parsed.append(None)
                continue
            try:
                stamp = datetime.fromisoformat(value)
            except ValueError:
                rows.refuse_at(i, f"timestamp {_quoted(value)} is not ISO 8601")
                parsed.append(None)
                continue
            if stamp.tzinfo is None:
                rows.refuse_at(i, f"timestamp {_quoted(value)} has no time zone (add Z or +00:00)")
                parsed.append(None)
                continue
            parsed.append(stamp)
        return pa.array(parsed, type=_UTC_MICROS)

    def _experiment(
        self, rows: _Rows, kind: str, *, required: bool
    ) -> tuple[pa.Array, dict[str, Experiment]]:
        """The experiment id of each row (null when none is named and none is required).

        Each distinct reference is looked up once; rows map to ids in one vectorised take.
        """
        refs, wrong = _typed(rows.values("experiment"), pa.string(), _is_text)
        if self._default_experiment is not None:
            refs = pc.fill_null(refs, self._default_experiment)
        rows.refuse(wrong, "experiment must be a non-empty string")
        if required:
            rows.refuse(refs.is_null(), f"a {kind} event needs an experiment")
        distinct = pc.unique(refs.drop_null())
        # A reference that cannot be a name is never looked up (PostgreSQL refuses NUL).
        problems = {
            ref: problem
            for ref in distinct.to_pylist()
            if (problem := _reference_problem(ref, "experiment")) is not None
        }
        found = {
            ref: self._resolve(ref) if ref not in problems else None for ref in distinct.to_pylist()
        }
        ids = pa.array([e.id if e is not None else None for e in found.values()], type=pa.string())
        row_ids = pc.take(ids, pc.index_in(refs, value_set=distinct))
        experiments = {e.id: e for e in found.values() if e is not None}
        if not refs.null_count and None not in found.values():
            return row_ids, experiments  # the usual batch: every row names a known one
        unknown = pc.and_(pc.is_valid(refs), pc.is_null(row_ids))
        references = refs.to_pylist() if pc.any(unknown).as_py() else []
        rows.refuse(
            unknown,
            lambda i: problems.get(references[i]) or f"unknown experiment {references[i]!r}",
        )
        return row_ids, experiments

    def _variant(
        self, rows: _Rows, experiment_ids: pa.Array, experiments: dict[str, Experiment]
    ) -> pa.Array:
        array, wrong = _typed(rows.values("variant"), pa.string(), _is_text)
        rows.refuse(wrong, "variant must be a non-empty string")
        rows.refuse(array.is_null(), "variant must be a non-empty string")
        for experiment_id, experiment in experiments.items():
            names = pa.array([v.name for v in experiment.variants], type=pa.string())
            known = pc.is_in(array, value_set=names)  # false, not null, for a null variant
            if known.true_count + array.null_count == len(array):
                continue  # every variant named is one of this experiment's (the usual batch)
            mine = pc.equal(experiment_ids, experiment_id)
            unknown = pc.and_(pc.and_(mine, pc.is_valid(array)), pc.invert(known))
            rows.refuse(unknown, _no_such_variant(experiment, array))
        return array

    @staticmethod
    def _number(rows: _Rows, key: str, low: float, high: float) -> pa.Array:
        """The column as doubles: numbers only (no booleans), finite, within [low, high]."""
        values = rows.values(key)
        array, wrong = _typed(values, pa.float64(), _is_number)
        # Arrow reads true and false as 1 and 0; on the wire they are not numbers.
        if wrong or bool in set(map(type, values)):
            for i, value in enumerate(values):
                if value is not None and not _is_number(value):
                    too_large = type(value) is int
                    rows.refuse_at(
                        i,
                        f"{key} is too large"
                        if too_large
                        else f"{key} must be a number, got {value!r}",
                    )
        rows.refuse(array.is_null(), f"{key} must be a number, got None")
        rows.refuse(
            pc.invert(pc.is_finite(array)),
            lambda i: f"{key} must be finite, got {values[i]!r}",
        )
        smallest, largest = pc.min_max(array).values()
        if smallest.is_valid and smallest.as_py() < low:
            rows.refuse(
                pc.less(array, low),
                lambda i: f"{key} must be {low:g} or more, got {array[i].as_py():g}",
            )
        if largest.is_valid and largest.as_py() > high:
            rows.refuse(
                pc.greater(array, high),
                lambda i: f"{key} must be {high:g} or less, got {array[i].as_py():g}",
            )
        return array

    @staticmethod
    def _flag(rows: _Rows, key: str, *, default: bool | None) -> pa.Array:
        values = rows.values(key)
        array, wrong = _typed(values, pa.bool_(), _is_flag)
        for i, bad in enumerate(wrong):
            if bad:
                rows.refuse_at(i, f"{key} must be true or false, got {values[i]!r}")
        return pc.fill_null(array, default) if default is not None else array

    @staticmethod
    def _json(
        rows: _Rows,
        key: str,
        *,
        max_bytes: int,
        max_keys: int | None = None,
    ) -> pa.Array:
        """Canonical JSON text of each value, within ``max_bytes`` and with no NUL, NaN or
        infinity. With ``max_keys`` the values must be objects of at most that many keys,
        and an empty object is stored as null."""
        values = rows.values(key)
        if values.count(None) == len(values):
            return pa.nulls(len(values), type=pa.string())
        objects_only = max_keys is not None
        fast = (
            _json_texts(values)
            if not objects_only or set(map(type, values)) <= _OBJECT_OR_NOTHING
            else None
        )
        if fast is None:
            texts, doubtful = BatchChecker._json_one_by_one(rows, key, values, objects_only), True
        else:
            texts, doubtful = fast
        lengths = pc.binary_length(texts)
        if (pc.max(lengths).as_py() or 0) > max_bytes:
            rows.refuse(
                pc.greater(lengths, max_bytes),
                lambda i: (
                    f"{key} is {lengths[i].as_py()} bytes of JSON, "
                    f"more than the {max_bytes} allowed"
                ),
            )
        if doubtful:
            for i, value in enumerate(values):
                problem = json_problem(value) if value is not None else None
                if problem is not None:
                    rows.refuse_at(i, f"{key}: {problem}")
        if max_keys is not None:
            sizes = [len(v) if type(v) is dict else 0 for v in values] if fast is None else None
            most = max(sizes) if sizes is not None else max(map(len, filter(None, values)))
            if most > max_keys:
                for i, value in enumerate(values):
                    if type(value) is dict and len(value) > max_keys:
                        rows.refuse_at(
                            i, f"{key} holds {len(value)} keys, more than the {max_keys} allowed"
                        )
            texts = pc.if_else(pc.equal(texts, "{}"), pa.scalar(None, pa.string()), texts)
        return texts

    @staticmethod
    def _json_one_by_one(rows: _Rows, key: str, values: list[Any], objects_only: bool) -> pa.Array:
        """Each value dumped on its own, to name the ones that are not JSON (or objects)."""
        texts: list[str | None] = []
        for i, value in enumerate(values):
            if value is None:
                texts.append(None)
                continue
            if objects_only and not isinstance(value, Mapping):
                rows.refuse_at(i, f"{key} must be a JSON object")
                texts.append(None)
                continue
            try:
                texts.append(canonical_json(value))
            except ValueError:
                rows.refuse_at(i, f"{key} holds a value that is not JSON")
                texts.append(None)
        return pa.array(texts, type=pa.string())

    @staticmethod
    def _constant(rows: _Rows, value: object, arrow_type: pa.DataType) -> pa.Array:
        return pa.repeat(pa.scalar(value, type=arrow_type), len(rows.events))

    # The tables, one per type, in EVENT_COLUMNS order

    def _table(self, kind: str, rows: _Rows) -> pa.Table:
        event_id = self._identifier(rows, "event_id")
        ts = self._timestamp(rows)
        columns: dict[str, pa.Array] = {"event_id": event_id, "ts": ts}
        if kind in ("exposure", "prediction"):
            experiment_ids, experiments = self._experiment(rows, kind, required=True)
            columns["experiment_id"] = experiment_ids
            columns["unit_id"] = self._identifier(rows, "unit_id")
            columns["variant"] = self._variant(rows, experiment_ids, experiments)
            if kind == "exposure":
                columns["attributes"] = self._json(
                    rows,
                    "attributes",
                    max_bytes=MAX_ATTRIBUTES_BYTES,
                    max_keys=MAX_ATTRIBUTE_KEYS,
                )
            else:
                columns["prediction_id"] = self._identifier(rows, "prediction_id")
                columns["latency_ms"] = self._number(rows, "latency_ms", 0.0, MAX_LATENCY_MS)
                columns["error"] = self._flag(rows, "error", default=False)
                columns["shadow"] = self._flag(rows, "shadow", default=False)
                columns["output"] = self._json(rows, "output", max_bytes=MAX_OUTPUT_BYTES)
        elif kind == "label":
            columns["project_id"] = self._constant(rows, self._project_id, pa.string())
            columns["prediction_id"] = self._identifier(rows, "prediction_id")
            correct_values, label_values = rows.values("correct"), rows.values("label")
            rows.refuse(
                [
                    (c is None) == (lb is None)
                    for c, lb in zip(correct_values, label_values, strict=True)
                ],
                "a label needs exactly one of correct (true/false) and label",
            )
            columns["correct"] = self._flag(rows, "correct", default=None)
            columns["label"] = self._json(rows, "label", max_bytes=MAX_OUTPUT_BYTES)
        else:
            columns["project_id"] = self._constant(rows, self._project_id, pa.string())
            experiment_ids, _ = self._experiment(rows, kind, required=False)
            columns["experiment_id"] = experiment_ids
            columns["unit_id"] = self._identifier(rows, "unit_id")
            columns["name"] = self._metric_names(rows)
            columns["value"] = self._number(
                rows, "value", -MAX_METRIC_MAGNITUDE, MAX_METRIC_MAGNITUDE
            )
        columns["received_at"] = self._constant(rows, self._now, _UTC_MICROS)
        return pa.table(
            [columns[name] for name in EVENT_COLUMNS[kind]], names=list(EVENT_COLUMNS[kind])
        )

    @staticmethod
    def _metric_names(rows: _Rows) -> pa.Array:
        values = rows.values("name")
        array, _ = _typed(values, pa.string(), _is_text)
        checked: dict[str, str | None] = {}
        for i, name in enumerate(values):
            if type(name) is not str or not name:
                rows.refuse_at(i, "name must be a non-empty string")
                continue
            if name not in checked:
                try:
                    validate_metric_name(name)
                    checked[name] = None
                except ValidationError as exc:
                    checked[name] = exc.message
            problem = checked[name]
            if problem is not None:
                rows.refuse_at(i, problem)
        return array


def _no_such_variant(experiment: Experiment, variants: pa.Array) -> Callable[[int], str]:
    def reason(i: int) -> str:
        return f"experiment {experiment.name!r} has no variant {_quoted(variants[i].as_py())}"

    return reason


def _bad_type(event: Mapping[str, Any]) -> str:
    """The first problem of an event whose type is unknown (its id is checked first)."""
    event_id = event.get("event_id")
    if type(event_id) is not str or not event_id or event_id.isspace():
        return "event_id must be a non-empty string"
    return f"type must be one of {', '.join(EVENT_TYPES)}, got {_quoted(event.get('type'))}"
