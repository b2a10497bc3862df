"""Each SDK operation is defined once (``_api.py``, ``_llm_api.py``); its route must be one the
server serves, with the arguments, body and answer of the OpenAPI document checked in
(``docs/openapi.json``, itself checked against the app by ``tests/server/test_openapi.py``).
And the rules by which arguments travel (``_operation.py``) do what they say.
"""

from __future__ import annotations

import enum
import json
import subprocess
import sys
import typing
from pathlib import Path
from typing import Annotated, Any

import pydantic
import pytest

from ablab import ValidationError
from ablab.client import _api, _llm_api
from ablab.client._operation import Local, LocalOnly, Operation, operation
from ablab.contract.experiments import ExperimentPublic, ExperimentUpdate
from ablab.domain.lifecycle import Action, ExperimentStatus

OPENAPI = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text(encoding="utf-8")
)
OPERATIONS: list[Operation[..., Any]] = [
    value
    for module in (_api, _llm_api)
    for value in vars(module).values()
    if isinstance(value, Operation)
]


def _route(op: Operation[..., Any], values: dict[str, str]) -> dict[str, Any]:
    path = op.path.format_map({name: values.get(name, f"{{{name}}}") for name in op.shape.path})
    assert path in OPENAPI["paths"], f"{op.name}: no route {path}"
    assert op.method.lower() in OPENAPI["paths"][path], f"{op.name}: no {op.method} {path}"
    found: dict[str, Any] = OPENAPI["paths"][path][op.method.lower()]
    return found


def _enums_in_path(op: Operation[..., Any]) -> dict[str, type[enum.Enum]]:
    hints = typing.get_type_hints(op.serve)
    return {
        name: hints[name]
        for name in op.shape.path
        if isinstance(hints[name], type) and issubclass(hints[name], enum.Enum)
    }


def _routes(op: Operation[..., Any]) -> list[dict[str, Any]]:
    """The routes of ``op``: one per value of an enum in its path (``/{ref}/{action}``)."""
    enums = _enums_in_path(op)
    if not enums:
        return [_route(op, {})]
    ((name, kind),) = enums.items()
    return [_route(op, {name: member.value}) for member in kind]


def _resolved(schema: dict[str, Any]) -> dict[str, Any]:
    """The object schema behind a ``$ref`` or an optional body's ``anyOf [..., null]``."""
    arms = [arm for arm in schema.get("anyOf", [schema]) if arm.get("type") != "null"]
    (arm,) = arms
    if "$ref" in arm:
        named: dict[str, Any] = OPENAPI["components"]["schemas"][arm["$ref"].split("/")[-1]]
        return named
    return arm


