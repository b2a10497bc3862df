"""A console form that changes what is served drops the live rules' caches as the API's
writes do (``deps.ServingChange``): the next assignment sees the change at once."""

from __future__ import annotations

from typing import Any

import pytest

from ablab.domain.keys import Scope
from tests.console.conftest import Console
from tests.console.test_flow import register_models
from tests.console.test_stale_forms import flash, signed_in


def _assign(console: Console, unit: str) -> dict[str, Any]:
    sdk = console.project.http(console.project.key(Scope.SDK))
    answer = sdk.post("/v1/assign", json={"experiment": "served", "unit_id": unit})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


@pytest.mark.parametrize("action", ["pause", "stop"])
def test_an_assignment_right_after_a_console_action_sees_it(console: Console, action: str) -> None:
    api = console.api()
    register_models(api, "ranker", ["1.0.0", "2.0.0"])
    body = {"name": "served", "model_id": "ranker", "control_version": "1.0.0",
            "treatment_version": "2.0.0"}  # fmt: skip
    assert api.post("/v1/experiments", json=body).status_code == 201
    assert _assign(console, "unit-before")["reason"] == "new"  # the rules are now cached
    client, csrf = signed_in(console, Scope.WRITE)
    form = {"csrf_token": csrf, "confirmed": "yes"}  # stop asks first; the test confirms
    acted = client.post(f"/experiments/served/{action}", data=form)
    assert flash(acted).startswith("ok:")
    assert _assign(console, "unit-after")["reason"] == "not_running"
