"""The checks of one column each: ids, timestamps, the experiment and its variants, numbers,
flags, free-form JSON and metric names.

Each takes the :class:`~ablab.services.events.rows.Rows` of one event type, gives the rows
at fault their reason, and returns the column as Arrow. Each first asks the whole column one
cheap question (its minimum and maximum, whether its text is plain ASCII, whether the joined
JSON holds a NUL or a null); only a column that fails it is looked at row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ablab.domain.experiments import Experiment
from ablab.domain.limits import (
    EARLIEST_EVENT_TIME,
    MAX_ID_LENGTH,
    check_identifier,
    control_character,
    json_problem,
)
from ablab.domain.metrics import validate_metric_name
from ablab.errors import ValidationError
from ablab.services.events.rows import (
    Rows,
    canonical_json,
    is_flag,
    is_number,
    is_text,
    json_texts,
    quoted,
    typed,
)

__all__ = [
    "UTC_MICROS",
    "constant",
    "experiment",
    "flag",
    "identifier",
    "json_column",
    "metric_names",
    "number",
    "timestamp",
    "variant",
]

UTC_MICROS = pa.timestamp("us", tz="UTC")
# Unicode's control characters (category Cc), as RE2 reads them.
_CONTROL_PATTERN = r"[\x00-\x1f\x7f-\x9f]"
_OBJECT_OR_NOTHING = frozenset({dict, type(None)})


def identifier(rows: Rows, key: str) -> pa.Array:
    """Ids and references: non-blank text of at most 256 characters, no control character."""
    array, wrong = typed(rows.values(key), pa.string(), is_text)
    reason = f"{key} must be a non-empty string"
    rows.refuse(key, wrong, reason)
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
    rows.refuse(key, pc.or_kleene(array.is_null(), empty), reason)
    rows.refuse(
        key,
        pc.greater(length, MAX_ID_LENGTH),
        f"{key} is longer than {MAX_ID_LENGTH} characters",
    )
    rows.refuse(
        key,
        pc.match_substring_regex(array, _CONTROL_PATTERN),
        lambda i: f"{key} holds a control character ({control_character(array[i].as_py())})",
    )
    return array


def timestamp(rows: Rows, latest: datetime) -> pa.Array:
    """ISO 8601 text with a zone, from ``EARLIEST_EVENT_TIME`` to ``latest``, as UTC."""
    values = rows.values("timestamp")
    text, wrong = typed(values, pa.string(), is_text)
    rows.refuse("timestamp", wrong, "timestamp must be an ISO 8601 string with a time zone")
    rows.refuse(
        "timestamp", text.is_null(), "timestamp must be an ISO 8601 string with a time zone"
    )
    try:
        stamps = text.cast(UTC_MICROS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        stamps = _timestamps_one_by_one(rows, values)
    # Compared as Arrow scalars: the UTC instant of 9999-12-31T23:59-01:00 is past what a
    # Python datetime holds, and its ``as_py()`` would raise.
    first, last = pc.min_max(stamps).values()
    ceiling = pa.scalar(latest, type=UTC_MICROS)
    if last.is_valid and pc.greater(last, ceiling).as_py():
        rows.refuse(
            "timestamp",
            pc.greater(stamps, ceiling),
            lambda i: f"timestamp {quoted(values[i])} is in the future",
        )
    floor = pa.scalar(EARLIEST_EVENT_TIME, type=UTC_MICROS)
    if first.is_valid and pc.less(first, floor).as_py():
        rows.refuse(
            "timestamp",
            pc.less(stamps, floor),
            lambda i: (
                f"timestamp {quoted(values[i])} is before "
                f"{EARLIEST_EVENT_TIME:%Y-%m-%dT%H:%MZ}, the earliest accepted"
            ),
        )
    return stamps


def _timestamps_one_by_one(rows: Rows, values: list[Any]) -> pa.Array:
    """Python's ISO 8601 parser on each value: the precise reason for each bad one."""
    parsed: list[datetime | None] = []
    for i, value in enumerate(values):
        if not is_text(value):  # refused already, as not text
            parsed.append(None)
            continue
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            rows.refuse_at("timestamp", i, f"timestamp {quoted(value)} is not ISO 8601")
            parsed.append(None)
            continue
        if stamp.tzinfo is None:
            rows.refuse_at(
                "timestamp", i, f"timestamp {quoted(value)} has no time zone (add Z or +00:00)"
            )
            parsed.append(None)
            continue
        parsed.append(stamp)
    return pa.array(parsed, type=UTC_MICROS)