def _shape_of(annotation: Any) -> Any:
    """An answer type as the OpenAPI document draws it: a named schema, an array, a map."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation.__name__
    if typing.get_origin(annotation) is list:
        return ["array", _shape_of(typing.get_args(annotation)[0])]
    assert typing.get_origin(annotation) is dict, annotation
    return "object"


def _drawn(schema: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return schema["$ref"].split("/")[-1]
    if schema.get("type") == "array":
        return ["array", _drawn(schema["items"])]
    return schema.get("type")


@pytest.mark.parametrize("op", OPERATIONS, ids=[repr(op) for op in OPERATIONS])
def test_each_operation_is_a_route_of_the_server(op: Operation[..., Any]) -> None:
    hints = typing.get_type_hints(op.serve)
    shape = op.shape
    arguments = [n for n in list(shape.signature.parameters)[1:] if n not in shape.local_only]
    for route in _routes(op):
        declared = {(p["in"], p["name"]) for p in route.get("parameters", [])}
        in_path = {("path", n) for n in shape.path if n not in _enums_in_path(op)}
        assert in_path == {d for d in declared if d[0] == "path"}, op.name
        rest = [n for n in arguments if n not in shape.path]
        body = route.get("requestBody", {}).get("content", {}).get("application/json")
        if op.method == "GET":
            assert {("query", n) for n in rest} <= declared, op.name
        elif shape.spec is not None:
            assert body is not None, op.name
            assert _resolved(body["schema"])["title"] == hints[shape.spec].__name__
        elif rest:
            assert body is not None, op.name
            assert set(rest) <= set(_resolved(body["schema"])["properties"]), op.name
        answers = [r for code, r in route["responses"].items() if code.startswith("2")]
        (answer,) = answers
        assert _drawn(answer["content"]["application/json"]["schema"]) == _shape_of(
            hints["return"]
        ), op.name


# How arguments travel


def test_path_arguments_are_quoted_and_enums_sent_by_value() -> None:
    request = _api.transition.request("a b/c?#", Action.PAUSE)
    assert (request.method, request.path) == ("POST", "/v1/experiments/a%20b%2Fc%3F%23/pause")
    assert request.params == {}
    assert request.json is None  # no body at all


def test_get_arguments_are_the_query_without_the_ones_not_given() -> None:
    assert _api.list_experiments.request(ExperimentStatus.PAUSED).params == {"status": "paused"}
    assert _api.list_experiments.request().params == {}
    assert _api.results.request("e").params == {}
    prior = _api.results.request("e", "region", ("uniform", "flat"))
    assert prior.params == {"segment": "region", "prior": ["uniform", "flat"]}
    assert _api.timeseries.request("e").params == {"interval": "day"}


def test_a_schema_is_sent_with_only_its_fields_that_were_set() -> None:
    spec = ExperimentUpdate(traffic_split=80, hypothesis=None)
    request = _api.update_experiment.request("e", spec)
    assert request.json == {"traffic_split": 80.0, "hypothesis": None}


def test_plain_body_arguments_are_sent_unless_none() -> None:
    assert _api.log_events.request([{"type": "exposure"}]).json == {
        "events": [{"type": "exposure"}]
    }
    assert _api.log_events.request([], "e").json == {"events": [], "experiment": "e"}
    assert _api.assign.request("e", "u1", {}).json == {
        "experiment": "e",
        "unit_id": "u1",
        "attributes": {},
    }


def test_local_only_arguments_are_never_sent_and_a_runner_is_refused() -> None:
    spec = _llm_api.LlmRunRequest(variant="hot")
    quiet = _llm_api.run.request("e", spec, progress=lambda done, total: None)
    assert quiet.json == {"variant": "hot"}
    with pytest.raises(ValidationError, match="a Python runner runs with the embedded store"):
        _llm_api.run.request("e", spec, runner=lambda task, config: "4")


def test_the_answer_is_read_as_the_return_type() -> None:
    counts = _api.assignment_counts.answer({"control": 3, "treatment": "4"})
    assert counts == {"control": 3, "treatment": 4}
    with pytest.raises(pydantic.ValidationError):
        _api.get_experiment.answer({"id": "exp_1"})


def _experiment(local: Local, ref: str) -> ExperimentPublic:
    raise AssertionError("not called")


def test_a_definition_the_rules_cannot_send_is_refused_on_first_use() -> None:
    unnamed = operation("GET", "/v1/experiments/{name}")(_experiment)
    with pytest.raises(TypeError, match=r"the path names \['name'\], not arguments"):
        unnamed.request("e")

    def two_bodies(local: Local, ref: str, spec: ExperimentUpdate) -> ExperimentPublic:
        raise AssertionError("not called")

    with pytest.raises(TypeError, match="a schema argument must be the only body argument"):
        operation("POST", "/v1/experiments")(two_bodies).request("e", ExperimentUpdate())
    with pytest.raises(TypeError, match="a schema argument must be the only body argument"):
        operation("GET", "/v1/experiments/x")(two_bodies).request("e", ExperimentUpdate())


def test_a_local_only_argument_without_a_refusal_is_dropped() -> None:
    def with_callback(
        local: Local, ref: str, hook: Annotated[Any, LocalOnly()] = None
    ) -> ExperimentPublic:
        raise AssertionError("not called")

    request = operation("POST", "/v1/experiments/{ref}/launch")(with_callback).request(
        "e", hook=print
    )
    assert request.json is None


def test_a_remote_client_loads_no_store() -> None:
    """The operations' functions name the services, never the stores: a client of a server
    opens no database and loads neither SQLAlchemy nor DuckDB."""
    code = (
        "import sys; from ablab import Client; "
        "Client(base_url='http://127.0.0.1:9', api_key='abk_x_y').close(); "
        "print(','.join(m for m in ('sqlalchemy', 'duckdb', 'alembic', 'fastapi') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
