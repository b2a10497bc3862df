"""A corpus of bad input over every route: always a 4xx naming the field, never a write.

The routes come from the app's OpenAPI document, so a new route is covered the day it is
added. For every operation that takes a body or query parameters, each field gets the bad
values its type calls for (NaN, ±Infinity, 1e400, 10**30, -1, "50" and true for numbers; 1
and "true" for booleans; a final newline, NUL, BEL, a million characters and wrong types for
names; NUL and a million characters for free text; NaN, NUL and a megabyte inside free-form
JSON; wrong types for objects and lists) on top of a body that is otherwise valid. Path
parameters get NUL and BEL. Each answer must be a 4xx of the shape
``{"error": {"code", "message", "details"}}`` whose message or details name the field; the
metadata tables (the audit log among them) and the event counts must be as they were.

Events keep their batch contract: a bad event comes back in ``rejected`` with its index and a
reason naming the field, and is not stored (a number JSON does not allow refuses the whole
body, naming ``events[0].<field>``).

Both stores: the embedded ones, and PostgreSQL for metadata and events.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from ablab.contract.experiments import ExperimentCreate, VariantCreate
from ablab.domain.keys import Scope
from ablab.domain.limits import MAX_ATTRIBUTE_KEYS
from ablab.domain.rollouts import RolloutAction
from ablab.errors import NotFound, Unauthorized, ValidationError
from ablab.server.openapi import openapi_document
from ablab.services.access.keys import create_key
from ablab.services.access.users import check_password, disable_user
from ablab.services.context import Context
from ablab.services.rollouts.steps import act_on_rollout
from ablab.store.metadata.tables import Base
from tests.server.conftest import Project, RunningServer, serving

DOCUMENT = openapi_document()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]

MODEL, VERSIONS, EXPERIMENT, DRAFT = (
    "radiology-v1",
    ("1.0.0", "2.0.0"),
    "my-experiment",
    "draft-exp",
)
GROUP, TASK, LLM_EXPERIMENT = "devices", "seed-task", "llm-exp"
MEGABYTE = "x" * 1_000_000


class Raw:
    """A number written as is into the body: JSON text Python's encoder cannot produce."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


NUMBERS: list[tuple[str, Any]] = [
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("-Infinity", float("-inf")),
    ("1e400", Raw("1e400")),
    ("10**30", 10**30),
    ("-1", -1),
    ("'50'", "50"),
    ("true", True),
]
INTEGERS = [*NUMBERS, ("1.5", 1.5)]
BOOLEANS: list[tuple[str, Any]] = [("1", 1), ("0", 0), ("'true'", "true")]
FREE_FORM: list[tuple[str, Any]] = [
    ("a string", "x"),
    ("a list", []),
    ("a number", 7),
    ("NaN inside", {"k": float("nan")}),
    ("Infinity inside", {"k": [1, float("inf")]}),
    ("1e400 inside", {"k": Raw("1e400")}),
    ("NUL in a key", {"k\x00": 1}),
    ("NUL in a string", {"k": "a\x00b"}),
    ("a megabyte", {"k": MEGABYTE}),
]
ANYTHING: list[tuple[str, Any]] = [
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("1e400", Raw("1e400")),
    ("NUL in a string", "a\x00b"),
    ("a megabyte", MEGABYTE),
]
# Free text: a final newline or a BEL is text; NUL is not (PostgreSQL cannot store it).
FREE_TEXT_FIELDS = frozenset({"hypothesis", "description", "reason", "metadata"})
# Passed to the model as given: only what is not JSON is refused there.
MODEL_INPUT = ("POST", "/v1/predict/{experiment}", "features")