def experiment(
    rows: Rows,
    kind: str,
    resolve: Callable[[str], Experiment | None],
    default: str | None,
    *,
    required: bool,
) -> tuple[pa.Array, dict[str, Experiment]]:
    """The experiment id of each row (null when none is named and none is required).

    Each distinct reference is looked up once; rows map to ids in one vectorised take.
    """
    refs, wrong = typed(rows.values("experiment"), pa.string(), is_text)
    if default is not None:
        refs = pc.fill_null(refs, default)
    rows.refuse("experiment", wrong, "experiment must be a non-empty string")
    if required:
        rows.refuse("experiment", refs.is_null(), f"a {kind} event needs an experiment")
    distinct = pc.unique(refs.drop_null())
    # A reference that cannot be a name is never looked up (PostgreSQL refuses NUL).
    problems = {
        ref: problem
        for ref in distinct.to_pylist()
        if (problem := _reference_problem(ref, "experiment")) is not None
    }
    found = {ref: resolve(ref) if ref not in problems else None for ref in distinct.to_pylist()}
    ids = pa.array([e.id if e is not None else None for e in found.values()], type=pa.string())
    row_ids = pc.take(ids, pc.index_in(refs, value_set=distinct))
    experiments = {e.id: e for e in found.values() if e is not None}
    if not refs.null_count and None not in found.values():
        return row_ids, experiments  # the usual batch: every row names a known one
    unknown = pc.and_(pc.is_valid(refs), pc.is_null(row_ids))
    references = refs.to_pylist() if pc.any(unknown).as_py() else []
    rows.refuse(
        "experiment",
        unknown,
        lambda i: problems.get(references[i]) or f"unknown experiment {references[i]!r}",
    )
    return row_ids, experiments


def _reference_problem(ref: str, key: str) -> str | None:
    """Why ``ref`` cannot name anything (blank, too long, a control character), or None."""
    try:
        check_identifier(ref, key)
    except ValidationError as exc:
        return exc.message
    return None


def variant(
    rows: Rows, experiment_ids: pa.Array, experiments: Mapping[str, Experiment]
) -> pa.Array:
    """A variant of the row's experiment (rows with no known experiment are already refused)."""
    array, wrong = typed(rows.values("variant"), pa.string(), is_text)
    rows.refuse("variant", wrong, "variant must be a non-empty string")
    rows.refuse("variant", array.is_null(), "variant must be a non-empty string")
    for experiment_id, found in experiments.items():
        names = pa.array([v.name for v in found.variants], type=pa.string())
        known = pc.is_in(array, value_set=names)  # false, not null, for a null variant
        if known.true_count + array.null_count == len(array):
            continue  # every variant named is one of this experiment's (the usual batch)
        mine = pc.equal(experiment_ids, experiment_id)
        unknown = pc.and_(pc.and_(mine, pc.is_valid(array)), pc.invert(known))
        rows.refuse("variant", unknown, _no_such_variant(found, array))
    return array


def _no_such_variant(found: Experiment, variants: pa.Array) -> Callable[[int], str]:
    def reason(i: int) -> str:
        return f"experiment {found.name!r} has no variant {quoted(variants[i].as_py())}"

    return reason


def number(rows: Rows, key: str, low: float, high: float) -> pa.Array:
    """The column as doubles: numbers only (no booleans), finite, within [low, high]."""
    values = rows.values(key)
    array, wrong = typed(values, pa.float64(), is_number)
    # Arrow reads true and false as 1 and 0; on the wire they are not numbers.
    if wrong or bool in set(map(type, values)):
        for i, value in enumerate(values):
            if value is not None and not is_number(value):
                too_large = type(value) is int
                rows.refuse_at(
                    key,
                    i,
                    f"{key} is too large"
                    if too_large
                    else f"{key} must be a number, got {value!r}",
                )
    rows.refuse(key, array.is_null(), f"{key} must be a number, got None")
    rows.refuse(
        key,
        pc.invert(pc.is_finite(array)),
        lambda i: f"{key} must be finite, got {values[i]!r}",
    )
    smallest, largest = pc.min_max(array).values()
    if smallest.is_valid and smallest.as_py() < low:
        rows.refuse(
            key,
            pc.less(array, low),
            lambda i: f"{key} must be {low:g} or more, got {array[i].as_py():g}",
        )
    if largest.is_valid and largest.as_py() > high:
        rows.refuse(
            key,
            pc.greater(array, high),
            lambda i: f"{key} must be {high:g} or less, got {array[i].as_py():g}",
        )
    return array


