"""Who may call what: every documented route, every kind of caller, own and another project.

The routes come from the app's OpenAPI document; ``ROUTES`` says which scope each needs and
how to call it. A route the document has and ``ROUTES`` lacks fails, so a new route cannot
ship without a decision on who may call it. The rules, written out here rather than taken
from ``ablab.domain.keys`` so that a change there is caught: admin reaches everything of its
project, write reaches write and read routes, read the read routes, sdk the SDK routes; any
valid key may ask ``/v1/whoami``; ``/healthz`` needs no key; ``/metrics`` needs a read key
(``ABLAB_METRICS_ACCESS``'s default, tests/console/test_headers.py tries the others).

- no key, a malformed, unknown, wrong or revoked key: 401 ``unauthorized``;
- a valid key without the scope: 403 ``forbidden``;
- the right scope: the route's own success status, never another project's data;
- another project's experiment, model, group or key: 404, and that project is untouched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import pytest
from starlette.routing import BaseRoute, Mount

from ablab.domain.keys import Scope
from ablab.llm.runners import CallableRunner
from ablab.server.hot_paths import FastPaths
from ablab.server.openapi import openapi_document
from ablab.services.context import Context
from ablab.services.llm.runs import run_configuration
from tests.server.conftest import Project, RunningServer

Access = Scope | Literal["public", "any"]
Refers = Literal["experiment", "model", "group", "key", "project", "rollout", "llm"]

# Which needed scopes a held scope reaches (the contract; not read from the code under test).
REACHES: dict[Scope, frozenset[Scope]] = {
    Scope.ADMIN: frozenset(Scope),
    Scope.WRITE: frozenset({Scope.WRITE, Scope.READ}),
    Scope.READ: frozenset({Scope.READ}),
    Scope.SDK: frozenset({Scope.SDK}),
}

VALID_CALLERS: dict[str, tuple[Scope, ...]] = {
    "admin": (Scope.ADMIN,),
    "write": (Scope.WRITE,),
    "read": (Scope.READ,),
    "sdk": (Scope.SDK,),
    "read+sdk": (Scope.READ, Scope.SDK),
}
INVALID_CALLERS = (
    "no key",
    "malformed key",
    "other scheme",
    "unknown key",
    "wrong secret",
    "revoked key",
)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@dataclass
class Tenant:
    """A project with a model, an experiment, a group, a metric and keys of every kind."""

    project: Project
    label: str
    http: httpx.Client
    experiment_id: str = ""
    experiment_name: str = ""
    model: str = ""
    group: str = ""
    victim_key_id: str = ""
    rollout_id: str = ""
    llm_id: str = ""
    llm_task: str = ""
    tokens: dict[str, str] = field(default_factory=dict)

    def llm(self, status: str) -> str:
        """The id of a new LLM experiment of this project in ``status``."""
        body: dict[str, Any] = {
            "name": unique(f"llm-{self.label}"),
            "steps": ["answer"],
            # Nothing listens on the discard port: a run started here fails, in the background.
            "webhook_url": "http://127.0.0.1:9/hook",
            "webhook_secret": "s" * 24,
        }
        if status != "draft":
            body["tasks"] = [self.llm_task]
        created = self.http.post("/v1/llm/experiments", json=body)
        assert created.status_code == 201, created.text
        if status == "baseline_complete":
            ctx = Context(self.project.server.state.store, self.project.id, "test:setup")
            run_configuration(ctx, body["name"], runner=CallableRunner(lambda task, config: "ok"))
        return str(created.json()["id"])

    def experiment(self, status: str) -> str:
        """The id of a new experiment of this project in ``status``."""
        body = experiment_body(unique(f"fresh-{self.label}"), "radiology-v1")
        created = self.http.post("/v1/experiments", json=body | {"draft": status == "draft"})
        assert created.status_code == 201, created.text
        ref = str(created.json()["id"])
        for action in {"paused": ["pause"], "stopped": ["stop"]}.get(status, []):
            moved = self.http.post(f"/v1/experiments/{ref}/{action}")
            assert moved.status_code == 200, moved.text
        return ref

    def rollout(self, status: str) -> str:
        """The id of a new rollout of this project in ``status``, on a model of its own."""
        model = unique("model")
        for version in ("1.0.0", "2.0.0"):
            body = {"model": model, "version": version, "endpoint": f"http://m.test/{version}"}
            assert self.http.post("/v1/models", json=body).status_code == 201
        created = self.http.post("/v1/experiments", json=experiment_body(unique("ro"), model))
        assert created.status_code == 201, created.text
        # No data behind it: a forced promotion.
        promoted = self.http.post(
            f"/v1/experiments/{created.json()['id']}/promote", json={"force": True}
        )
        assert promoted.status_code == 200, promoted.text
        (rollout,) = self.http.get("/v1/rollouts", params={"model": model}).json()
        if status == "paused":
            assert self.http.post(f"/v1/rollouts/{rollout['id']}/pause").status_code == 200
        return str(rollout["id"])

    def state(self) -> dict[str, Any]:
        """What another project's calls must never change."""
        experiment = self.http.get(f"/v1/experiments/{self.experiment_id}").json()
        keys = self.http.get("/v1/keys").json()
        audit = self.http.get("/v1/audit", params={"limit": 10_000}).json()
        rollouts = self.http.get("/v1/rollouts").json()
        return {
            "rollouts": sorted((r["id"], r["status"], r["share"]) for r in rollouts),
            "experiment": (experiment["status"], experiment["version"], experiment["variants"]),
            "revoked": sorted(k["id"] for k in keys if k["revoked_at"] is not None),
            "keys": len(keys),
            "audit": len(audit),
        }


