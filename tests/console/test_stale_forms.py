"""A lifecycle button acts only on what its page showed: two people pressing Pause and
Stop (or Advance twice) on the same page get one action, and the second is told why."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote

import httpx

from ablab.domain.keys import Scope
from ablab.server.console.session import SESSION_COOKIE
from ablab.server.console.templating import FLASH_COOKIE
from ablab.services.access.console_sessions import sign_in_with_password
from tests.console.conftest import PASSWORD, Console
from tests.console.test_flow import register_models


def signed_in(console: Console, role: Scope) -> tuple[httpx.Client, str]:
    """A client signed in as a new user of ``role``, and its session's CSRF token."""
    store = console.server.state.store
    token, session = sign_in_with_password(store, console.user(role), PASSWORD, timedelta(hours=1))
    client = console.server.http()
    client.cookies.set(SESSION_COOKIE, token)
    return client, session.csrf_token


def flash(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    return unquote(response.cookies[FLASH_COOKIE])


def test_two_buttons_of_one_page_take_one_action(console: Console) -> None:
    api = console.api()
    register_models(api, "ranker", ["1.0.0", "2.0.0"])
    body = {
        "name": "ranker-ab",
        "model_id": "ranker",
        "control_version": "1.0.0",
        "treatment_version": "2.0.0",
    }
    shown = api.post("/v1/experiments", json=body).json()["version"]
    alice, alice_csrf = signed_in(console, Scope.WRITE)
    bob, bob_csrf = signed_in(console, Scope.ADMIN)
    page = {"expected_version": str(shown), "back": "/experiments/ranker-ab"}
    paused = alice.post("/experiments/ranker-ab/pause", data={**page, "csrf_token": alice_csrf})
    assert flash(paused) == "ok:ranker-ab is paused."
    stop = {**page, "csrf_token": bob_csrf, "confirmed": "yes"}
    stopped = bob.post("/experiments/ranker-ab/stop", data=stop)
    assert flash(stopped).startswith(
        f"error:experiment 'ranker-ab' is at version {shown + 1}, not {shown}"
    )
    assert api.get("/v1/experiments/ranker-ab").json()["status"] == "paused"

    # A rollout to work with, not a verdict: promoted without data, so by force.
    assert api.post("/v1/experiments/ranker-ab/promote", json={"force": True}).status_code == 200
    (rollout,) = api.get("/v1/rollouts").json()
    listed = alice.get("/rollouts").text
    assert 'name="expected_revision" value="1"' in listed
    form = {"expected_revision": "1", "reason": "from the console"}
    advanced = alice.post(
        f"/rollouts/{rollout['id']}/advance", data={**form, "csrf_token": alice_csrf}
    )
    assert flash(advanced) == "ok:ranker 2.0.0: running at 25%"
    again = bob.post(f"/rollouts/{rollout['id']}/advance", data={**form, "csrf_token": bob_csrf})
    assert "changed since it was read (revision 1, now 2)" in flash(again)
    assert api.get(f"/v1/rollouts/{rollout['id']}").json()["rollout"]["share"] == 25.0
