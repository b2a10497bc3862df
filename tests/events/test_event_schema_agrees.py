"""The typed event schema and the column-wise checker hold one rule.

``contract.events`` documents each event kind as a pydantic model; the server checks events
with ``services.events.validation.BatchChecker``, column by column, and never through those
models. Hypothesis builds batches of events, valid ones and broken ones (a field missing, of
the wrong type, out of range, an unknown field, extreme strings, bad timestamps, not an
object at all), and for each event:

- the schema accepts it exactly when the checker does, once the schema is given the lookups
  only the server can make (does the experiment exist, is the variant one of its own);
- when both refuse it and the checker names a field, the schema's first error names it too.

The events of one batch are checked together, so the checker's whole-column shortcuts and
its row-by-row fallbacks both meet good and bad neighbours.
"""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ablab.contract.events import EVENT_MODELS, validate_event
from ablab.domain.event_kinds import EVENT_FIELDS, EVENT_TYPES
from ablab.domain.experiments import Experiment, Variant
from ablab.domain.lifecycle import ExperimentStatus
from ablab.services.events.validation import BatchChecker
from tests.events.event_strategies import DEFAULTS, KNOWN, NOW, ORDER, VARIANTS, events


def _experiment(name: str) -> Experiment:
    return Experiment(
        id=f"id-{name}",
        project_id="p",
        name=name,
        status=ExperimentStatus.RUNNING,
        salt="salt",
        created_at=NOW,
        updated_at=NOW,
        variants=tuple(Variant(v, 50.0, is_control=v == "control") for v in VARIANTS),
    )


EXPERIMENTS = {name: _experiment(name) for name in KNOWN}

# Verdicts: (accepted, the field blamed or None)
Verdict = tuple[bool, str | None]


def checker_verdicts(events: list[Any], default: str | None) -> list[Verdict]:
    checker = BatchChecker(EXPERIMENTS.get, "p", NOW, default)
    batch, refusals = checker.check(events)
    verdicts: list[Verdict] = [(True, None)] * len(events)
    for refusal in refusals:
        verdicts[refusal.index] = (False, refusal.field)
    assert len(batch) == verdicts.count((True, None))
    return verdicts


def schema_verdict(event: Any, default: str | None) -> Verdict:
    """The schema's verdict, with the two lookups only the server can make after it."""
    try:
        validate_event(event, default_experiment=default, now=NOW)
    except pydantic.ValidationError as exc:
        shape: str | None = _blamed(exc.errors()[0])
        if shape in (None, "type"):
            return False, shape
    else:
        shape = None
    kind = event["type"]
    lookup = _lookup_problem(event, default)
    if lookup is not None and (shape is None or _before(kind, lookup, shape)):
        return False, lookup
    return (False, shape) if shape is not None else (True, None)


def _blamed(error: Any) -> str | None:
    loc = error["loc"]
    if not loc:  # the union itself: no usable type, or not an object at all
        return "type" if error["type"].startswith("union_tag") else None
    # A kind's errors are filed under its tag; an error of the whole event names no field.
    return str(loc[1]) if len(loc) > 1 else None


def _lookup_problem(event: dict[str, Any], default: str | None) -> str | None:
    kind = event["type"]
    if kind == "label":
        return None
    reference = event.get("experiment")
    reference = default if reference is None else reference
    if not isinstance(reference, str):
        return None  # the schema refuses it (or there is none to look up)
    if _well_formed(reference) and reference not in EXPERIMENTS:
        return "experiment"
    variant = event.get("variant")
    if kind != "metric" and reference in EXPERIMENTS and isinstance(variant, str):
        return None if variant in VARIANTS else "variant"
    return None


def _well_formed(reference: Any) -> bool:
    try:
        validate_event(
            {
                "type": "metric",
                "event_id": "e",
                "timestamp": "2026-01-01T00:00:00Z",
                "experiment": reference,
                "unit_id": "u",
                "name": "n",
                "value": 1,
            },
            now=NOW,
        )
    except pydantic.ValidationError:
        return False
    return True