@dataclass(frozen=True)
class Target:
    """The resources one request names: its own project's, or another project's."""

    tenant: Tenant
    experiment: str
    rollout: str = ""
    llm: str = ""

    @property
    def project_id(self) -> str:
        return self.tenant.project.id


def experiment_body(name: str, model: str) -> dict[str, Any]:
    return {
        "name": name,
        "model_id": model,
        "control_version": "1.0.0",
        "treatment_version": "2.0.0",
        "traffic_split": 50,
    }


def exposure(target: Target) -> dict[str, Any]:
    event = {
        "type": "exposure",
        "event_id": unique("event"),
        "timestamp": datetime.now(UTC).isoformat(),
        "experiment": target.experiment,
        "unit_id": "unit-1",
        "variant": "control",
    }
    return {"events": [event]}


Body = Callable[[Target], Any]
Check = Callable[[httpx.Response], None]


@dataclass(frozen=True)
class Case:
    """How to call one route: the scope it needs, its success, and what it names.

    ``status`` is the status the experiment of ``{ref}`` must be in for the call to succeed
    (a fresh one is made for each authorised call); ``refers`` is the kind of resource of
    another project that a cross-project call names, ``cross`` the status that call gets.
    """

    access: Access
    success: int = 200
    status: str | None = None
    rollout: str | None = None  # like ``status``, for a rollout's
    llm: str | None = None  # like ``status``, for an LLM experiment's
    body: Body | None = None
    params: Callable[[Target], dict[str, Any]] | None = None
    refers: Refers | None = None
    cross: int = 404
    cross_check: Check | None = None


def _no_entries(response: httpx.Response) -> None:
    assert response.json() == [], response.text


def _all_rejected(response: httpx.Response) -> None:
    result = response.json()
    assert result["accepted"] == 0, response.text
    assert result["stored"] == 0, response.text
    assert result["rejected"][0]["reason"].startswith("unknown experiment"), response.text


_EXPERIMENT = "/v1/experiments/{ref}"
_ADMIN = "/v1/admin/experiments"
_LLM = "/v1/llm/experiments/{ref}"

