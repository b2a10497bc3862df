"""One vocabulary across doors (issue 18): ``bandit`` and ``model_id`` everywhere, with the
old spellings (``bandit_enabled``, ``model``) still accepted and both at once refused."""

from __future__ import annotations

import pytest

from ablab import Client
from ablab.contract.admin import AdminExperimentCreate
from ablab.contract.base import parse
from ablab.contract.catalogue import ModelVersionCreate
from ablab.errors import ValidationError
from tests.server.conftest import Project, RunningServer


@pytest.mark.parametrize("spelling", ["bandit", "bandit_enabled"])
def test_the_console_api_takes_bandit_under_either_name(
    server: RunningServer, project: Project, spelling: str
) -> None:
    created = project.http().post("/v1/admin/experiments", json={"name": "b", spelling: True})
    assert created.status_code == 201, created.text
    assert created.json()["bandit"] is True


def test_the_console_api_refuses_bandit_spelled_both_ways(
    server: RunningServer, project: Project
) -> None:
    http = project.http()
    refused = http.post(
        "/v1/admin/experiments", json={"name": "b", "bandit": True, "bandit_enabled": False}
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["message"] == (
        "invalid body: give bandit or its old name bandit_enabled, not both"
    )
    assert http.get("/v1/admin/experiments").json() == []


@pytest.mark.parametrize("spelling", ["model_id", "model"])
def test_a_model_version_is_registered_under_either_name(
    server: RunningServer, project: Project, spelling: str
) -> None:
    http = project.http()
    body = {spelling: "ranker", "version": "1.0", "endpoint": "http://m/1.0"}
    created = http.post("/v1/models", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "ranker"
    assert [v["version"] for v in http.get("/v1/models/ranker").json()["versions"]] == ["1.0"]


def test_a_model_version_named_both_ways_is_refused(
    server: RunningServer, project: Project
) -> None:
    http = project.http()
    body = {"model_id": "a", "model": "b", "version": "1.0", "endpoint": "http://m/1.0"}
    refused = http.post("/v1/models", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["message"] == (
        "invalid body: give model_id or its old name model, not both"
    )
    assert http.get("/v1/models").json() == []


def test_the_sdk_registers_with_the_new_name(server: RunningServer, project: Project) -> None:
    with Client(base_url=server.url, api_key=project.admin_key) as client:
        registered = client.models.register("ranker", "2.0", endpoint="http://m/2.0")
    assert registered.name == "ranker"


def test_the_schemas_refuse_both_spellings_in_one_line() -> None:
    assert parse(ModelVersionCreate, {"model": "m", "version": "1"}).model_id == "m"
    assert AdminExperimentCreate(name="x", bandit_enabled=True).bandit is True
    with pytest.raises(ValidationError) as raised:
        parse(ModelVersionCreate, {"model": "m", "model_id": "m", "version": "1"})
    assert str(raised.value) == "invalid body: give model_id or its old name model, not both"
