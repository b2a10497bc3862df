"""The models (with their versions and backends) and device groups pages."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ablab.server.console.session import ViewerDep
from ablab.server.console.templating import render
from ablab.services.experiments import catalogue

router = APIRouter(include_in_schema=False)


@router.get("/models")
def models_page(request: Request, viewer: ViewerDep) -> Response:
    return render(
        request, "models.html", {"viewer": viewer, "models": catalogue.list_models(viewer.ctx)}
    )


@router.get("/groups")
def groups_page(request: Request, viewer: ViewerDep) -> Response:
    groups = [
        (
            group,
            json.dumps(dict(group.condition), sort_keys=True) if group.condition else None,
            sorted(group.members),
        )
        for group in catalogue.list_groups(viewer.ctx)
    ]
    return render(request, "groups.html", {"viewer": viewer, "groups": groups})