ROUTES: dict[tuple[str, str], Case] = {
    ("GET", "/healthz"): Case("public"),
    ("GET", "/metrics"): Case(Scope.READ),
    ("GET", "/v1/whoami"): Case("any"),
    # sdk
    ("POST", "/v1/assign"): Case(
        Scope.SDK,
        body=lambda t: {"experiment": t.experiment, "unit_id": "unit-1"},
        refers="experiment",
    ),
    ("POST", "/v1/events"): Case(
        Scope.SDK, body=exposure, refers="experiment", cross=200, cross_check=_all_rejected
    ),
    ("GET", "/v1/sdk/config"): Case(Scope.SDK),
    # The models here have no server behind them: an authorised call gets as far as the
    # gateway, which answers 503 (no model could answer), never 401 or 403.
    ("POST", "/v1/predict/{experiment}"): Case(
        Scope.SDK,
        success=503,
        body=lambda t: {"unit_id": "unit-1", "features": [1, 2]},
        refers="experiment",
    ),
    # experiments
    ("GET", "/v1/experiments"): Case(Scope.READ),
    ("POST", "/v1/experiments"): Case(
        Scope.WRITE,
        success=201,
        body=lambda t: experiment_body(unique("created"), t.tenant.model),
        refers="model",
    ),
    ("GET", _EXPERIMENT): Case(Scope.READ, refers="experiment"),
    ("GET", f"{_EXPERIMENT}/decision"): Case(Scope.READ, refers="experiment"),
    ("POST", f"{_EXPERIMENT}/rebalance"): Case(Scope.WRITE, status="running", refers="experiment"),
    # Without data the decision is inconclusive, which the webhook says with a 425.
    ("POST", f"{_EXPERIMENT}/decision/webhook"): Case(
        Scope.READ, success=425, body=lambda t: {}, refers="experiment"
    ),
    ("PATCH", _EXPERIMENT): Case(
        Scope.WRITE, status="running", body=lambda t: {"traffic_split": 40}, refers="experiment"
    ),
    ("POST", f"{_EXPERIMENT}/variants"): Case(
        Scope.WRITE,
        success=201,
        status="draft",
        body=lambda t: {"name": "treatment-2", "model_version": "2.0.0"},
        refers="experiment",
    ),
    **{
        ("POST", f"{_EXPERIMENT}/{action}"): Case(Scope.WRITE, status=status, refers="experiment")
        for action, status in (
            ("launch", "draft"),
            ("pause", "running"),
            ("resume", "paused"),
            ("stop", "running"),
            ("archive", "stopped"),
            ("analyze", "running"),
        )
    },
    # Every fresh experiment is on radiology-v1, and one rollout per model at a time.
    ("POST", f"{_EXPERIMENT}/promote"): Case(
        Scope.WRITE,
        status="running",
        body=lambda t: {"rollout": False, "force": True},
        refers="experiment",
    ),
    # rollouts
    ("GET", "/v1/rollouts"): Case(Scope.READ),
    ("GET", "/v1/rollouts/{rollout_id}"): Case(Scope.READ, refers="rollout"),
    **{
        ("POST", f"/v1/rollouts/{{rollout_id}}/{action}"): Case(
            Scope.WRITE, rollout=status, refers="rollout"
        )
        for action, status in (
            ("advance", "running"),
            ("pause", "running"),
            ("resume", "paused"),
            ("rollback", "running"),
        )
    },
    **{
        ("GET", f"{_EXPERIMENT}/{view}"): Case(Scope.READ, refers="experiment")
        for view in ("results", "timeseries", "assignments", "audit")
    },
    # catalogue
    ("GET", "/v1/models"): Case(Scope.READ),
    ("POST", "/v1/models"): Case(
        Scope.WRITE,
        success=201,
        body=lambda t: {
            "model": "radiology-v1",
            "version": unique("3.0"),
            "endpoint": "http://models.test/radiology",
        },
    ),
    ("GET", "/v1/models/{name}"): Case(Scope.READ, refers="model"),
    ("GET", "/v1/groups"): Case(Scope.READ),
    ("POST", "/v1/groups"): Case(
        Scope.WRITE,
        success=201,
        body=lambda t: {"name": unique("group"), "rule": {"region": {"$in": ["eu"]}}},
    ),
    ("GET", "/v1/groups/{name}"): Case(Scope.READ, refers="group"),
    ("GET", "/v1/metrics"): Case(Scope.READ),
    ("POST", "/v1/metrics"): Case(
        Scope.WRITE, success=201, body=lambda t: {"name": unique("dwell_time")}
    ),
    # sources: this server opens no folder to them (ABLAB_SOURCE_FOLDERS), so an allowed
    # caller's source is refused by the server's rule (422), and none exists to show (404);
    # tests/cli/test_source_commands.py adds and reads real ones.
    ("GET", "/v1/sources"): Case(Scope.READ, cross_check=_no_entries),
    ("POST", "/v1/sources"): Case(
        Scope.ADMIN,
        success=422,
        body=lambda t: {
            "name": unique("lake"),
            "tables": {
                "metric": {
                    "path": "/srv/lake/metrics",
                    "columns": {"unit_id": "u", "name": "n", "value": "v", "ts": "t"},
                }
            },
        },
    ),
    ("GET", "/v1/sources/{name}"): Case(Scope.READ, success=404),
    ("POST", "/v1/sources/{name}/test"): Case(Scope.WRITE, success=404),
    ("POST", "/v1/sources/{name}/refresh"): Case(Scope.WRITE, success=404),
    # access
    ("GET", "/v1/keys"): Case(Scope.ADMIN),
    ("POST", "/v1/keys"): Case(
        Scope.ADMIN, success=201, body=lambda t: {"name": "matrix key", "scopes": ["read"]}
    ),
    ("POST", "/v1/keys/{key_id}/revoke"): Case(Scope.ADMIN, refers="key"),
    ("GET", "/v1/audit"): Case(
        Scope.ADMIN,
        params=lambda t: {"object_id": t.experiment},
        refers="experiment",
        cross=200,
        cross_check=_no_entries,
    ),
    # LLM configuration experiments
    ("POST", "/v1/llm/tasks"): Case(
        Scope.WRITE,
        success=201,
        body=lambda t: {
            "name": unique("task"),
            "input": 1,
            "evaluators": [{"kind": "exact_match"}],
        },
    ),
    ("GET", "/v1/llm/tasks"): Case(Scope.READ),
    ("POST", "/v1/llm/experiments"): Case(
        Scope.WRITE, success=201, body=lambda t: {"name": unique("llm"), "steps": ["answer"]}
    ),
    ("GET", "/v1/llm/experiments"): Case(Scope.READ),
    ("GET", _LLM): Case(Scope.READ, refers="llm"),
    ("GET", f"{_LLM}/results"): Case(Scope.READ, refers="llm"),
    ("GET", f"{_LLM}/runs"): Case(Scope.READ, refers="llm"),
    ("PUT", f"{_LLM}/tasks"): Case(
        Scope.WRITE, llm="draft", body=lambda t: {"tasks": [t.tenant.llm_task]}, refers="llm"
    ),
    ("PUT", f"{_LLM}/baseline"): Case(
        Scope.WRITE,
        llm="draft",
        body=lambda t: {"config": {"answer": {"temperature": 0.1}}},
        refers="llm",
    ),
    ("POST", f"{_LLM}/variants"): Case(
        Scope.WRITE,
        success=201,
        llm="baseline_complete",
        body=lambda t: {"name": "v", "step": "answer", "parameter": "top_p", "value": 0.5},
        refers="llm",
    ),
    ("POST", f"{_LLM}/run"): Case(Scope.WRITE, success=202, llm="baseline_pending", refers="llm"),
    ("POST", f"{_LLM}/complete"): Case(Scope.WRITE, llm="baseline_complete", refers="llm"),
    ("POST", f"{_LLM}/archive"): Case(Scope.WRITE, llm="draft", refers="llm"),
    # The application's answer, proven by its signature and not by a key: an unknown test
    # is 404 for everyone (tests/llm/test_api.py signs real ones).
    ("POST", "/v1/llm/callbacks/{test_id}"): Case(
        "public", success=404, body=lambda t: {"output": "late"}
    ),
    # the console's API
    ("GET", _ADMIN): Case(
        Scope.READ, params=lambda t: {"project_id": t.project_id}, refers="project", cross=403
    ),
    ("POST", _ADMIN): Case(
        Scope.WRITE,
        success=201,
        body=lambda t: {"name": unique("console"), "project_id": t.project_id},
        refers="project",
        cross=403,
    ),
    ("POST", f"{_ADMIN}/{{ref}}/variants"): Case(
        Scope.WRITE,
        success=201,
        status="draft",
        body=lambda t: {"name": "treatment-2", "traffic_weight": 0.0, "model_version": "2.0.0"},
        refers="experiment",
    ),
    **{
        ("POST", f"{_ADMIN}/{{ref}}/{action}"): Case(
            Scope.WRITE, status=status, refers="experiment"
        )
        for action, status in (("launch", "draft"), ("stop", "running"), ("analyze", "running"))
    },
}