def flag(rows: Rows, key: str, *, default: bool | None) -> pa.Array:
    """true or false; a missing or null flag reads as ``default``."""
    values = rows.values(key)
    array, wrong = typed(values, pa.bool_(), is_flag)
    for i, bad in enumerate(wrong):
        if bad:
            rows.refuse_at(key, i, f"{key} must be true or false, got {values[i]!r}")
    return pc.fill_null(array, default) if default is not None else array


def json_column(
    rows: Rows,
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
    plain_objects = objects_only and set(map(type, values)) <= _OBJECT_OR_NOTHING
    if objects_only and not plain_objects:
        # A mapping that is not a dict (from a caller of the embedded client) is the object
        # it holds, as the wire schema reads it.
        values = [dict(v) if isinstance(v, Mapping) else v for v in values]
    fast = json_texts(values) if not objects_only or plain_objects else None
    if fast is None:
        texts, doubtful = _json_one_by_one(rows, key, values, objects_only), True
    else:
        texts, doubtful = fast
    lengths = pc.binary_length(texts)
    if (pc.max(lengths).as_py() or 0) > max_bytes:
        rows.refuse(
            key,
            pc.greater(lengths, max_bytes),
            lambda i: (
                f"{key} is {lengths[i].as_py()} bytes of JSON, more than the {max_bytes} allowed"
            ),
        )
    if doubtful:
        for i, value in enumerate(values):
            problem = json_problem(value) if value is not None else None
            if problem is not None:
                rows.refuse_at(key, i, f"{key}: {problem}")
    if max_keys is not None:
        sizes = [len(v) if type(v) is dict else 0 for v in values] if fast is None else None
        most = max(sizes) if sizes is not None else max(map(len, filter(None, values)), default=0)
        if most > max_keys:
            for i, value in enumerate(values):
                if type(value) is dict and len(value) > max_keys:
                    rows.refuse_at(
                        key, i, f"{key} holds {len(value)} keys, more than the {max_keys} allowed"
                    )
        texts = pc.if_else(pc.equal(texts, "{}"), pa.scalar(None, pa.string()), texts)
    return texts


def _json_one_by_one(rows: Rows, key: str, values: list[Any], objects_only: bool) -> pa.Array:
    """Each value dumped on its own, to name the ones that are not JSON (or objects)."""
    texts: list[str | None] = []
    for i, value in enumerate(values):
        if value is None:
            texts.append(None)
            continue
        if objects_only and not isinstance(value, Mapping):
            rows.refuse_at(key, i, f"{key} must be a JSON object")
            texts.append(None)
            continue
        try:
            texts.append(canonical_json(value))
        except ValueError:
            rows.refuse_at(key, i, f"{key} holds a value that is not JSON")
            texts.append(None)
    return pa.array(texts, type=pa.string())


def metric_names(rows: Rows) -> pa.Array:
    """A built-in metric or a snake_case custom name, each distinct name checked once."""
    values = rows.values("name")
    array, _ = typed(values, pa.string(), is_text)
    checked: dict[str, str | None] = {}
    for i, name in enumerate(values):
        if not isinstance(name, str) or not name:
            rows.refuse_at("name", i, "name must be a non-empty string")
            continue
        if name not in checked:
            try:
                validate_metric_name(name)
                checked[name] = None
            except ValidationError as exc:
                checked[name] = exc.message
        problem = checked[name]
        if problem is not None:
            rows.refuse_at("name", i, problem)
    return array


def constant(rows: Rows, value: object, arrow_type: pa.DataType) -> pa.Array:
    return pa.repeat(pa.scalar(value, type=arrow_type), len(rows.events))
