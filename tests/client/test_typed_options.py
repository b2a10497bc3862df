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
from typing import Any, cast

import pytest
from pydantic import BaseModel

from ablab import ValidationError
from ablab.client._backend import Backend
from ablab.client._experiments import UNSET, Experiments, UnsetType
from ablab.client._http import HttpBackend
from ablab.contract.experiments import ExperimentCreate, ExperimentUpdate

# (SDK method, schema, parameters outside the schema: the experiment's reference)
PAIRS = [
    (Experiments.create, ExperimentCreate, set()),
    (Experiments.update, ExperimentUpdate, {"ref"}),
]
IDS = ["create", "update"]


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
    left_to_server = 0
    for name, parameter in _parameters(method, outside).items():
        field = schema.model_fields[name]
        if parameter.default is UNSET:
            left_to_server += 1
            continue
        assert parameter.default is not inspect.Parameter.empty or field.is_required(), name
        if not field.is_required():
            assert parameter.default == field.get_default(call_default_factory=True), name
    assert left_to_server > 0


class _Recorder:
    """The one backend method ``Experiments`` calls here: keeps the body the SDK would send."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def create_experiment(self, spec: ExperimentCreate) -> None:
        self.bodies.append(HttpBackend._body(spec))

    def update_experiment(self, ref: str, spec: ExperimentUpdate) -> None:
        self.bodies.append({"ref": ref, **HttpBackend._body(spec)})


@pytest.fixture
def recorder() -> _Recorder:
    return _Recorder()


@pytest.fixture
def experiments(recorder: _Recorder) -> Experiments:
    return Experiments(cast(Backend, recorder))


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
    assert recorder.bodies == [
        {"ref": "e", "traffic_split": 80.0},
        {"ref": "e", "weights": {"control": 30.0, "treatment": 70.0}, "expected_version": 3},
        {"ref": "e", "min_samples": None, "hypothesis": "h"},
    ]


def test_a_wrong_type_is_still_the_typed_validation_error(experiments: Experiments) -> None:
    with pytest.raises(ValidationError, match="alpha") as caught:
        experiments.create("e", **SHORT, alpha="small")  # type: ignore[arg-type]
    assert caught.value.details["errors"][0]["loc"] == ["alpha"]
    with pytest.raises(ValidationError, match="min_samples"):
        experiments.update("e", min_samples=True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        experiments.create("e", **SHORT, colour="blue")  # type: ignore[call-arg]