FRAMEWORK_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


PATHS: dict[str, dict[str, Any]] = openapi_document()["paths"]
DOCUMENTED = sorted((method.upper(), path) for path, ops in PATHS.items() for method in ops)
WITH_BODY = [(m, p) for m, p in DOCUMENTED if "requestBody" in PATHS[p][m.lower()]]


def case_of(route: tuple[str, str]) -> Case:
    case = ROUTES.get(route)
    if case is None:
        pytest.fail(
            f"{route[0]} {route[1]} is documented but has no entry in ROUTES: say who may call it"
        )
    return case


def reaches(scopes: tuple[Scope, ...], access: Access) -> bool:
    if access in ("public", "any"):
        return True
    return any(access in REACHES[held] for held in scopes)


@dataclass
class World:
    server: RunningServer
    mine: Tenant
    other: Tenant
    other_state: dict[str, Any]
    other_markers: set[str]
    invalid: dict[str, str | None]  # the Authorization header of each invalid caller
    client: httpx.Client  # without a key: each request sends its caller's header


def _tenant(server: RunningServer, label: str) -> Tenant:
    project = server.project()
    http = project.http()
    tenant = Tenant(project, label, http, model=f"chest-xray-{label}", group=f"eu-{label}")
    for model in ("radiology-v1", tenant.model):
        for version in ("1.0.0", "2.0.0"):
            body = {"model": model, "version": version, "endpoint": f"http://m.test/{version}"}
            assert http.post("/v1/models", json=body).status_code == 201
    tenant.experiment_name = f"rollout-{label}"
    created = http.post(
        "/v1/experiments", json=experiment_body(tenant.experiment_name, "radiology-v1")
    )
    assert created.status_code == 201, created.text
    tenant.experiment_id = created.json()["id"]
    group = {"name": tenant.group, "rule": {"region": {"$in": ["eu"]}}}
    assert http.post("/v1/groups", json=group).status_code == 201
    assert http.post("/v1/metrics", json={"name": f"dwell_time_{label}"}).status_code == 201
    victim = http.post("/v1/keys", json={"name": "to revoke", "scopes": ["read"]})
    tenant.victim_key_id = victim.json()["id"]
    tenant.rollout_id = tenant.rollout("running")
    tenant.llm_task = f"task-{label}"
    task = {"name": tenant.llm_task, "input": "hi", "evaluators": [{"kind": "contains",
            "params": {"value": "o"}}]}  # fmt: skip
    assert http.post("/v1/llm/tasks", json=task).status_code == 201
    tenant.llm_id = tenant.llm("baseline_complete")
    tenant.tokens = {"admin": project.admin_key}
    for caller, scopes in VALID_CALLERS.items():
        tenant.tokens.setdefault(caller, project.key(*scopes))
    return tenant