def _before(kind: str, first: str, second: str) -> bool:
    order = ORDER[kind]
    return second not in order or order.index(first) < order.index(second)


@settings(max_examples=600)
@given(batch=st.lists(events(), min_size=1, max_size=5), default=DEFAULTS)
def test_the_schema_accepts_what_the_checker_accepts(batch: list[Any], default: str | None) -> None:
    for event, checker in zip(batch, checker_verdicts(batch, default), strict=True):
        schema = schema_verdict(event, default)
        shown = f"{event!r:.2000} (default {default!r}): schema {schema}, checker {checker}"
        assert schema[0] == checker[0], shown
        if not checker[0] and checker[1] is not None:
            assert schema[1] == checker[1], shown


def _prediction(**change: Any) -> dict[str, Any]:
    event = {
        "event_id": "e1",
        "type": "prediction",
        "timestamp": "2026-11-23T11:00:00Z",
        "experiment": "checkout",
        "unit_id": "u1",
        "variant": "control",
        "prediction_id": "p1",
        "latency_ms": 12.5,
    }
    return {**event, **change}


def _exposure(**change: Any) -> dict[str, Any]:
    event = {
        "event_id": "x1",
        "type": "exposure",
        "timestamp": "2026-11-23T11:00:00Z",
        "experiment": "checkout",
        "unit_id": "u1",
        "variant": "control",
    }
    return {**event, **change}


# Each told the two apart once (or crashed the checker), and is kept whatever Hypothesis draws.
CASES: list[tuple[str, list[dict[str, Any]], list[str | None]]] = [
    ("a valid event", [_prediction()], [None]),
    ("an unknown field: the checker let it through", [_prediction(shadw=True)], ["shadw"]),
    (
        "a bad type and a bad id: the checker named the id, the schema can only name the type",
        [_prediction(type="click", event_id="")],
        ["type"],
    ),
    (
        "a UTC instant past year 9999: the checker crashed",
        [_prediction(timestamp="9999-12-31T23:59:59-01:00")],
        ["timestamp"],
    ),
    (
        "only empty attributes in a batch: the checker crashed",
        [_exposure(attributes={}), _exposure(event_id="x2", attributes={})],
        [None, None],
    ),
    ("bytes for an id: the checker read them as text", [_prediction(event_id=b"e1")], ["event_id"]),
    (
        "a datetime in an output: the checker wrote it as text",
        [_prediction(output={"at": NOW})],
        ["output"],
    ),
    (
        "a str enum member for a timestamp: the checker stored no time",
        [_prediction(timestamp=ExperimentStatus.RUNNING)],
        ["timestamp"],
    ),
    ("a latency beyond 64 bits", [_prediction(latency_ms=2**63)], ["latency_ms"]),
]


@pytest.mark.parametrize(("batch", "fields"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cases_that_once_disagreed(batch: list[dict[str, Any]], fields: list[str | None]) -> None:
    expected = [(True, None) if field is None else (False, field) for field in fields]
    assert checker_verdicts(batch, None) == expected
    assert [schema_verdict(event, None) for event in batch] == expected


def test_the_kinds_are_the_types_the_checker_knows() -> None:
    assert tuple(EVENT_MODELS) == EVENT_TYPES


def test_each_model_declares_exactly_the_fields_the_checker_allows() -> None:
    declared = {kind: frozenset(model.model_fields) for kind, model in EVENT_MODELS.items()}
    assert declared == EVENT_FIELDS


def test_the_lookups_are_the_servers_alone() -> None:
    """A well-formed experiment or variant that does not exist passes the schema (it cannot
    know) and is refused by the checker, naming the field."""
    unknown = [_prediction(experiment="ghost"), _prediction(variant="treatment_9")]
    for event in unknown:
        validate_event(event, now=NOW)
    assert checker_verdicts(unknown, None) == [(False, "experiment"), (False, "variant")]
