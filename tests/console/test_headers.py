"""The console is safe to expose: security headers on every page and every API answer, no
page breaking its Content-Security-Policy in a real browser, the audit log's one role rule
for the console and the API, and the operator's say over /metrics and the documentation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from starlette.routing import Mount

from ablab.contract.llm import LlmExperimentCreate, LlmTaskCreate, LlmVariantCreate
from ablab.domain.keys import Scope
from ablab.domain.llm import Parameter
from ablab.server.console.session import SESSION_COOKIE
from ablab.server.security_headers import CONSOLE_POLICY, DOCUMENTATION_POLICY
from ablab.services.access.console_sessions import sign_in_with_password
from ablab.services.context import Context
from ablab.services.llm import experiments as llm
from tests.console.conftest import PASSWORD, Console, sign_in
from tests.console.test_flow import register_models, send, traffic
from tests.server.conftest import RunningServer, serving

EVERYWHERE = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
CONSOLE_HEADERS = {**EVERYWHERE, "content-security-policy": CONSOLE_POLICY}


def assert_headers(response: httpx.Response, expected: dict[str, str] = CONSOLE_HEADERS) -> None:
    found = {name: response.headers.get(name) for name in expected}
    assert found == expected, f"{response.request.method} {response.request.url}"


def seed(console: Console) -> None:
    """Something on every page: a running experiment with traffic (its charts), a rollout,
    a device group, an LLM experiment with a two-level variant tree."""
    api = console.api()
    register_models(api, "radiology-v1", ["1.0.0", "2.0.0"])
    body = {
        "name": "ab",
        "model_id": "radiology-v1",
        "control_version": "1.0.0",
        "treatment_version": "2.0.0",
    }
    assert api.post("/v1/experiments", json=body).status_code == 201
    send(api, traffic("ab", {"control": 60, "treatment": 60}, {"control": 0.8, "treatment": 0.9}))
    register_models(api, "ranker", ["1.0.0", "2.0.0"])
    ranker = {**body, "name": "ranker-ab", "model_id": "ranker"}
    assert api.post("/v1/experiments", json=ranker).status_code == 201
    # A rollout to work with, not a verdict: promoted without data, so by force.
    assert api.post("/v1/experiments/ranker-ab/promote", json={"force": True}).status_code == 200
    group = {"name": "eu-devices", "rule": {"region": {"$in": ["eu"]}}}
    assert api.post("/v1/groups", json=group).status_code == 201
    ctx = Context(console.server.state.store, console.project.id, "test:setup")
    task = LlmTaskCreate(name="echo", input={"n": 1}, evaluators=[{"kind": "exact_match"}])
    llm.create_task(ctx, task)
    spec = LlmExperimentCreate(name="tuning", steps=["writer"], tasks=["echo"])
    llm.create_llm_experiment(ctx, spec)
    for name, parent, value in (("hot", None, 0.9), ("hotter", "hot", 1.2)):
        variant = LlmVariantCreate(
            name=name, step="writer", parameter=Parameter.TEMPERATURE, value=value, parent=parent
        )
        llm.add_variant(ctx, "tuning", variant)


def console_session(console: Console, role: Scope) -> httpx.Client:
    """A client signed in to the console as a new user of ``role``."""
    store = console.server.state.store
    token, _ = sign_in_with_password(store, console.user(role), PASSWORD, timedelta(hours=1))
    client = console.server.http()
    client.cookies.set(SESSION_COOKIE, token)
    return client


# A value for each path parameter of the console's pages, from seed().
FILLED = {
    "/experiments/{ref}": "/experiments/ab",
    "/experiments/{ref}/edit": "/experiments/ab/edit",
    "/llm/{ref}": "/llm/tuning",
    "/llm/{ref}/tasks/{task}": "/llm/tuning/tasks/echo",
    "/llm/{ref}/variants/new": "/llm/tuning/variants/new",
    "/llm/{ref}/complete": "/llm/tuning/complete",
    "/llm/{ref}/archive": "/llm/tuning/archive",
}


def console_pages(routes: Iterable[Any]) -> Iterator[str]:
    """Every page (GET) of the console, with its parameters filled in."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from console_pages(included.routes)
            continue
        module = getattr(getattr(route, "endpoint", None), "__module__", "")
        if isinstance(route, Mount) or not module.startswith("ablab.server.console."):
            continue
        if "GET" in route.methods:
            path: str = route.path
            if "{" in path:
                assert path in FILLED, f"{path}: give it a value in FILLED"
                path = FILLED[path]
            yield path