def _invalid_tokens(tenant: Tenant) -> dict[str, str | None]:
    http = tenant.http
    made = http.post("/v1/keys", json={"name": "revoked", "scopes": ["admin"]}).json()
    revoked = made["key"]
    # Used once first, so the server's key cache holds it when it is revoked.
    assert tenant.project.server.http(revoked).get("/v1/whoami").status_code == 200
    assert http.post(f"/v1/keys/{made['id']}/revoke").status_code == 200
    # The admin key's id: refused for its secret alone, never for a scope.
    admin_id = tenant.tokens["admin"].split("_")[1]
    return {
        "no key": None,
        "malformed key": "Bearer not-an-ablab-key",
        "other scheme": "Basic dXNlcjpwYXNzd29yZA==",
        "unknown key": f"Bearer abk_{uuid.uuid4().hex[:12]}_{'s' * 43}",
        "wrong secret": f"Bearer abk_{admin_id}_{'w' * 43}",
        "revoked key": f"Bearer {revoked}",
    }


def _markers(tenant: Tenant) -> set[str]:
    """Strings that belong to this project alone: seen in another's answer, they leaked."""
    http = tenant.http
    found = {tenant.project.id, tenant.experiment_id, tenant.experiment_name}
    found |= {tenant.model, tenant.group, f"dwell_time_{tenant.label}"}
    listings = ("/v1/models", "/v1/groups", "/v1/metrics", "/v1/keys", "/v1/experiments",
                "/v1/rollouts", "/v1/llm/experiments", "/v1/llm/tasks")  # fmt: skip
    for listing in listings:
        found |= {item["id"] for item in http.get(listing).json()}
    return found


