"""The SDK's typed keyword options stay in step with the wire schemas they fill.

``client.experiments.create`` and ``.update`` spell out every field of ``ExperimentCreate``
and ``ExperimentUpdate`` as a keyword parameter so type checkers and IDEs see them; these
tests fail when a field is added to (or retyped in) a schema and not in the SDK. The bodies
sent are pinned: an option not passed is not sent, so the server's default applies.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from ablab import ValidationError
from ablab.client._experiments import Experiments
from ablab.client._llm import Llm
from ablab.client._operation import Operation
from ablab.client._options import UNSET, UnsetType
from ablab.client._resources import Groups, Metrics
from ablab.contract.catalogue import GroupCreate
from ablab.contract.experiments import ExperimentCreate, ExperimentUpdate
from ablab.contract.llm import LlmExperimentCreate, LlmTaskCreate, LlmVariantCreate
from ablab.contract.metrics import MetricCreate

# (SDK method, schema, parameters outside the schema: the reference of what it changes)
PAIRS = [
    (Experiments.create, ExperimentCreate, set()),
    (Experiments.update, ExperimentUpdate, {"ref"}),
    (Llm.create, LlmExperimentCreate, set()),
    (Llm.create_task, LlmTaskCreate, set()),
    (Llm.add_variant, LlmVariantCreate, {"ref"}),
    (Groups.create, GroupCreate, set()),
    (Metrics.create, MetricCreate, set()),
]
IDS = [f"{m.__qualname__}" for m, _, _ in PAIRS]


def _parameters(method: Callable[..., Any], outside: set[str]) -> dict[str, inspect.Parameter]:
    found = dict(inspect.signature(method).parameters)
    del found["self"]
    for name in outside:
        del found[name]
    return found


def _arms(annotation: Any) -> set[Any]:
    """The types a union offers (one for a plain type), each with its Annotated constraints."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set(typing.get_args(annotation))
    return {annotation}


def _enum_values(arms: set[Any]) -> set[Any]:
    """``str`` if an arm is an enum: the schema reads an enum from its value too."""
    return {str for arm in arms if isinstance(arm, type) and issubclass(arm, enum.Enum)}


@pytest.mark.parametrize(("method", "schema", "outside"), PAIRS, ids=IDS)
def test_keyword_parameters_are_the_schema_fields(
    method: Callable[..., Any], schema: type[BaseModel], outside: set[str]
) -> None:
    assert set(_parameters(method, outside)) == set(schema.model_fields)


@pytest.mark.parametrize(("method", "schema", "outside"), PAIRS, ids=IDS)
def test_parameter_types_are_the_schema_types(
    method: Callable[..., Any], schema: type[BaseModel], outside: set[str]
) -> None:
    # With their Annotated constraints: the SDK names the same Percent, Identifier, ...
    sdk = typing.get_type_hints(method, include_extras=True)
    wire = typing.get_type_hints(schema, include_extras=True)
    for name in _parameters(method, outside):
        wire_arms = _arms(wire[name])
        assert _arms(sdk[name]) - {UnsetType} == wire_arms | _enum_values(wire_arms), name


@pytest.mark.parametrize(("method", "schema", "outside"), PAIRS, ids=IDS)
def test_defaults_are_the_schema_defaults_or_left_to_the_server(
    method: Callable[..., Any], schema: type[BaseModel], outside: set[str]
) -> None:
    for name, parameter in _parameters(method, outside).items():
        field = schema.model_fields[name]
        if parameter.default is UNSET:
            assert not field.is_required(), name
            continue
        assert parameter.default is not inspect.Parameter.empty or field.is_required(), name
        if not field.is_required():
            assert parameter.default == field.get_default(call_default_factory=True), name


