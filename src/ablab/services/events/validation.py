"""Checking a batch of events column by column, and turning the good ones into Arrow tables.

Events arrive as JSON objects. They are grouped by type, each field is gathered into one
column and converted to Arrow in one call; the checks (:mod:`.columns`) then run on whole
columns. Python touches each value about once, so a batch of 50,000 events costs a few
Python operations per field instead of a dozen function calls per event. When a column
holds a value of the wrong type (a number where text belongs), only that column is checked
value by value, to name the events at fault.

Each bad event gets the first problem found, with its index in the batch and the field at
fault; the checks run in a fixed order (type, id, timestamp, experiment, unit, variant, the
type's own fields, then fields the type does not have), the order in which the wire schema
declares them, so both blame the same field; the fields of each type are
:mod:`ablab.domain.event_kinds`' table, which the schema's models hold too.

The limits are those of :mod:`ablab.domain.limits` (README.md, "Limits"): ids of at most
256 characters without control characters; timestamps from 2000-01-01T00:00Z to five
minutes ahead of the server's clock; finite metric values within ±2**53; latencies from 0
to a day; attributes (an object of at most 100 keys), outputs and labels within their size
in canonical JSON bytes, with finite numbers and no NUL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from operator import attrgetter
from typing import Any

import pyarrow as pa

from ablab.domain.event_kinds import EVENT_FIELDS, EVENT_TYPES
from ablab.domain.experiments import Experiment
from ablab.domain.limits import (
    MAX_ATTRIBUTE_KEYS,
    MAX_ATTRIBUTES_BYTES,
    MAX_CLOCK_SKEW,
    MAX_ID_LENGTH,
    MAX_LATENCY_MS,
    MAX_METRIC_MAGNITUDE,
    MAX_OUTPUT_BYTES,
)
from ablab.services.events import columns
from ablab.services.events.rows import Rows, canonical_json, quoted
from ablab.services.ports import EVENT_COLUMNS, EventBatch

__all__ = [
    "EVENT_TYPES",
    "MAX_CLOCK_SKEW",
    "MAX_ID_LENGTH",
    "BatchChecker",
    "Refusal",
    "canonical_json",
]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the event at ``index`` of the batch is refused, and the field at fault (None when
    no one field is: not an object, neither or both of a label's ``correct`` and ``label``)."""

    index: int
    field: str | None
    reason: str


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

    def check(self, events: Sequence[Any]) -> tuple[EventBatch, list[Refusal]]:
        """Tables of the good events by type, and the refusal of each bad one by index."""
        plain = set(map(type, events)) == {dict}
        kinds = list(map(dict.get, events, repeat("type"))) if plain else []
        if kinds and kinds[0] in EVENT_TYPES and kinds.count(kinds[0]) == len(kinds):
            # The usual batch: one type only, no regrouping needed.
            return self._check_groups({kinds[0]: (events, range(len(events)))}, [], plain=True)
        groups: dict[str, tuple[list[Mapping[str, Any]], list[int]]] = {
            kind: ([], []) for kind in EVENT_TYPES
        }
        problems: list[Refusal] = []
        for index, event in enumerate(events):
            if type(event) is not dict and not isinstance(event, Mapping):
                problems.append(Refusal(index, None, "an event must be a JSON object"))
                continue
            kind = event.get("type")
            group = groups.get(kind) if isinstance(kind, str) else None
            if group is None:
                problems.append(Refusal(index, *_bad_type(event)))
                continue
            group[0].append(event)
            group[1].append(index)
        return self._check_groups(groups, problems, plain=plain)

    def _check_groups(
        self,
        groups: Mapping[str, tuple[Sequence[Mapping[str, Any]], Sequence[int]]],
        problems: list[Refusal],
        *,
        plain: bool,
    ) -> tuple[EventBatch, list[Refusal]]:
        batch = EventBatch()
        for kind, (found, positions) in groups.items():
            if not found:
                continue
            rows = Rows(found, positions, plain=plain)
            table = self._table(kind, rows)
            if rows.all_good():
                batch.tables[kind] = table  # all good: nothing to filter
                continue
            problems += [
                Refusal(position, *problem)
                for position, problem in zip(positions, rows.problems, strict=True)
                if problem is not None
            ]
            batch.tables[kind] = table.filter(rows.ok())
        problems.sort(key=attrgetter("index"))
        return batch, problems

    # The tables, one per type, in EVENT_COLUMNS order

    def _table(self, kind: str, rows: Rows) -> pa.Table:
        event_id = columns.identifier(rows, "event_id")
        ts = columns.timestamp(rows, self._latest)
        found: dict[str, pa.Array] = {"event_id": event_id, "ts": ts}
        if kind in ("exposure", "prediction"):
            experiment_ids, experiments = columns.experiment(
                rows, kind, self._resolve, self._default_experiment, required=True
            )
            found["experiment_id"] = experiment_ids
            found["unit_id"] = columns.identifier(rows, "unit_id")
            found["variant"] = columns.variant(rows, experiment_ids, experiments)
            if kind == "exposure":
                found["attributes"] = columns.json_column(
                    rows,
                    "attributes",
                    max_bytes=MAX_ATTRIBUTES_BYTES,
                    max_keys=MAX_ATTRIBUTE_KEYS,
                )
            else:
                found["prediction_id"] = columns.identifier(rows, "prediction_id")
                found["latency_ms"] = columns.number(rows, "latency_ms", 0.0, MAX_LATENCY_MS)
                found["error"] = columns.flag(rows, "error", default=False)
                found["shadow"] = columns.flag(rows, "shadow", default=False)
                found["output"] = columns.json_column(rows, "output", max_bytes=MAX_OUTPUT_BYTES)
        elif kind == "label":
            found["project_id"] = columns.constant(rows, self._project_id, pa.string())
            found["prediction_id"] = columns.identifier(rows, "prediction_id")
            correct_values, label_values = rows.values("correct"), rows.values("label")
            rows.refuse(
                None,
                [
                    (c is None) == (lb is None)
                    for c, lb in zip(correct_values, label_values, strict=True)
                ],
                "a label needs exactly one of correct (true/false) and label",
            )
            found["correct"] = columns.flag(rows, "correct", default=None)
            found["label"] = columns.json_column(rows, "label", max_bytes=MAX_OUTPUT_BYTES)
        else:
            found["project_id"] = columns.constant(rows, self._project_id, pa.string())
            experiment_ids, _ = columns.experiment(
                rows, kind, self._resolve, self._default_experiment, required=False
            )
            found["experiment_id"] = experiment_ids
            found["unit_id"] = columns.identifier(rows, "unit_id")
            found["name"] = columns.metric_names(rows)
            found["value"] = columns.number(
                rows, "value", -MAX_METRIC_MAGNITUDE, MAX_METRIC_MAGNITUDE
            )
        _unknown_fields(rows, kind)
        found["received_at"] = columns.constant(rows, self._now, columns.UTC_MICROS)
        return pa.table(
            [found[name] for name in EVENT_COLUMNS[kind]], names=list(EVENT_COLUMNS[kind])
        )


def _unknown_fields(rows: Rows, kind: str) -> None:
    """Refuse a field the type does not have (a typo such as ``shadw`` would otherwise be
    dropped unseen); checked last, as the wire schema reports extra fields after the rest.

    The keys of the whole group are gathered in one C call (3 ms per 50,000 events).
    """
    allowed = EVENT_FIELDS[kind]
    if set().union(*rows.events) <= allowed:
        return
    for i, event in enumerate(rows.events):
        unknown = [str(key) for key in event if key not in allowed]
        if unknown:
            rows.refuse_at(
                unknown[0],
                i,
                f"unknown field{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))} (a {kind} event has "
                f"{', '.join(sorted(allowed))})",
            )


def _bad_type(event: Mapping[str, Any]) -> tuple[str, str]:
    """The field at fault and the reason of an event whose type is missing or unknown (the
    type comes first: it says which fields an event has)."""
    return "type", f"type must be one of {', '.join(EVENT_TYPES)}, got {quoted(event.get('type'))}"