LLM_TASK = {"input": "2+2?", "expected_output": "4", "evaluators": [{"kind": "exact_match"}]}
# Valid values for fields a body needs, by name (by type otherwise).
HINTS: dict[str, Any] = {
    "name": "fresh_one",
    "model": MODEL,
    "model_id": MODEL,
    "version": "3.0.0",
    "control_version": VERSIONS[0],
    "treatment_version": VERSIONS[1],
    "endpoint": "http://127.0.0.1:9/model",
    "experiment": EXPERIMENT,
    "unit_id": "u1",
    "step": "classifier",
    "input": "2+2?",
    "value": "be brief",
    "scopes": ["read"],
    "traffic_weight": 0.5,
    "features": [1.0],
    "members": ["d1"],
    "config": {},
}
BODY_HINTS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/llm/experiments"): {"steps": ["classifier"]},
    ("PUT", "/v1/llm/experiments/{ref}/tasks"): {"tasks": [TASK]},
    ("POST", "/v1/experiments"): {
        "model_id": MODEL,
        "control_version": VERSIONS[0],
        "treatment_version": VERSIONS[1],
    },
    ("POST", "/v1/groups"): {"members": ["d1"]},
    ("POST", "/v1/llm/tasks"): LLM_TASK,
    # A path outside the operator's folders: refused by the check (4xx), not by the schema.
    ("POST", "/v1/sources"): {"tables": {"prediction": {"path": "/nowhere/predictions"}}},
}


def path_values(path: str) -> dict[str, str]:
    """The seeded objects each path parameter names."""
    if path.startswith("/v1/llm/"):
        ref = LLM_EXPERIMENT
    elif path.endswith("/variants") or path.endswith("/launch"):
        ref = DRAFT  # variants are added to a draft (a running one answers 409 first)
    else:
        ref = EXPERIMENT
    name = GROUP if path.startswith("/v1/groups") else MODEL
    return {
        "ref": ref,
        "name": name,
        "experiment": EXPERIMENT,
        "rollout_id": "ro_000000000000",
        "key_id": "000000000000",
        "test_id": "t_000000000000",
    }


# The JSON body, with Raw numbers written as they are.


def encode(body: Any) -> bytes:
    raws: dict[str, str] = {}

    def swap(value: Any) -> Any:
        if isinstance(value, Raw):
            key = f"@@raw{len(raws)}@@"
            raws[key] = value.text
            return key
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(body), allow_nan=True)
    for key, literal in raws.items():
        text = text.replace(json.dumps(key), literal)
    return text.encode()


# Reading the document.


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return resolve(options[0]) if len(options) == 1 else schema


