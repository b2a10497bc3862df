"""Who may see and do what in the console, over plain HTTP: every page needs a session,
every form its CSRF token and a role that reaches it, and no session reaches another
project."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
from starlette.routing import BaseRoute

from ablab.domain.keys import Scope
from ablab.services.access.keys import create_key
from ablab.services.context import Context
from tests.console.conftest import PASSWORD, Console
from tests.server.conftest import RunningServer


def console_routes(server: RunningServer) -> Iterator[tuple[str, str]]:
    def walk(routes: Iterable[Any]) -> Iterator[tuple[str, str]]:
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI's include_router
            if included is not None:
                yield from walk(included.routes)
                continue
            endpoint = getattr(route, "endpoint", None)
            if isinstance(route, BaseRoute) and getattr(endpoint, "__module__", "").startswith(
                "ablab.server.console."
            ):
                for method in sorted(route.methods - {"HEAD"}):  # type: ignore[attr-defined]
                    yield method, route.path  # type: ignore[attr-defined]

    return walk(server.app.routes)


# The routes anyone may reach: the sign-in page and the way home.
OPEN = {("GET", "/"), ("GET", "/login"), ("POST", "/login")}
# Which role each form needs; every other form needs write.
ADMIN_FORMS = {"/keys", "/keys/{key_id}/revoke", "/users", "/users/{name}/disable"}


def browser(console: Console) -> httpx.Client:
    client = httpx.Client(base_url=console.url, follow_redirects=False, timeout=30)
    console.server.clients.append(client)
    return client


def login_token(client: httpx.Client) -> str:
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def signed_in(console: Console, role: Scope) -> tuple[httpx.Client, str]:
    """A browser-like client signed in as a new user of ``role``, and its CSRF token."""
    client = browser(console)
    name = console.user(role)
    answer = client.post(
        "/login", data={"csrf_token": login_token(client), "name": name, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    return client, csrf_of(client)


def csrf_of(client: httpx.Client) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/experiments").text)
    assert found is not None
    return found.group(1)


def path_of(template: str) -> str:
    values = {"ref": "trial", "action": "launch", "rollout_id": "r1", "key_id": "k1", "name": "x",
              "task": "t1"}  # fmt: skip
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def launch_ready(console: Console) -> Any:
    api = console.api()
    for version in ("1.0.0", "2.0.0"):
        body = {"model": "m", "version": version, "endpoint": f"http://m.test/{version}"}
        assert api.post("/v1/models", json=body).status_code == 201
    body = {
        "name": "trial",
        "model_id": "m",
        "control_version": "1.0.0",
        "treatment_version": "2.0.0",
        "draft": True,
    }
    assert api.post("/v1/experiments", json=body).status_code == 201
    return api


def test_the_walk_finds_the_console(server: RunningServer) -> None:
    found = set(console_routes(server))
    assert ("GET", "/experiments") in found
    assert ("POST", "/experiments/{ref}/{action}") in found
    assert len(found) > 15, found


def test_every_page_and_form_needs_a_session(console: Console) -> None:
    client = browser(console)
    routes = list(console_routes(console.server))
    assert len(routes) > 15, routes
    for method, template in routes:
        if (method, template) in OPEN:
            continue
        answer = client.request(method, path_of(template), data={"csrf_token": "x"})
        assert answer.status_code == 303, (method, template, answer.status_code)
        assert answer.headers["location"].startswith("/login?next="), (method, template)


def test_every_form_needs_the_csrf_token(console: Console) -> None:
    api = launch_ready(console)
    client, token = signed_in(console, Scope.ADMIN)
    posts = [t for m, t in console_routes(console.server) if m == "POST" and t != "/login"]
    assert len(posts) > 8, posts
    for template in posts:
        for data in ({}, {"csrf_token": "not-the-token"}, {"csrf_token": token[:-1]}):
            answer = client.post(path_of(template), data=data)
            assert answer.status_code == 403, (template, data, answer.status_code)
            assert "security token" in answer.text
    assert api.get("/v1/experiments/trial").json()["status"] == "draft"  # nothing happened
    # With the token the same form goes through.
    launched = client.post("/experiments/trial/launch", data={"csrf_token": token})
    assert launched.status_code == 303
    assert api.get("/v1/experiments/trial").json()["status"] == "running"


@pytest.mark.parametrize("role", [Scope.READ, Scope.WRITE])
def test_a_role_reaches_only_its_forms(console: Console, role: Scope) -> None:
    api = launch_ready(console)
    client, token = signed_in(console, role)
    page = client.get("/experiments")
    assert ('action="/experiments/trial/launch"' in page.text) is (role is Scope.WRITE)
    for method, template in console_routes(console.server):
        if method != "POST" or template in ("/login", "/logout"):
            continue
        needed = Scope.ADMIN if template in ADMIN_FORMS else Scope.WRITE
        if role is Scope.WRITE and needed is Scope.WRITE:
            continue
        answer = client.post(path_of(template), data={"csrf_token": token})
        assert answer.status_code == 403, (template, answer.status_code)
        assert f"needs {needed.value}" in answer.text
    assert client.get("/keys").status_code == 403
    assert api.get("/v1/experiments/trial").json()["status"] == "draft"


def test_the_session_cookie_and_signing_out(console: Console) -> None:
    client = browser(console)
    name = console.user(Scope.WRITE)
    answer = client.post(
        "/login", data={"csrf_token": login_token(client), "name": name, "password": PASSWORD}
    )
    cookie = answer.headers["set-cookie"]
    assert "ablab_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    token = client.cookies["ablab_session"]
    assert client.get("/experiments").status_code == 200
    out = client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert out.status_code == 303
    # The old cookie, replayed, no longer signs anyone in: the session is gone on the server.
    replay = browser(console)
    replay.cookies.set("ablab_session", token)
    assert replay.get("/experiments").status_code == 303


def test_sign_in_mistakes_are_refused_with_one_message(console: Console) -> None:
    client = browser(console)
    name = console.user(Scope.READ)
    wrong = client.post(
        "/login", data={"csrf_token": login_token(client), "name": name, "password": "nope-nope"}
    )
    unknown = client.post(
        "/login", data={"csrf_token": login_token(client), "name": "ghost", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "the user name or password is not right" in wrong.text
    assert "the user name or password is not right" in unknown.text
    assert f'value="{name}"' in wrong.text  # what was typed is kept
    forged = client.post(
        "/login", data={"csrf_token": "forged", "name": name, "password": PASSWORD}
    )
    assert forged.status_code == 403
    ctx = Context(console.server.state.store, console.project.id, "test:setup")
    _, read_key = create_key(ctx, "reader", [Scope.READ])
    by_key = client.post("/login", data={"csrf_token": login_token(client), "api_key": read_key})
    assert by_key.status_code == 401
    assert "only an admin API key" in by_key.text


def from_address(console: Console, address: str) -> httpx.Client:
    """A browser behind a proxy on the server's machine, which names the client's address."""
    client = browser(console)
    client.headers["X-Forwarded-For"] = address
    return client


def try_password(client: httpx.Client, name: str, password: str) -> httpx.Response:
    return client.post(
        "/login", data={"csrf_token": login_token(client), "name": name, "password": password}
    )


def test_repeated_failures_lock_the_name_not_the_others(console: Console) -> None:
    """Five wrong passwords for a name: the sixth try is refused (429 with Retry-After) even
    with the right password, without checking it; another user still signs in."""
    client = from_address(console, "198.51.100.1")
    name = console.user(Scope.READ)
    attempts = console.server.state.settings.console_sign_in_attempts
    for _ in range(attempts):
        assert try_password(client, name, "x").status_code == 401
    locked = try_password(client, name, PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-ins: try again in 15 minutes." in locked.text
    assert 800 < int(locked.headers["Retry-After"]) <= 900
    assert "ablab_session" not in locked.cookies
    # The same name typed with other capitals, from elsewhere, is the same name.
    elsewhere = from_address(console, "198.51.100.2")
    assert try_password(elsewhere, name.upper(), PASSWORD).status_code == 429
    other = console.user(Scope.WRITE)
    assert try_password(client, other, PASSWORD).status_code == 303


def test_an_unknown_name_locks_like_a_real_one(console: Console) -> None:
    """The answers never tell whether a user exists: same 401s, then the same 429."""
    client = from_address(console, "198.51.100.3")
    real, ghost = console.user(Scope.READ), f"ghost-{console.project.name}"
    attempts = console.server.state.settings.console_sign_in_attempts
    answers = {
        who: [try_password(client, who, "x").status_code for _ in range(attempts + 1)]
        for who in (real, ghost)
    }
    assert answers[real] == answers[ghost] == [401] * attempts + [429]


def test_an_address_with_many_failures_waits_whatever_the_name(console: Console) -> None:
    client = from_address(console, "198.51.100.4")
    attempts = console.server.state.settings.console_sign_in_attempts
    for i in range(attempts * 4):  # four times a name's limit, each name under its own
        assert try_password(client, f"guess-{i // 2}", "x").status_code == 401
    user = console.user(Scope.READ)
    assert try_password(client, user, PASSWORD).status_code == 429
    by_key = client.post("/login", data={"csrf_token": login_token(client), "api_key": "abk_x"})
    assert by_key.status_code == 429
    assert try_password(from_address(console, "198.51.100.5"), user, PASSWORD).status_code == 303


def test_an_admin_key_signs_in_until_it_is_revoked(console: Console) -> None:
    client = browser(console)
    signed = client.post(
        "/login",
        data={
            "csrf_token": login_token(client),
            "api_key": console.project.admin_key,
            "next": "//evil.test/steal",
        },
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/experiments"  # no open redirect
    page = client.get("/experiments")
    assert "key:abk_" in page.text
    api = console.api()
    key_id = console.project.admin_key.split("_")[1]
    assert api.post(f"/v1/keys/{key_id}/revoke").status_code == 200
    assert client.get("/experiments").status_code == 303


def test_a_disabled_user_is_signed_out(console: Console) -> None:
    client, token = signed_in(console, Scope.READ)
    admin, admin_token = signed_in(console, Scope.ADMIN)
    name = f"read-{console.project.name}"
    form = {"csrf_token": admin_token, "confirmed": "yes"}
    assert admin.post(f"/users/{name}/disable", data=form).status_code == 303
    assert client.get("/experiments").status_code == 303
    again = browser(console)
    answer = again.post(
        "/login", data={"csrf_token": login_token(again), "name": name, "password": PASSWORD}
    )
    assert answer.status_code == 401
    del token


def test_a_session_never_reaches_another_project(console: Console) -> None:
    launch_ready(console)
    other = Console(console.server, console.server.project())
    client, token = signed_in(other, Scope.ADMIN)
    assert client.get("/experiments?view=trial").status_code == 404
    assert client.get("/experiments/trial").status_code == 404
    refused = client.post("/experiments/trial/launch", data={"csrf_token": token})
    assert refused.status_code == 303
    assert 'data-experiment="trial"' not in client.get("/experiments").text
    assert console.api().get("/v1/experiments/trial").json()["status"] == "draft"


@pytest.mark.parametrize(
    ("weights", "mde", "reason"),
    [
        (["150", "-50"], "", "variants.0.weight: Input should be less than or equal to 100"),
        (["50", "50"], "-1", "mde"),
    ],
)
def test_the_new_form_refuses_values_out_of_range_in_one_line(
    console: Console, weights: list[str], mde: str, reason: str
) -> None:
    """The domain's and the schema's rules answer the form: a 422 naming the value."""
    client, token = signed_in(console, Scope.WRITE)
    answer = client.post(
        "/experiments",
        data={
            "csrf_token": token,
            "name": "out-of-range",
            "variant_name": ["control", "treatment"],
            "variant_version": ["", ""],
            "variant_weight": weights,
            "mde": mde,
        },
    )
    assert answer.status_code == 422
    assert reason in answer.text
    assert console.api().get("/v1/experiments/out-of-range").status_code == 404


def test_the_new_form_keeps_what_was_typed_when_refused(console: Console) -> None:
    client, token = signed_in(console, Scope.WRITE)
    answer = client.post(
        "/experiments",
        data={
            "csrf_token": token,
            "name": "half-typed",
            "hypothesis": "kept as typed",
            "variant_name": ["control", "treatment"],
            "variant_version": ["", ""],
            "variant_weight": ["60", "30"],
        },
    )
    assert answer.status_code == 422
    assert "variant weights must sum to 100, got 90" in answer.text
    assert 'value="half-typed"' in answer.text
    assert "kept as typed" in answer.text
    assert 'value="30"' in answer.text
