"""The limits of what ablab accepts, in one place (README.md, "Limits", lists them too).

Every value a request carries is bounded here: names and identifiers (no control
characters: they break logs, terminals and PostgreSQL, which cannot store NUL), free text
(a length and no NUL), free-form JSON (finite numbers, 64-bit integers, no NUL, a size in
canonical bytes), numbers (a range that fits the database column and makes sense), and
events (a timestamp window, finite metric values and latencies within a range). The wire
schemas (``ablab.contract``), the domain checks and the event checker all read these
constants, so a limit changes in one line.

The checks raise :class:`~ablab.errors.ValidationError` naming the field, never anything
else: a caller's mistake is a 422, never a 500.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ablab.errors import ValidationError

__all__ = [
    "EARLIEST_EVENT_TIME",
    "MAX_ATTRIBUTES_BYTES",
    "MAX_ATTRIBUTE_KEYS",
    "MAX_CLOCK_SKEW",
    "MAX_CONCURRENCY",
    "MAX_CONFIG_BYTES",
    "MAX_COUNT",
    "MAX_DURATION_DAYS",
    "MAX_ID_LENGTH",
    "MAX_JSON_INTEGER",
    "MAX_LABEL_LENGTH",
    "MAX_LATENCY_MS",
    "MAX_LIST_ITEMS",
    "MAX_LOCATION_LENGTH",
    "MAX_LOOKBACK_DAYS",
    "MAX_MDE",
    "MAX_MEMBERS",
    "MAX_METRIC_MAGNITUDE",
    "MAX_OUTPUT_BYTES",
    "MAX_PROMPT_LENGTH",
    "MAX_SECRET_LENGTH",
    "MAX_STEP_MINUTES",
    "MAX_TASKS",
    "MAX_TASK_BYTES",
    "MAX_TEXT_LENGTH",
    "MAX_TOKENS",
    "MAX_TRIALS",
    "MAX_VARIANTS",
    "MAX_VERSION",
    "MIN_JSON_INTEGER",
    "MIN_SECRET_LENGTH",
    "check_identifier",
    "check_json",
    "check_text",
    "control_character",
    "inspect_json",
    "json_problem",
]

# Names and identifiers

# Labels people give things that are not plain names: API key names, LLM tasks, LLM
# experiments and variants. Plain names (experiments, models, versions, groups, variants)
# have their own pattern, 1-128 characters (ablab.domain.ids).
MAX_LABEL_LENGTH = 128
# Unit ids, event ids, prediction ids, references to other objects, LLM steps.
MAX_ID_LENGTH = 256
# URLs (model endpoints, webhooks) and artifact paths.
MAX_LOCATION_LENGTH = 2_000

# Free text

# Hypotheses, descriptions, reasons: a long page.
MAX_TEXT_LENGTH = 4_000
# An LLM system prompt (the "system" parameter of a configuration).
MAX_PROMPT_LENGTH = 100_000

# Free-form JSON, in bytes of canonical JSON (compact, sorted keys)

# Targeting attributes of one unit (assign, predict, an exposure) and their top-level keys.
MAX_ATTRIBUTES_BYTES = 16 * 1024
MAX_ATTRIBUTE_KEYS = 100
# A prediction's output or a label.
MAX_OUTPUT_BYTES = 64 * 1024
# A variant's config override, a group's rule, an LLM configuration or evaluator list.
MAX_CONFIG_BYTES = 64 * 1024
# An LLM task's input or expected output.
MAX_TASK_BYTES = 256 * 1024
# Integers inside free-form JSON: what 64 bits hold, signed or not (as orjson writes them).
MIN_JSON_INTEGER = -(2**63)
MAX_JSON_INTEGER = 2**64 - 1

# Numbers

# Sample sizes, units per rollout step: fits a 32-bit INTEGER column with room to spare.
MAX_COUNT = 1_000_000_000
# An experiment's optimistic version (a 32-bit INTEGER column).
MAX_VERSION = 2**31 - 1
MAX_DURATION_DAYS = 3_650
# Days before launch whose data CUPED uses.
MAX_LOOKBACK_DAYS = 365
# A year, in minutes: the longest a rollout step may be held.
MAX_STEP_MINUTES = 525_600.0
# The minimum detectable effect, in the metric's units: positive and below this.
MAX_MDE = 1e9
# LLM experiments: runs of each task per variant, tasks run at once, tasks in a set.
MAX_TOKENS = 10_000_000
MAX_TRIALS = 20
MAX_CONCURRENCY = 64
MAX_TASKS = 10_000
# A webhook's signing secret.
MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 256
# Variants of an experiment; metrics, guardrails, rollout steps and other short lists.
MAX_VARIANTS = 20
MAX_LIST_ITEMS = 50
# Unit ids listed in one device group.
MAX_MEMBERS = 100_000

# Events

# Nothing happened to a model in production before this; year 1 or 1900 is a bug upstream.
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
# A device clock may run ahead; an event further in the future than this is refused.
MAX_CLOCK_SKEW = timedelta(minutes=5)
# Metric values: the integers a double holds exactly (and JavaScript's safe integers).
MAX_METRIC_MAGNITUDE = float(2**53)
# A prediction that took longer than a day did not answer anyone.
MAX_LATENCY_MS = 86_400_000.0

# C0 controls, DEL and C1 controls (Unicode category Cc), NUL among them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def control_character(text: str) -> str | None:
    """The first control character in ``text`` (as ``\\x00``), or None when there is none.

    Examples:
        >>> control_character("radiology-v1")
        >>> control_character("bell\\x07")
        '\\\\x07'
    """
    found = _CONTROL.search(text)
    return None if found is None else f"\\x{ord(found.group()):02x}"


def check_identifier(value: str, field: str, *, max_length: int = MAX_ID_LENGTH) -> str:
    """``value`` if it is a non-blank identifier without control characters.

    Raises:
        ValidationError: empty, blank, too long, or holding a control character.

    Examples:
        >>> check_identifier("device-42", "unit_id")
        'device-42'
        >>> check_identifier("device-42\\n", "unit_id")
        Traceback (most recent call last):
        ...
        ablab.errors.ValidationError: unit_id holds a control character (\\x0a)
    """
    if not value or value.isspace():
        raise ValidationError(f"{field} must be a non-empty string", details={"field": field})
    if len(value) > max_length:
        raise ValidationError(
            f"{field} is longer than {max_length} characters",
            details={"field": field, "limit": max_length},
        )
    control = control_character(value)
    if control is not None:
        raise ValidationError(
            f"{field} holds a control character ({control})",
            details={"field": field, "character": control},
        )
    return value


def check_text(value: str, field: str, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """``value`` if it is free text of at most ``max_length`` characters without NUL.

    Raises:
        ValidationError: too long, or holding NUL (PostgreSQL cannot store it).
    """
    if len(value) > max_length:
        raise ValidationError(
            f"{field} is longer than {max_length} characters ({len(value)})",
            details={"field": field, "limit": max_length},
        )
    if "\x00" in value:
        raise ValidationError(
            f"{field} holds a NUL character", details={"field": field, "character": "\\x00"}
        )
    return value


def json_problem(value: Any) -> str | None:
    """What keeps ``value`` from being plain JSON that every store keeps, or None.

    Plain JSON here: objects with string keys, lists, strings and booleans, finite numbers,
    integers within 64 bits, and no NUL in any string or key. The problem names its place,
    such as ``a.b[2]: NaN is not a JSON number``.

    Examples:
        >>> json_problem({"region": ["eu", 1.5]})
        >>> json_problem({"score": [0.1, float("nan")]})
        'score[1]: nan is not a JSON number (numbers must be finite)'
    """
    return inspect_json(value)[0]


# orjson writes NaN and infinity as null and NUL as \u0000, and refuses what is not JSON
# (datetimes and dataclasses too, with these options): one C call clears the usual value
# (0.3 us for a few keys; walking it in Python took 2.9 us).
_DUMP_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def inspect_json(value: Any) -> tuple[str | None, int]:
    """``(problem, size)``: what :func:`json_problem` says, and the size of the value's
    compact JSON in bytes (0 when there is a problem)."""
    try:
        dumped = orjson.dumps(value, option=_DUMP_OPTIONS)
    except orjson.JSONEncodeError:
        return _problem_at(value) or "not JSON", 0
    if b"null" in dumped or b"\\u0000" in dumped:
        problem = _problem_at(value)
        if problem is not None:
            return problem, 0
    return None, len(dumped)


def _problem_at(value: Any) -> str | None:
    """The first problem of ``value``, found by walking it."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        where, item = pending.pop()
        kind = type(item)
        place = f"{where}: " if where else ""
        if item is None or kind is bool:
            continue
        if kind is str:
            if "\x00" in item:
                return f"{place}a string holds a NUL character"
        elif kind is float:
            if not math.isfinite(item):
                return f"{place}{item} is not a JSON number (numbers must be finite)"
        elif kind is int:
            if not MIN_JSON_INTEGER <= item <= MAX_JSON_INTEGER:
                return f"{place}an integer beyond 64 bits"
        elif isinstance(item, Mapping):
            for key, inner in item.items():
                if type(key) is not str:
                    return f"{place}a key is not a string ({type(key).__name__})"
                if "\x00" in key:
                    return f"{place}the key {key!r} holds a NUL character"
                pending.append((f"{where}.{key}" if where else key, inner))
        elif isinstance(item, list | tuple):
            pending.extend((f"{where}[{i}]", inner) for i, inner in enumerate(item))
        else:
            return f"{place}{kind.__name__} is not JSON"
    return None


def check_json(value: Any, field: str, *, max_bytes: int) -> Any:
    """``value`` if it is plain JSON (see :func:`json_problem`) of at most ``max_bytes``.

    Raises:
        ValidationError: not plain JSON, or too large.
    """
    problem, size = inspect_json(value)
    if problem is not None:
        raise ValidationError(f"{field}: {problem}", details={"field": field})
    if size > max_bytes:
        raise ValidationError(
            f"{field} is {size} bytes of JSON, more than the {max_bytes} allowed",
            details={"field": field, "limit": max_bytes, "size": size},
        )
    return value
