"""Hypothesis strategies of events as a client may send them: valid ones of each kind, and
the same broken in the ways a client breaks them (a field missing, of the wrong type, out
of range or near a limit, an unknown field, extreme strings, bad timestamps, values only a
Python caller can hand over, not an object at all).

The experiments the events name are ``KNOWN``, each with the variants ``VARIANTS``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from hypothesis import strategies as st

from ablab.contract.events import EVENT_MODELS, EVENT_TYPES
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.limits import (
    EARLIEST_EVENT_TIME,
    MAX_ATTRIBUTE_KEYS,
    MAX_CLOCK_SKEW,
    MAX_ID_LENGTH,
    MAX_LATENCY_MS,
    MAX_METRIC_MAGNITUDE,
    MAX_OUTPUT_BYTES,
)
from ablab.domain.metrics import BUILTIN_METRICS

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
VARIANTS = ("control", "treatment")
KNOWN = ("checkout", "exp_3f9c0a1b2c4d")

# The fields of each kind, in the order both sides check them (the models declare them so).
ORDER = {
    kind: tuple(field for field in model.model_fields if field != "type")
    for kind, model in EVENT_MODELS.items()
}


def _no_control(text: str) -> bool:
    return not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


REFERENCES = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,30}", fullmatch=True),
    st.text(min_size=1, max_size=MAX_ID_LENGTH).filter(
        lambda t: _no_control(t) and not t.isspace()
    ),
)
TIMEZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=5, minutes=30)),
        timezone(-timedelta(hours=8)),
        timezone(timedelta(hours=23, minutes=59)),
        timezone(-timedelta(hours=23, minutes=59, seconds=30)),
    ]
)
RECENT = st.datetimes(
    min_value=EARLIEST_EVENT_TIME.replace(tzinfo=None),
    max_value=(NOW + MAX_CLOCK_SKEW).replace(tzinfo=None),
    timezones=TIMEZONES,
)
ANY_TIME = st.datetimes(timezones=st.one_of(st.none(), TIMEZONES))


@st.composite
def iso_texts(draw: st.DrawFn, moments: st.SearchStrategy[datetime]) -> str:
    """A moment written the ways ISO 8601 allows: T or space, seconds to microseconds, Z."""
    moment = draw(moments)
    text = moment.isoformat(
        sep=draw(st.sampled_from(["T", " "])),
        timespec=draw(st.sampled_from(["auto", "minutes", "seconds", "milliseconds"])),
    )
    return text.replace("+00:00", "Z") if draw(st.booleans()) else text


TIMESTAMPS = st.one_of(
    iso_texts(RECENT),
    iso_texts(ANY_TIME),
    st.sampled_from(
        [
            (NOW + MAX_CLOCK_SKEW).isoformat(),
            (NOW + MAX_CLOCK_SKEW + timedelta(microseconds=1)).isoformat(),
            EARLIEST_EVENT_TIME.isoformat(),
            (EARLIEST_EVENT_TIME - timedelta(microseconds=1)).isoformat(),
            "2026-11-23T11:00:00",
            "2026-11-23",
            "2026-11-23Z",
            "20261123T110000Z",
            "2026-W47-1T10:00:00Z",
            "2026-11-23T11:00:00.123456789Z",
            "2026-11-23T11:00:00,5Z",
            "2026-11-23t11:00:00Z",
            "2026-11-23T11:00:00z",
            " 2026-11-23T11:00:00Z",
            "2026-11-23T11:00:00+05:30:15",
            "2026-11-23T24:00:00Z",
            "9999-12-31T23:59:59-01:00",
            "0001-01-01T00:00:00+01:00",
            "yesterday",
            "",
        ]
    ),
    st.text(max_size=40),
)

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# What a Python caller of the embedded client could hand over besides JSON.
NOT_JSON = st.one_of(
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.integers(min_value=2**64, max_value=2**80),
    st.integers(max_value=-(2**63) - 1, min_value=-(2**80)),
    st.just(b"bytes"),
    st.just(NOW),
    st.just({1: "a key that is not text"}),
    st.just({"nul": "a\x00b"}),
    st.just({"k\x00": 1}),
    st.just(MappingProxyType({"region": "eu"})),
    st.just(ExperimentStatus.RUNNING),  # a str enum member
    st.just({"status": ExperimentStatus.RUNNING}),
)
EXTREME_TEXT = st.one_of(
    st.sampled_from(["", " ", "\t", "\u3000", "a\x00b", "bell\x07", "line\n", "\x85", "é"]),
    st.sampled_from(
        ["x" * (MAX_ID_LENGTH - 1), "x" * MAX_ID_LENGTH, "x" * (MAX_ID_LENGTH + 1), "x" * 10_000]
    ),
    st.text(max_size=300),
)
WILD = st.one_of(
    JSON_LEAVES,
    EXTREME_TEXT,
    NOT_JSON,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
    TIMESTAMPS,
    st.floats(),
    st.sampled_from([-1, 0, 1, 2**53, 2**53 + 1, 2**53 + 2, -(2**53) - 2, 2**63, MAX_LATENCY_MS]),
    st.sampled_from(list(VARIANTS) + list(KNOWN) + ["Control", "treatment-2"]),
)
ATTRIBUTES = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=10), JSON, max_size=5),
    st.dictionaries(
        st.text(max_size=4),
        st.integers(),
        min_size=MAX_ATTRIBUTE_KEYS,
        max_size=MAX_ATTRIBUTE_KEYS + 1,
    ),
    st.just({"blob": "x" * (16 * 1024)}),
)
OUTPUTS = st.one_of(JSON, st.just("x" * MAX_OUTPUT_BYTES), st.just("x" * (MAX_OUTPUT_BYTES - 2)))
METRIC_NAMES = st.one_of(
    st.sampled_from(list(BUILTIN_METRICS)),
    st.from_regex(r"[a-z][a-z0-9_]{0,63}", fullmatch=True),
    st.sampled_from(["Revenue", "a" * 65, "a" * 64, "9lives", "x-y", "revenue\n"]),
)
LATENCIES = st.one_of(
    st.floats(min_value=0, max_value=MAX_LATENCY_MS), st.integers(0, int(MAX_LATENCY_MS))
)
METRIC_VALUES = st.one_of(
    st.floats(min_value=-MAX_METRIC_MAGNITUDE, max_value=MAX_METRIC_MAGNITUDE),
    st.integers(-(2**53), 2**53),
)


@st.composite
def valid_events(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": draw(REFERENCES),
        "type": kind,
        "timestamp": draw(iso_texts(RECENT)),
    }
    if kind in ("exposure", "prediction", "metric"):
        event["experiment"] = draw(st.sampled_from(KNOWN))
        event["unit_id"] = draw(REFERENCES)
    if kind in ("exposure", "prediction"):
        event["variant"] = draw(st.sampled_from(VARIANTS))
    if kind == "exposure":
        event["attributes"] = draw(st.dictionaries(st.text(max_size=10), JSON, max_size=5))
    elif kind == "prediction":
        event["prediction_id"] = draw(REFERENCES)
        event["latency_ms"] = draw(LATENCIES)
        event["error"] = draw(st.booleans())
        event["shadow"] = draw(st.booleans())
        event["output"] = draw(JSON)
    elif kind == "label":
        event["prediction_id"] = draw(REFERENCES)
        if draw(st.booleans()):
            event["correct"] = draw(st.booleans())
        else:
            event["label"] = draw(JSON.filter(lambda v: v is not None))
    elif kind == "metric":
        event["name"] = draw(METRIC_NAMES)
        event["value"] = draw(METRIC_VALUES)
    return event


FIELDS = sorted({field for order in ORDER.values() for field in order})
# Values that fit one field on purpose, and may be wrong for another.
FITTING: dict[str, st.SearchStrategy[Any]] = {
    "timestamp": TIMESTAMPS,
    "attributes": ATTRIBUTES,
    "output": OUTPUTS,
    "label": OUTPUTS,
    "latency_ms": st.one_of(LATENCIES, st.floats(), st.integers()),
    "value": st.one_of(METRIC_VALUES, st.floats(), st.integers()),
    "name": METRIC_NAMES,
    "experiment": st.one_of(st.sampled_from(KNOWN), REFERENCES, EXTREME_TEXT),
}


@st.composite
def events(draw: st.DrawFn) -> Any:
    """A valid event of any kind, then up to three changes: one of its fields dropped, set
    to a wild value or to one near its limits, an unknown field added (sometimes another
    kind's), the type changed; or no object at all."""
    if draw(st.integers(0, 30)) == 0:
        return draw(st.one_of(JSON_LEAVES, st.lists(st.integers(), max_size=2)))
    kind = draw(st.sampled_from(EVENT_TYPES))
    event = draw(valid_events(kind))
    own = st.sampled_from(ORDER[kind])
    for _ in range(draw(st.integers(0, 3))):
        change = draw(st.sampled_from(["drop", "wild", "wild", "fitting", "unknown", "type"]))
        if change == "drop":
            event.pop(draw(st.sampled_from(["type", *ORDER[kind]])), None)
        elif change == "wild":
            event[draw(own)] = draw(WILD)
        elif change == "fitting":
            field = draw(own)
            event[field] = draw(FITTING.get(field, WILD))
        elif change == "unknown":
            others = sorted(set(FIELDS) - set(ORDER[kind]))
            extra = st.sampled_from(["varient", "shadw", "project_id", *others])
            event[draw(extra)] = draw(WILD)
        else:
            event["type"] = draw(
                st.one_of(st.sampled_from([*EVENT_TYPES, "click", "", "Exposure"]), WILD)
            )
    return event


DEFAULTS = st.one_of(st.none(), st.sampled_from(KNOWN), st.just("not-an-experiment-here"))
