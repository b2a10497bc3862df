"""The admin console: server-rendered pages over the same services as the REST API.

``install_console(app)`` adds its pages at ``/`` and its own CSS and script at
``/console/static``; nothing is fetched from elsewhere. Pages are views only: each calls the
service functions the REST routes call.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ablab.server.console.pages import (
    access,
    auth,
    catalogue,
    experiment,
    experiment_form,
    experiments,
    llm,
    planning,
    rollouts,
)
from ablab.server.console.session import ConsoleRefused, SignInNeeded
from ablab.server.console.templating import render

__all__ = ["install_console"]


async def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInNeeded)
    return RedirectResponse(f"/login?next={quote(exc.path, safe='/')}", status_code=303)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleRefused)
    return render(request, "refused.html", {"message": exc.message}, status_code=403)


def install_console(app: FastAPI) -> None:
    """Mount the console's pages and static files on ``app``."""
    app.mount(
        "/console/static",
        StaticFiles(packages=[("ablab.server.console", "static")]),
        name="console-static",
    )
    # /experiments/new before /experiments/{ref}: the first match wins.
    pages = [auth, experiment_form, experiments, experiment, rollouts, llm, catalogue, access]
    for module in [*pages, planning]:
        app.include_router(module.router)
    app.add_exception_handler(SignInNeeded, _sign_in)
    app.add_exception_handler(ConsoleRefused, _refused)
