"""Every documented operation, fuzzed by schemathesis against the real server on loopback.

The document is the committed ``docs/openapi.json`` (``test_openapi`` keeps it equal to the
app's). For each operation, schemathesis sends its coverage cases (boundaries, each field
missing or of the wrong type, unexpected methods) and random valid and invalid requests,
all with an admin key, and every answer must:

- never be a 5xx;
- have a documented status code, the documented content type and headers, and a body that
  matches the documented schema;
- be ``{"error": {"code", "message", "details"}}`` when it is an error.

Each operation runs in a project of its own, seeded with seed 000's model and experiment and
a device group, so that ``{ref}`` and ``{name}`` reach existing objects about half of the time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response

from tests.server.conftest import Project, RunningServer

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"

EXPERIMENT = "my-experiment"
MODEL = "radiology-v1"
VERSIONS = ("1.0.0", "2.0.0")
GROUP = "radiology-devices"

# What a schemathesis.toml would hold. Fixed seed, derandomized, no example database and a
# bounded number of cases: the run is the same on every machine and in CI (40 s on 2 cores).
SCHEMATHESIS_TOML: dict[str, Any] = {
    "seed": 20240601,
    "generation": {
        "max-examples": 40,
        "deterministic": True,
        "database": "none",
        # The admin key is sent with every request; generated ones would only test 401s.
        "with-security-parameters": False,
    },
    # Stateful runs follow links the document does not declare; each operation is tested alone.
    "phases": {"stateful": {"enabled": False}},
    # The properties of the module docstring, no more: schemathesis's other checks (ignored
    # auth, negative data rejection, ...) ask questions this file does not.
    "checks": {
        "enabled": False,
        "not_a_server_error": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
        "response_headers_conformance": {"enabled": True},
    },
    # Values drawn about half of the time in place of random ones: the seeded objects, so that
    # reads and lifecycle actions reach real ones, and names the server accepts, so that creates
    # reach their 201 (their validation rules are not in the document, so random names fail).
    "dictionaries": {
        "experiments": {"values": [EXPERIMENT]},
        "models": {"values": [MODEL]},
        "groups": {"values": [GROUP]},
        "versions": {"values": [*VERSIONS, "3.0.0"]},
        "fresh_names": {"values": ["canary", "night_shift", "triage-v2"]},
        "endpoints": {"values": ["http://models.internal/triage"]},
    },
    "parameters": {
        "path.ref": {"dictionary": "experiments", "probability": 0.5},
        "body.experiment": {"dictionary": "experiments", "probability": 0.5},
        "body.model_id": {"dictionary": "models", "probability": 0.5},
        "body.model": {"dictionary": "fresh_names", "probability": 0.5},
        "body.version": {"dictionary": "versions", "probability": 0.5},
        "body.control_version": {"dictionary": "versions", "probability": 0.5},
        "body.treatment_version": {"dictionary": "versions", "probability": 0.5},
        "body.model_version": {"dictionary": "versions", "probability": 0.5},
        "body.name": {"dictionary": "fresh_names", "probability": 0.5},
        "body.endpoint": {"dictionary": "endpoints", "probability": 0.5},
    },
    "operations": [
        {
            "include-path": "/v1/models/{name}",
            "parameters": {"path.name": {"dictionary": "models", "probability": 0.5}},
        },
        {
            "include-path": "/v1/groups/{name}",
            "parameters": {"path.name": {"dictionary": "groups", "probability": 0.5}},
        },
    ],
}

schema = schemathesis.openapi.from_path(
    DOCUMENT, config=schemathesis.Config.from_dict(SCHEMATHESIS_TOML)
)


def seed_project(project: Project) -> None:
    """Seed 000's catalogue and experiment, and a device group, made through the API."""
    http = project.http()
    for version in VERSIONS:
        create(
            http,
            "/v1/models",
            {"model": MODEL, "version": version, "endpoint": f"http://m/{version}"},
        )
    create(
        http,
        "/v1/experiments",
        {
            "name": EXPERIMENT,
            "model_id": MODEL,
            "control_version": VERSIONS[0],
            "treatment_version": VERSIONS[1],
            "traffic_split": 50,
        },
    )
    create(http, "/v1/groups", {"name": GROUP, "members": ["d1", "d2"]})


