"""Routes declare their scope (``scoped_route``): the key is checked before the body is read,
a body sent as JSON that does not parse is ablab's 422, and the writes that change what is
served drop the live rules' caches before they answer."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from ablab.domain.keys import Scope
from ablab.server.deps import Caller
from ablab.server.scoped_route import ScopedRoute
from tests.server.conftest import Project
from tests.server.test_sdk import setup_experiment

UNREADABLE = [
    pytest.param(b'{"name": "caf\xe9"}', "not valid JSON (UTF-8)", id="latin-1, not UTF-8"),
    pytest.param(b'{"name": "x",}', "not JSON: Expecting property name", id="a trailing comma"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "nests too deep", id="100,000 arrays deep"),
    pytest.param(b'{"traffic_split": ' + b"7" * 5_000 + b"}", "a number is too long",
                 id="an integer of 5,000 digits"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), UNREADABLE)
def test_a_body_that_does_not_parse_is_a_422_for_a_caller_with_the_scope(
    project: Project, body: bytes, message: str
) -> None:
    answer = project.http(project.key(Scope.WRITE)).post(
        "/v1/experiments", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert message in error["message"], error["message"]


@pytest.mark.parametrize(("body", "message"), UNREADABLE)
def test_a_body_that_does_not_parse_is_a_401_or_403_for_the_others(
    project: Project, body: bytes, message: str
) -> None:
    headers = {"Content-Type": "application/json"}
    anonymous = project.server.http().post("/v1/experiments", content=body, headers=headers)
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "unauthorized")
    reader = project.http(project.key(Scope.READ))
    refused = reader.post("/v1/experiments", content=body, headers=headers)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")


def test_the_webhook_checks_a_key_in_its_header_before_its_body(project: Project) -> None:
    setup_experiment(project)
    path = "/v1/experiments/trial/decision/webhook"
    headers = {"Content-Type": "application/json"}
    sdk = project.http(project.key(Scope.SDK)).post(path, content=b"{not json", headers=headers)
    assert sdk.status_code == 403, sdk.text
    reader = project.http(project.key(Scope.READ))
    wrong = reader.post(path, json={"metadata": {"api_key": 7}})
    assert wrong.status_code == 422, wrong.text
    assert "metadata" in wrong.json()["error"]["message"]
    assert reader.post(path).status_code == 425  # no body at all: inconclusive, no data


def test_a_route_that_takes_its_caller_but_declares_no_scope_fails_loudly() -> None:
    router = APIRouter(route_class=ScopedRoute)

    @router.get("/undeclared")
    def undeclared(caller: Caller) -> dict[str, Any]:
        return {"project_id": caller.project_id}

    app = FastAPI()
    app.include_router(router)

    async def call() -> None:
        transport = httpx.ASGITransport(app=app)  # raises what the app raised
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            await client.get("/undeclared")

    with pytest.raises(RuntimeError, match="declares no scope"):
        asyncio.run(call())


def _assign(project: Project, unit: str) -> dict[str, Any]:
    answer = project.http(project.key(Scope.SDK)).post(
        "/v1/assign", json={"experiment": "trial", "unit_id": unit}
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


@pytest.mark.parametrize("action", ["pause", "stop"])
def test_an_assignment_right_after_a_change_sees_it(project: Project, action: str) -> None:
    """The live rules are cached for a second; the route that changed them drops them."""
    setup_experiment(project)
    assert _assign(project, "unit-before")["reason"] == "new"  # the rules are now cached
    assert project.http().post(f"/v1/experiments/trial/{action}").status_code == 200
    assert _assign(project, "unit-after")["reason"] == "not_running"