def valid_value(name: str, schema: dict[str, Any]) -> Any:
    if name in HINTS:
        return HINTS[name]
    schema = resolve(schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        return "x1"
    if kind in ("number", "integer"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return body_of(schema)
    return "x1"


def body_of(schema: dict[str, Any]) -> dict[str, Any]:
    """The required fields of an object schema, each with a valid value."""
    schema = resolve(schema)
    properties = schema.get("properties", {})
    return {f: valid_value(f, properties[f]) for f in schema.get("required", [])}


def bad_values(name: str, schema: dict[str, Any]) -> list[tuple[str, Any]]:
    """The corpus for one field, by its type."""
    schema = resolve(schema)
    kind = schema.get("type")
    if "enum" in schema:
        return [("a final newline", f"{schema['enum'][0]}\n"), ("NUL", "a\x00"), ("7", 7)]
    if kind == "number":
        return NUMBERS
    if kind == "integer":
        return INTEGERS
    if kind == "boolean":
        return BOOLEANS
    if kind == "string":
        if name in FREE_TEXT_FIELDS:
            return [("NUL", "a\x00b"), ("a million characters", MEGABYTE), ("7", 7)]
        valid = valid_value(name, schema)
        return [
            ("a final newline", f"{valid}\n"),
            ("NUL", f"{valid}\x00"),
            ("BEL", f"{valid}\x07"),
            ("a million characters", MEGABYTE),
            ("7", 7),
            ("true", True),
        ]
    if kind == "array":
        wrong: list[tuple[str, Any]] = [("a string", "x"), ("an object", {}), ("7", 7)]
        items = resolve(schema.get("items", {}))
        # A union of item kinds (the event batch's oneOf) is judged item by item: a bad event is
        # a rejection inside a 2xx, as the events' own tests check, not a 4xx for the request.
        if (
            items
            and "oneOf" not in items
            and (items.get("type") != "object" or "properties" not in items)
        ):
            wrong += [(f"an item: {label}", [value]) for label, value in bad_values(name, items)]
        return wrong
    if kind == "object":
        extra = schema.get("additionalProperties")
        if "properties" in schema:
            return [("a string", "x"), ("a list", []), ("7", 7)]
        if isinstance(extra, dict) and extra:
            inner = bad_values(name, extra)
            return [
                ("a string", "x"),
                ("a list", []),
                ("a NUL key", {"k\x00": valid_value(name, extra)}),
                *[(f"a value: {label}", {"control": value}) for label, value in inner],
            ]
        corpus = FREE_FORM
        if name == "attributes":
            corpus = [*corpus, ("101 keys", {f"k{i}": i for i in range(MAX_ATTRIBUTE_KEYS + 1)})]
        return corpus
    return ANYTHING  # any JSON


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    body: dict[str, Any] | None  # the request body's schema
    query: dict[str, dict[str, Any]]  # name -> schema

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, values: dict[str, str] | None = None) -> str:
        given = {**path_values(self.path), **(values or {})}
        return re.sub(r"\{(\w+)\}", lambda m: quote(given[m.group(1)], safe=""), self.path)


def operations() -> list[Operation]:
    found = []
    for path, methods in DOCUMENT["paths"].items():
        for method, spec in methods.items():
            content = spec.get("requestBody", {}).get("content", {}).get("application/json", {})
            query = {
                p["name"]: p["schema"] for p in spec.get("parameters", []) if p["in"] == "query"
            }
            found.append(Operation(method.upper(), path, content.get("schema"), query))
    return found


OPERATIONS = operations()
# The callback of an LLM run answers only a request signed with its experiment's secret, and
# checks the signature before it reads the body (tests/llm covers its bad bodies).
UNSIGNED = {("POST", "/v1/llm/callbacks/{test_id}")}
WITH_INPUT = [
    op
    for op in OPERATIONS
    if (op.body is not None or op.query) and (op.method, op.path) not in UNSIGNED
]
WITH_PATH = [op for op in OPERATIONS if "{" in op.path]


@dataclass(frozen=True)
class Case:
    field: str
    label: str
    query: dict[str, Any]
    body: Any  # None: no body


def _as_url_text(label: str, value: Any) -> Any:
    """A bad value as a URL can carry it: a URL has no room for a megabyte (10,000
    characters stand in), and NaN or 1e400 are text there."""
    if isinstance(value, list):
        return [_as_url_text(label, item) for item in value]
    if label == "a million characters":
        return "x" * 10_000
    return repr(value) if isinstance(value, float | Raw) else value


def cases(op: Operation, base: dict[str, Any] | None) -> Iterator[Case]:
    for name, schema in op.query.items():
        for label, value in bad_values(name, schema):
            # A repeated parameter (a list) is judged by its item, as a single one is.
            item_label = label.removeprefix("an item: ")
            if item_label in ("7", "true", "'50'") or label == "an object":
                continue  # a URL's values are all text: "50" is a number there
            yield Case(name, label, {name: _as_url_text(item_label, value)}, base)
    if op.body is None:
        return
    properties = resolve(op.body).get("properties", {})
    for name, schema in properties.items():
        values = bad_values(name, schema)
        if (op.method, op.path, name) == MODEL_INPUT:
            values = [(label, v) for label, v in values if label in ("NaN", "Infinity", "1e400")]
        for label, value in values:
            yield Case(name, label, {}, {**(base or {}), name: value})
    yield Case("unexpected", "an unknown field", {}, {**(base or {}), "unexpected": 1})


# The servers, one per store, each with a seeded project for the corpus and one for the check
# that the valid bodies are valid.


@pytest.fixture(
    scope="module", params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def store_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    settings: dict[str, object] = {}
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        settings = {
            "database_url": SecretStr(url.replace("postgresql://", "postgresql+psycopg://")),
            "events_url": SecretStr(url),
        }
    yield from serving(tmp_path_factory.mktemp("bad-input"), **settings)


def seed(project: Project) -> httpx.Client:
    http = project.http()

    def create(path: str, body: dict[str, Any]) -> None:
        response = http.post(path, json=body)
        assert response.status_code == 201, (path, response.text)

    for version in VERSIONS:
        create("/v1/models", {"model": MODEL, "version": version, "endpoint": HINTS["endpoint"]})
    create(
        "/v1/experiments",
        {
            "name": EXPERIMENT,
            "model_id": MODEL,
            "control_version": VERSIONS[0],
            "treatment_version": VERSIONS[1],
        },
    )
    create("/v1/experiments", {"name": DRAFT, "model_id": MODEL, "draft": True})
    create("/v1/groups", {"name": GROUP, "members": ["d1", "d2"]})
    create("/v1/llm/tasks", {**LLM_TASK, "name": TASK})
    create("/v1/llm/experiments", {"name": LLM_EXPERIMENT, "steps": ["classifier"]})
    return http


@dataclass
class Seeded:
    server: RunningServer
    http: httpx.Client


@pytest.fixture(scope="module")
def corpus(store_server: RunningServer) -> Seeded:
    return Seeded(store_server, seed(store_server.project()))


def exposure(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "type": "exposure",
        "experiment": EXPERIMENT,
        "unit_id": "u1",
        "variant": "control",
        "timestamp": datetime.now(UTC).isoformat(),
        **fields,
    }


def base_of(op: Operation) -> dict[str, Any] | None:
    if op.body is None:
        return None
    base = {**body_of(op.body), **BODY_HINTS.get((op.method, op.path), {})}
    if op.path == "/v1/events":
        base["events"] = [exposure()]
    return base


def send(http: httpx.Client, op: Operation, case: Case | None = None) -> httpx.Response:
    body = base_of(op) if case is None else case.body
    return http.request(
        op.method,
        op.url(),
        params=case.query if case is not None else None,
        content=encode(body) if body is not None else None,
        headers={"content-type": "application/json"},
    )


# What must not change.


def snapshot(server: RunningServer) -> dict[str, Any]:
    """Every metadata row (but a key's last use, which a request touches) and event counts."""
    rows: dict[str, Any] = {}
    with server.state.store.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            kept = [c for c in table.columns if c.name != "last_used_at"]
            rows[table.name] = sorted(repr(tuple(r)) for r in connection.execute(select(*kept)))
    events = server.state.events
    rows["events"] = {
        kind: events.count(kind) for kind in ("exposure", "prediction", "label", "metric")
    }
    return rows


def problem_with(response: httpx.Response, field: str) -> str | None:
    """What is wrong with an answer to bad input (None: a 4xx error naming ``field``)."""
    if not 400 <= response.status_code < 500:
        return f"status {response.status_code}: {response.text[:300]}"
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:300]!r}"
    error = body.get("error") if isinstance(body, dict) else None
    if set(body) != {"error"} or not isinstance(error, dict):
        return f"not the error shape: {body!r:.300}"
    if set(error) != {"code", "message", "details"} or not isinstance(error["details"], dict):
        return f"not the error shape: {body!r:.300}"
    if not (isinstance(error["code"], str) and isinstance(error["message"], str)):
        return f"not the error shape: {body!r:.300}"
    if field not in error["message"] and field not in json.dumps(error["details"]):
        return f"the field is not named: {error['message']!r:.300}"
    return None