@pytest.fixture(scope="module")
def world(server: RunningServer) -> World:
    mine, other = _tenant(server, "a"), _tenant(server, "b")
    invalid = _invalid_tokens(mine)
    return World(server, mine, other, other.state(), _markers(other), invalid, server.http())


def headers_of(world: World, caller: str) -> dict[str, str]:
    if caller in VALID_CALLERS:
        return {"Authorization": f"Bearer {world.mine.tokens[caller]}"}
    header = world.invalid[caller]
    return {"Authorization": header} if header is not None else {}


def call(
    world: World, route: tuple[str, str], target: Target, caller: str
) -> tuple[httpx.Response, str]:
    """The response, and the text of the request (what the caller itself sent)."""
    method, template = route
    case = case_of(route)
    tenant = target.tenant
    values = {
        "ref": target.llm if template.startswith("/v1/llm/") else target.experiment,
        "test_id": "llr_not_a_run",
        "experiment": target.experiment,
        "name": tenant.group if template.startswith("/v1/groups") else tenant.model,
        "key_id": tenant.victim_key_id,
        "rollout_id": target.rollout,
    }
    path = template.format(**values)
    assert "{" not in path, f"no value for a parameter of {template}"
    body = case.body(target) if case.body is not None else None
    params = case.params(target) if case.params is not None else None
    response = world.client.request(
        method, path, json=body, params=params, headers=headers_of(world, caller)
    )
    return response, f"{path} {params} {body}"


def describe(response: httpx.Response) -> str:
    request = response.request
    return f"{request.method} {request.url} -> {response.status_code}: {response.text[:600]}"


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, describe(response)
    assert response.json()["error"]["code"] == code, describe(response)


def assert_nothing_leaked(world: World, response: httpx.Response, sent: str) -> None:
    leaked = {m for m in world.other_markers if m in response.text and m not in sent}
    assert not leaked, f"another project's {sorted(leaked)} in {describe(response)}"


def test_every_documented_route_has_an_entry() -> None:
    missing = sorted(set(DOCUMENTED) - set(ROUTES))
    stale = sorted(set(ROUTES) - set(DOCUMENTED))
    assert not missing, f"routes without an entry in ROUTES: {missing}"
    assert not stale, f"entries of ROUTES the document lacks: {stale}"