def test_every_console_page_carries_the_headers(console: Console) -> None:
    seed(console)
    admin = console_session(console, Scope.ADMIN)
    pages = sorted(set(console_pages(console.server.app.routes)))
    assert len(pages) >= 12, pages
    for path in [*pages, "/experiments?view=ab&analysis=1", "/experiments/new?x=1"]:
        response = admin.get(path)
        assert response.status_code in (200, 303), (path, response.status_code)
        assert_headers(response)
    for asset in ("/console/static/console.css", "/console/static/console.js"):
        assert_headers(admin.get(asset))
    stranger = console.server.http()
    assert_headers(stranger.get("/login"))
    assert_headers(stranger.get("/experiments"))  # the 303 to the sign-in page
    refused = admin.post("/experiments/ab/pause", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    assert_headers(refused)


def test_every_kind_of_api_answer_carries_the_headers(console: Console) -> None:
    api = console.api()
    register_models(api, "radiology-v1", ["1.0.0", "2.0.0"])
    body = {"name": "ab", "model_id": "radiology-v1", "control_version": "1.0.0"}
    answers = [
        api.get("/v1/experiments"),
        api.post("/v1/experiments", json={**body, "treatment_version": "2.0.0"}),
        api.post("/v1/assign", json={"experiment": "ab", "unit_id": "u1"}),  # a hot path
        api.post("/v1/experiments", json=body),  # 422
        api.get("/v1/no-such-route"),
        console.server.http().get("/v1/experiments"),  # 401
        console.server.http().get("/healthz"),
        console.server.http().get("/openapi.json"),
    ]
    assert [r.status_code for r in answers] == [200, 201, 200, 422, 404, 401, 200, 200]
    for response in answers:
        assert_headers(response)
    # The documentation pages load their code from a CDN: they may not be framed either.
    for page in ("/docs", "/redoc"):
        docs = console.server.http().get(page)
        assert docs.status_code == 200
        assert_headers(docs, {**EVERYWHERE, "content-security-policy": DOCUMENTATION_POLICY})


@pytest.mark.parametrize("role", [Scope.READ, Scope.WRITE, Scope.ADMIN])
def test_the_audit_log_follows_one_role_rule(console: Console, role: Scope) -> None:
    """The console's audit page answers as ``GET /v1/audit`` does for the same role."""
    over_api = console.server.http(console.project.key(role)).get("/v1/audit")
    viewer = console_session(console, role)
    on_page = viewer.get("/audit")
    assert on_page.status_code == over_api.status_code == (200 if role is Scope.ADMIN else 403)
    if role is Scope.ADMIN:
        assert "Audit log" in on_page.text
    else:
        assert "The audit log is for admins only." in on_page.text
        assert over_api.json()["error"]["code"] == "forbidden"
    # The menu offers the page only to whom it opens.
    menu = viewer.get("/experiments").text.split("<main", 1)[0]
    assert ('href="/audit"' in menu) is (role is Scope.ADMIN)


def test_no_page_breaks_the_content_security_policy(console: Console, page: Any) -> None:
    """Chromium reports every blocked script, style or load as a console error and a
    ``securitypolicyviolation`` event: a page with an inline style would fail here."""
    seed(console)
    errors: list[str] = []
    page.on(
        "console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    page.add_init_script(
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    violations: dict[str, list[str]] = {}
    sign_in(page, console.url, console.user(Scope.ADMIN))
    for path in [
        *sorted(set(console_pages(console.server.app.routes)) - {"/"}),
        "/experiments?view=ab&analysis=1",
    ]:
        page.goto(f"{console.url}{path}")
        page.wait_for_load_state("load")
        violations[path] = page.evaluate("window.cspViolations")
    # The new-experiment form's script runs: a row added, the form checked in the page.
    page.goto(f"{console.url}/experiments/new")
    rows = page.locator("#variant-rows .variant-row")
    before = rows.count()
    page.get_by_role("button", name="Add a variant").click()
    expect(rows).to_have_count(before + 1)
    page.get_by_role("button", name="Create the experiment").click()
    expect(page.locator("#form-errors")).to_contain_text("Give the experiment a name.")
    violations["/experiments/new (script)"] = page.evaluate("window.cspViolations")
    assert {path: found for path, found in violations.items() if found} == {}
    assert errors == []


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Metrics public, documentation behind a key."""
    yield from serving(
        tmp_path_factory.mktemp("opened"), metrics_access="public", docs_access="key"
    )


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Metrics and documentation off."""
    yield from serving(tmp_path_factory.mktemp("closed"), metrics_access="off", docs_access="off")


DOCUMENTATION = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")


def statuses(server: RunningServer, paths: Iterable[str], key: str | None) -> list[int]:
    client = server.http(key)
    return [client.get(path).status_code for path in paths]


def test_by_default_metrics_need_a_read_key_and_the_documentation_is_public(
    console: Console,
) -> None:
    server, project = console.server, console.project
    assert statuses(server, ["/metrics"], None) == [401]
    assert statuses(server, ["/metrics"], project.key(Scope.SDK)) == [403]
    read = server.http(project.key(Scope.READ)).get("/metrics")
    assert read.status_code == 200
    assert "ablab_http_requests_total" in read.text
    assert statuses(server, DOCUMENTATION, None) == [200] * 4
    assert server.http().get("/openapi.json").json()["info"]["title"] == "ablab"


def test_public_metrics_and_documentation_behind_a_key(opened: RunningServer) -> None:
    project = opened.project()
    assert statuses(opened, ["/metrics"], None) == [200]
    assert statuses(opened, DOCUMENTATION, None) == [401] * 4
    assert statuses(opened, DOCUMENTATION, project.key(Scope.SDK)) == [403] * 4
    assert statuses(opened, DOCUMENTATION, project.key(Scope.READ)) == [200] * 4
    # A browser sends no key: a console sign-in opens the pages and the document they load.
    browser = console_session(Console(opened, project), Scope.READ)
    assert [browser.get(path).status_code for path in DOCUMENTATION] == [200] * 4
    assert browser.get("/openapi.json").json()["info"]["title"] == "ablab"


def test_metrics_and_documentation_off(closed: RunningServer) -> None:
    admin = closed.http(closed.project().admin_key)
    for path in ("/metrics", *DOCUMENTATION):
        response = admin.get(path)
        assert response.status_code == 404
        # Answered as a route that does not exist.
        assert response.json() == {
            "error": {
                "code": "not_found",
                "message": f"no such route: GET {path}",
                "details": {},
            }
        }
    assert admin.get("/healthz").status_code == 200