def check_each(seeded: Seeded, run: Callable[[], Iterator[tuple[str, str | None]]]) -> None:
    before = snapshot(seeded.server)
    failures = [f"{what}: {problem}" for what, problem in run() if problem is not None]
    after = snapshot(seeded.server)
    changed = sorted(k for k in before if before[k] != after[k])
    assert not failures, "\n".join(failures[:30])
    assert not changed, f"bad input was written: {changed}"


@pytest.mark.parametrize("op", WITH_INPUT, ids=lambda op: op.id)
def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(
    corpus: Seeded, op: Operation
) -> None:
    def run() -> Iterator[tuple[str, str | None]]:
        for case in cases(op, base_of(op)):
            response = send(corpus.http, op, case)
            yield f"{case.field} = {case.label}", problem_with(response, case.field)

    check_each(corpus, run)


@pytest.mark.parametrize("op", WITH_PATH, ids=lambda op: op.id)
def test_a_control_character_in_a_path_parameter_is_a_4xx(corpus: Seeded, op: Operation) -> None:
    def run() -> Iterator[tuple[str, str | None]]:
        for name in re.findall(r"\{(\w+)\}", op.path):
            for label, value in (("NUL", "a\x00b"), ("BEL", "a\x07b"), ("newline", "a\n")):
                response = corpus.http.request(
                    op.method,
                    op.url({name: value}),
                    content=encode(base_of(op)) if op.body is not None else None,
                    headers={"content-type": "application/json"},
                )
                yield f"{name} = {label}", problem_with(response, name)

    check_each(corpus, run)