def create(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    response = http.post(path, json=body)
    assert response.status_code == 201, response.text
    # Generated bodies seldom reach these 201s (the server's naming rules are not in the
    # document), so the seed's own answers are held to the document too.
    schema[path]["POST"].validate_response(response)


@pytest.fixture
def seeded(project: Project) -> Project:
    seed_project(project)
    return project


def error_shape(ctx: CheckContext, response: Response, case: Case) -> None:
    """An error is ``{"error": {"code": str, "message": str, "details": object}}``.

    Flagger's decision webhook answers a fail (412) or an inconclusive (425) with the
    decision itself, as documented: those statuses are its verdict, not an error.
    """
    if response.status_code < 400:
        return
    if case.path.endswith("/decision/webhook") and response.status_code in (412, 425):
        assert set(response.json()) >= {"decision", "evidence"}, response.text
        return
    try:
        body: Any = response.json()
    except ValueError:
        raise AssertionError(f"an error body must be JSON, got {response.text[:200]!r}") from None
    assert isinstance(body, dict), f"an error body must be an object, got {body!r}"
    assert set(body) == {"error"}, f"an error body must be {{'error': ...}}, got {body!r}"
    error = body["error"]
    assert isinstance(error, dict), f"'error' must be an object, got {error!r}"
    assert set(error) == {"code", "message", "details"}, f"error keys: {sorted(error)}"
    assert isinstance(error["code"], str), error
    assert error["code"], error
    assert isinstance(error["message"], str), error
    assert isinstance(error["details"], dict), error


@schema.parametrize()
# One seeded project per operation, shared by its generated cases on purpose: an operation's
# cases see each other's writes, never another operation's.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_keeps_the_contract(
    case: Case, server: RunningServer, seeded: Project
) -> None:
    call_and_validate(case, server, seeded)


EVENTS = schema["/v1/events"]["POST"]


# Generated batches follow the document's union of event kinds and rarely hold a near-valid
# event that breaks one rule; these did, in a longer hand-written fuzz of the checker.
@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"type": []}, id="type-is-a-list"),
        pytest.param({"type": {}}, id="type-is-an-object"),
        pytest.param(
            {
                "type": "metric",
                "event_id": "e1",
                "timestamp": "2024-01-01T00:00:00Z",
                "unit_id": "u1",
                "name": "accuracy",
                "value": 2**53 + 1,
            },
            id="value-beyond-2**53",
        ),
        pytest.param(
            {
                "type": "prediction",
                "event_id": "e2",
                "timestamp": "2024-01-01T00:00:00Z",
                "experiment": EXPERIMENT,
                "unit_id": "u1",
                "variant": "control",
                "prediction_id": "p1",
                "latency_ms": -(2**53) - 1,
            },
            id="latency-beyond-2**53",
        ),
    ],
)
def test_an_odd_event_is_answered_not_crashed_on(
    event: dict[str, Any], server: RunningServer, seeded: Project
) -> None:
    response = call_and_validate(EVENTS.Case(body={"events": [event]}), server, seeded)
    # Each event is stored or comes back with its reason; the batch is never refused whole.
    result = response.json()
    assert result["received"] == 1
    assert result["accepted"] + len(result["rejected"]) == 1


def call_and_validate(case: Case, server: RunningServer, project: Project) -> Response:
    return case.call_and_validate(
        base_url=server.url,
        headers={"Authorization": f"Bearer {project.admin_key}"},
        additional_checks=[error_shape],
        timeout=30,
    )