class _Recorder:
    """A backend that keeps the HTTP request each call would send, and answers nothing."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []

    def call(self, operation: Operation[..., Any], /, *args: Any, **kwargs: Any) -> None:
        request = operation.request(*args, **kwargs)
        self.sent.append((request.method, request.path, request.json))

    def close(self) -> None: ...

    @property
    def bodies(self) -> list[Any]:
        return [body for _, _, body in self.sent]


@pytest.fixture
def recorder() -> _Recorder:
    return _Recorder()


@pytest.fixture
def experiments(recorder: _Recorder) -> Experiments:
    return Experiments(recorder)


@pytest.fixture
def llm(recorder: _Recorder) -> Llm:
    return Llm(recorder)


SHORT = {"model_id": "m", "control_version": "1", "treatment_version": "2"}


def test_create_sends_the_short_form_and_only_the_options_given(
    experiments: Experiments, recorder: _Recorder
) -> None:
    experiments.create("e", **SHORT)
    experiments.create("e", model_id="m", treatment_versions=["2", "3"], traffic_split=60)
    experiments.create("e", **SHORT, alpha=0.05, hypothesis="h", max_duration_days=None)
    experiments.create("e", variants=[{"name": "a", "weight": 50}], draft=True)  # type: ignore[list-item]
    short_form = {"name": "e", **SHORT, "traffic_split": 50.0}
    assert recorder.bodies == [
        short_form,
        {"name": "e", "model_id": "m", "control_version": None, "treatment_version": None,
         "treatment_versions": ["2", "3"], "traffic_split": 60.0},
        {**short_form, "alpha": 0.05, "hypothesis": "h", "max_duration_days": None},
        {"name": "e", "model_id": None, "control_version": None, "treatment_version": None,
         "traffic_split": 50.0, "draft": True,
         "variants": [{"name": "a", "weight": 50.0}]},
    ]  # fmt: skip


def test_update_sends_only_the_fields_given(experiments: Experiments, recorder: _Recorder) -> None:
    experiments.update_split("e", traffic_split=80)
    experiments.update("e", weights={"control": 30, "treatment": 70}, expected_version=3)
    experiments.update("e", min_samples=None, hypothesis="h")  # None given is sent
    assert recorder.sent == [
        ("PATCH", "/v1/experiments/e", {"traffic_split": 80.0}),
        ("PATCH", "/v1/experiments/e",
         {"weights": {"control": 30.0, "treatment": 70.0}, "expected_version": 3}),
        ("PATCH", "/v1/experiments/e", {"min_samples": None, "hypothesis": "h"}),
    ]  # fmt: skip


def test_a_wrong_type_is_still_the_typed_validation_error(experiments: Experiments) -> None:
    with pytest.raises(ValidationError, match="alpha") as caught:
        experiments.create("e", **SHORT, alpha="small")  # type: ignore[arg-type]
    assert caught.value.details["errors"][0]["loc"] == ["alpha"]
    with pytest.raises(ValidationError, match="min_samples"):
        experiments.update("e", min_samples=True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        experiments.create("e", **SHORT, colour="blue")  # type: ignore[call-arg]


def test_llm_create_sends_the_steps_and_only_the_options_given(
    llm: Llm, recorder: _Recorder
) -> None:
    llm.create("answers", steps=["writer"])
    llm.create("answers", steps=["writer"], tasks=["t1"], trials=3, webhook_url=None)
    assert recorder.sent == [
        ("POST", "/v1/llm/experiments", {"name": "answers", "steps": ["writer"]}),
        ("POST", "/v1/llm/experiments",
         {"name": "answers", "steps": ["writer"], "tasks": ["t1"], "trials": 3,
          "webhook_url": None}),
    ]  # fmt: skip


def test_llm_options_are_checked_before_anything_is_sent(llm: Llm, recorder: _Recorder) -> None:
    with pytest.raises(ValidationError, match="trials"):
        llm.create("answers", steps=["writer"], trials=0)
    with pytest.raises(ValidationError, match="concurrency"):
        llm.create("answers", steps=["writer"], concurrency="many")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected keyword argument 'temperature'"):
        llm.create("answers", steps=["writer"], temperature=0.2)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="parameter"):
        llm.add_variant("answers", "hot", step="writer", parameter="colour", value=1)
    assert recorder.sent == []


def test_a_task_without_evaluators_leaves_them_to_the_server(llm: Llm, recorder: _Recorder) -> None:
    llm.create_task("t1", input={"q": "2+2"})
    assert recorder.sent == [
        ("POST", "/v1/llm/tasks", {"name": "t1", "input": {"q": "2+2"}, "expected_output": None})
    ]