def test_the_valid_bodies_the_corpus_starts_from_pass_validation(
    store_server: RunningServer,
) -> None:
    """Each case changes one field of a body that is otherwise valid: here is the proof.

    In a project of its own (these requests may write), every base body passes the wire
    schema: no 422 listing schema errors, and nothing that is not an answer (a 5xx).
    """
    http = seed(store_server.project())
    failures = []
    for op in WITH_INPUT:
        response = send(http, op)
        details = response.json()["error"]["details"] if response.status_code == 422 else {}
        schema_refused = bool({"errors", "problems", "field"} & set(details))
        # 503: the seeded model's endpoint does not answer, a documented answer to a valid body.
        if schema_refused or (response.status_code >= 500 and response.status_code != 503):
            failures.append(f"{op.id}: {response.status_code} {response.text[:300]}")
    assert not failures, "\n".join(failures)


# Events: each bad one is reported with its index and the field, none stored.

NOW = datetime.now(UTC)
VALID_EVENTS: dict[str, dict[str, Any]] = {
    "exposure": exposure(attributes={"region": "eu"}),
    "prediction": {
        "event_id": "e-2",
        "type": "prediction",
        "experiment": EXPERIMENT,
        "unit_id": "u1",
        "variant": "treatment",
        "prediction_id": "p-1",
        "latency_ms": 12.5,
        "error": False,
        "shadow": False,
        "output": {"label": "cat"},
        "timestamp": NOW.isoformat(),
    },
    "label (correct)": {
        "event_id": "e-3",
        "type": "label",
        "prediction_id": "p-1",
        "correct": True,
        "timestamp": NOW.isoformat(),
    },
    "label (label)": {
        "event_id": "e-4",
        "type": "label",
        "prediction_id": "p-1",
        "label": "cat",
        "timestamp": NOW.isoformat(),
    },
    "metric": {
        "event_id": "e-5",
        "type": "metric",
        "experiment": EXPERIMENT,
        "unit_id": "u1",
        "name": "revenue",
        "value": 3.5,
        "timestamp": NOW.isoformat(),
    },
}
IDS: list[tuple[str, Any]] = [
    ("empty", ""),
    ("NUL", "a\x00"),
    ("BEL", "a\x07"),
    ("a final newline", "a\n"),
    ("a million characters", MEGABYTE),
    ("7", 7),
    ("a list", []),
]
EVENT_CORPUS: dict[str, list[tuple[str, Any]]] = {
    "event_id": IDS,
    "experiment": IDS,
    "unit_id": IDS,
    "variant": IDS,
    "prediction_id": IDS,
    "name": [*IDS, ("not snake_case", "Revenue Per User")],
    "type": [("unknown", "click"), ("a final newline", "metric\n"), ("7", 7)],
    "timestamp": [
        ("year 1", "0001-01-01T00:00:00Z"),
        ("1900", "1900-01-01T00:00:00+00:00"),
        ("1999", "1999-12-31T23:59:59Z"),
        ("an hour ahead", (NOW + timedelta(hours=1)).isoformat()),
        ("no time zone", "2024-01-01T00:00:00"),
        ("not a time", "yesterday"),
        ("7", 7),
    ],
    "latency_ms": [
        *NUMBERS,
        ("more than a day", 86_400_001),
        ("2**70", 2**70),
    ],
    "value": [*NUMBERS[:4], ("2**70", 2**70), ("-2**70", -(2**70)), ("'50'", "50"), ("true", True)],
    "error": BOOLEANS,
    "shadow": BOOLEANS,
    "correct": BOOLEANS,
    "attributes": [
        *FREE_FORM,
        ("101 keys", {f"k{i}": i for i in range(MAX_ATTRIBUTE_KEYS + 1)}),
    ],
    "output": [
        item
        for item in FREE_FORM
        if "inside" in item[0] or "NUL" in item[0] or item[0] == "a megabyte"
    ],
    "label": [("NUL", "a\x00"), ("a megabyte", {"k": MEGABYTE}), ("NaN", float("nan"))],
}


