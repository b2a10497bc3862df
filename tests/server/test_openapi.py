"""The committed OpenAPI document is the app's: an API change is a reviewed change."""

from __future__ import annotations

import json
from pathlib import Path

from ablab.server.openapi import openapi_document

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_committed_document_matches_the_app() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == openapi_document(), (
        "the API changed: run `make openapi` and commit docs/openapi.json"
    )


def test_every_contract_route_is_documented() -> None:
    paths = openapi_document()["paths"]
    for path, method in (
        ("/v1/experiments", "post"),
        ("/v1/experiments", "get"),
        ("/v1/experiments/{ref}", "patch"),
        ("/v1/experiments/{ref}/variants", "post"),
        ("/v1/experiments/{ref}/results", "get"),
        ("/v1/experiments/{ref}/analyze", "post"),
        ("/v1/experiments/{ref}/timeseries", "get"),
        ("/v1/assign", "post"),
        ("/v1/sdk/config", "get"),
        ("/v1/events", "post"),
        ("/v1/models", "post"),
        ("/v1/groups", "post"),
        ("/v1/audit", "get"),
        ("/v1/keys", "post"),
        ("/v1/admin/experiments", "get"),
        ("/v1/admin/experiments/{ref}/analyze", "post"),
    ):
        assert method in paths[path], (method, path)
    for action in ("launch", "pause", "resume", "stop", "promote", "archive"):
        assert "post" in paths[f"/v1/experiments/{{ref}}/{action}"]
    assert "HTTPBearer" in openapi_document()["components"]["securitySchemes"]