# Who may read /metrics is the operator's setting (ABLAB_METRICS_ACCESS), not the route's.
OPERATOR_SET = {("GET", "/metrics")}


def test_the_document_shows_the_scope_each_route_enforces() -> None:
    for method, path in DOCUMENTED:
        access = case_of((method, path)).access
        shown = PATHS[path][method.lower()].get("security")
        if access == "public" or (method, path) in OPERATOR_SET:
            expected = None
        else:
            expected = [{"HTTPBearer": [] if access == "any" else [access.value]}]
        assert shown == expected, f"{method} {path}: the document says {shown}, not {expected}"


def is_console(route: Any) -> bool:
    """A page or file of the console: not API, so not in the document (tests/console checks
    that every page needs a session and every form its CSRF token)."""
    if isinstance(route, Mount):
        return route.path == "/console/static"
    endpoint = getattr(route, "endpoint", None)
    return getattr(endpoint, "__module__", "").startswith("ablab.server.console.")


def served_routes(routes: Iterable[Any]) -> Iterator[tuple[str, str]]:
    """(method, path) of every route of the app but the console's, through included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's include_router wrapper
        if included is not None:
            yield from served_routes(included.routes)
        elif is_console(route):
            continue
        elif isinstance(route, BaseRoute) and hasattr(route, "methods"):
            path: str = route.path
            yield from ((m, path) for m in route.methods - {"HEAD"})  # type: ignore[attr-defined]
        else:
            pytest.fail(f"a kind of route this test does not know: {route!r}")


def test_every_route_of_the_app_is_documented(server: RunningServer) -> None:
    served = {r for r in served_routes(server.app.routes) if r[1] not in FRAMEWORK_ROUTES}
    served |= set(FastPaths(app=None).routes)
    assert len(served) > 30, served  # the walk found the routers' routes
    assert sorted(served - set(DOCUMENTED)) == [], "served but not in the OpenAPI document"


MATRIX = [
    pytest.param(route, caller, id=f"{route[0]} {route[1]} as {caller}")
    for route in DOCUMENTED
    for caller in (*VALID_CALLERS, *INVALID_CALLERS)
]


@pytest.mark.parametrize(("route", "caller"), MATRIX)
def test_route_by_caller(world: World, route: tuple[str, str], caller: str) -> None:
    case = case_of(route)
    mine = world.mine
    if caller in INVALID_CALLERS:
        allowed = case.access == "public"
    else:
        allowed = reaches(VALID_CALLERS[caller], case.access)
    fresh = allowed and case.status is not None
    # A call that may change its experiment gets a new one; the others name the shared one.
    # So with rollouts.
    experiment = mine.experiment(case.status or "") if fresh else mine.experiment_name
    rollout = mine.rollout(case.rollout) if allowed and case.rollout else mine.rollout_id
    llm = mine.llm(case.llm) if allowed and case.llm else mine.llm_id
    target = Target(mine, experiment, rollout, llm)
    response, sent = call(world, route, target, caller)
    if allowed:
        assert response.status_code == case.success, describe(response)
        assert_nothing_leaked(world, response, sent)
        if case.access == "any":
            assert response.json()["project_id"] == mine.project.id
    elif caller in INVALID_CALLERS:
        assert_error(response, 401, "unauthorized")
        assert response.headers.get("www-authenticate") == "Bearer", describe(response)
    else:
        assert_error(response, 403, "forbidden")


def _cross_cases() -> Iterator[Any]:
    for route in DOCUMENTED:
        case = ROUTES.get(route)
        if case is None or case.refers is None:
            continue
        ways = ("by id", "by name") if case.refers == "experiment" else ("",)
        for caller, scopes in VALID_CALLERS.items():
            if not reaches(scopes, case.access):
                continue
            for way in ways:
                label = f"{route[0]} {route[1]} {way} as {caller}".replace("  ", " ")
                yield pytest.param(route, caller, way, id=label)


@pytest.mark.parametrize(("route", "caller", "way"), list(_cross_cases()))
def test_another_projects_resource(
    world: World, route: tuple[str, str], caller: str, way: str
) -> None:
    case = case_of(route)
    other = world.other
    ref = other.experiment_name if way == "by name" else other.experiment_id
    target = Target(other, ref, other.rollout_id, other.llm_id)
    response, sent = call(world, route, target, caller)
    if case.cross == 404:
        assert_error(response, 404, "not_found")
    elif case.cross == 403:
        assert_error(response, 403, "forbidden")
    else:
        assert response.status_code == case.cross, describe(response)
    if case.cross_check is not None:
        case.cross_check(response)
    assert_nothing_leaked(world, response, sent)
    assert other.state() == world.other_state, f"{describe(response)} changed the other project"


def test_a_name_both_projects_use_means_each_its_own(world: World) -> None:
    for tenant in (world.mine, world.other):
        seen = tenant.http.get("/v1/models/radiology-v1").json()
        own = {m["id"] for m in tenant.http.get("/v1/models").json()}
        assert seen["id"] in own
    mine = world.mine.http.get("/v1/models/radiology-v1").json()
    theirs = world.other.http.get("/v1/models/radiology-v1").json()
    assert mine["id"] != theirs["id"]


@pytest.mark.parametrize(
    ("scopes", "method", "path", "body"),
    [
        pytest.param(["read"], "GET", "/v1/experiments", None, id="read key, FastAPI route"),
        pytest.param(["admin"], "GET", "/v1/keys", None, id="admin key, FastAPI route"),
        pytest.param(["sdk"], "POST", "/v1/assign", {"unit_id": "unit-9"}, id="sdk key, hot path"),
    ],
)
def test_a_revoked_key_is_refused_at_once(
    world: World, scopes: list[str], method: str, path: str, body: dict[str, Any] | None
) -> None:
    mine = world.mine
    made = mine.http.post("/v1/keys", json={"name": "short-lived", "scopes": scopes})
    assert made.status_code == 201, made.text
    if body is not None:
        body = body | {"experiment": mine.experiment_id}
    client = world.server.http(made.json()["key"])
    assert client.request(method, path, json=body).status_code == 200  # now in the key cache
    revoked = mine.http.post(f"/v1/keys/{made.json()['id']}/revoke")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert_error(client.request(method, path, json=body), 401, "unauthorized")


def _body_routes() -> Iterator[Any]:
    for route in WITH_BODY:
        case = ROUTES.get(route)
        if case is None or case.access == "public":  # no key to check first
            continue
        lacking = next(c for c in ("sdk", "read") if not reaches(VALID_CALLERS[c], case.access))
        for caller in ("no key", lacking):
            for name, body in (("not JSON", b"{not json"), ("wrong shape", b"[1]")):
                label = f"{route[0]} {route[1]} {name} as {caller}"
                yield pytest.param(route, caller, body, id=label)


@pytest.mark.parametrize(("route", "caller", "body"), list(_body_routes()))
def test_the_key_is_checked_before_the_body(
    world: World, route: tuple[str, str], caller: str, body: bytes
) -> None:
    """A caller who may not call a route learns nothing of what its body should be."""
    method, template = route
    name = world.mine.experiment_name
    ref = world.mine.llm_id if template.startswith("/v1/llm/") else name
    # {name}: any name does; the key is checked before the name is looked up.
    path = template.format(ref=ref, experiment=name, name=name, rollout_id=world.mine.rollout_id)
    headers = headers_of(world, caller) | {"Content-Type": "application/json"}
    response = world.client.request(method, path, content=body, headers=headers)
    if caller == "no key":
        assert_error(response, 401, "unauthorized")
    else:
        assert_error(response, 403, "forbidden")