def test_bad_events_are_rejected_one_by_one_naming_the_field(corpus: Seeded) -> None:
    def run() -> Iterator[tuple[str, str | None]]:
        for kind, valid in VALID_EVENTS.items():
            for field in valid:
                for label, value in EVENT_CORPUS[field]:
                    if field == "type" and kind.startswith("label") and value == "metric\n":
                        continue
                    body = {"events": [{**valid, field: value}]}
                    response = corpus.http.post("/v1/events", content=encode(body))
                    yield f"{kind} {field} = {label}", event_problem(response, field)

    check_each(corpus, run)


def event_problem(response: httpx.Response, field: str) -> str | None:
    if response.status_code == 422:  # a number JSON does not allow: the body is refused
        return problem_with(response, f"events[0].{field}")
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text[:300]}"
    result = response.json()
    if result["stored"] or result["accepted"] or len(result["rejected"]) != 1:
        return f"not rejected: {result!r:.300}"
    (rejected,) = result["rejected"]
    if rejected["index"] != 0 or field not in rejected["reason"]:
        return f"the reason does not name {field}: {rejected['reason']!r:.300}"
    return None


# The console's forms reach the services without the API's schemas in between.


def test_what_the_console_passes_on_is_checked_by_the_services(ctx: Context) -> None:
    """On both stores (PostgreSQL refuses NUL in text: these were 500s there)."""
    with pytest.raises(ValidationError, match="name holds a control character"):
        create_key(ctx, "ci\x00key", [Scope.READ])
    with pytest.raises(ValidationError, match="reason holds a NUL character"):
        act_on_rollout(ctx, "ro_000000000000", RolloutAction.PAUSE, "because\x00")
    with pytest.raises(Unauthorized, match="user name or password is not right"):
        check_password(ctx.store, "alice\x00", "a password")
    with pytest.raises(NotFound, match="unknown user"):
        disable_user(ctx, "alice\x00")
    # The console builds the schemas itself: ablab's error, which its pages show, not pydantic's.
    with pytest.raises(ValidationError, match="invalid hypothesis: must not hold a NUL"):
        ExperimentCreate(name="e", hypothesis="a\x00b")
    with pytest.raises(ValidationError, match=r"invalid name: must not hold a control character"):
        VariantCreate(name="control\x07")
