"""The console's Jinja2 templates, their filters, and the one-shot flash message.

Autoescaping is on for every template; the only markup passed through unescaped is the
SVG of :mod:`ablab.server.console.charts`, which escapes its own labels.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from ablab.contract.analysis import format_probability
from ablab.domain.keys import Scope
from ablab.server.console.glance import deciding_interval
from ablab.server.routers.access import AUDIT_LOG_SCOPE

__all__ = ["flash_redirect", "render", "render_form"]

FLASH_COOKIE = "ablab_flash"


def _number(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _percent(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value * 100:{'+' if signed else ''}.{digits}f}%"


def _interval(ci: tuple[float | None, float | None] | None, kind: str = "number") -> str:
    if ci is None or ci[0] is None or ci[1] is None:
        return "–"
    shown = [_percent(v, signed=True) if kind == "percent" else _number(v) for v in ci]
    return f"[{shown[0]}, {shown[1]}]"


def _signed_number(value: float | None) -> str:
    """An effect on its own scale, signed, with three significant digits (+0.015)."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.3g}"


def _metric_value(value: float | None, metric: str) -> str:
    """A metric's value as people read it: rates as percents, milliseconds with one decimal,
    other values with up to four significant digits (250, not 250.0000)."""
    if value is None or not math.isfinite(value):
        return "–"
    if metric.endswith("_rate"):
        return f"{value * 100:.2f}%"
    if metric.endswith("_ms"):
        return f"{value:,.1f} ms"
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "–"


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return "< 0.0001" if value < 1e-4 else f"{value:.4f}"


@cache
def _environment() -> Environment:
    """The templates, loaded on the first page (no work at import)."""
    env = Environment(
        loader=PackageLoader("ablab.server.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        number=_number, percent=_percent, interval=_interval, when=_when, p=_p,
        signed_number=_signed_number, metric_value=_metric_value,
    )  # fmt: skip
    # One formatting of probabilities for the console and the CLI: ">99.9%", never "100.0%".
    env.filters["probability"] = format_probability
    env.globals["deciding_interval"] = deciding_interval
    return env


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """The page ``template`` with ``context``, the viewer's session and any pending flash."""
    viewer = context.get("viewer")
    flash = request.cookies.get(FLASH_COOKIE)
    page = (
        _environment()
        .get_template(template)
        .render(
            request=request,
            path=request.url.path,
            session=viewer.session if viewer is not None else None,
            can_write=viewer is not None and viewer.can(Scope.WRITE),
            is_admin=viewer is not None and viewer.can(Scope.ADMIN),
            reads_audit=viewer is not None and viewer.can(AUDIT_LOG_SCOPE),
            flash=_read_flash(flash),
            **context,
        )
    )
    response = HTMLResponse(page, status_code=status_code)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def render_form(
    request: Request, template: str, context: dict[str, Any], error: str | None
) -> HTMLResponse:
    """A form's page: with ``error`` (the API's message for what was sent) it is the refusal,
    422, the form keeping what was typed; without, the form to fill in."""
    return render(request, template, {**context, "error": error}, status_code=422 if error else 200)


def _read_flash(raw: str | None) -> tuple[str, str] | None:
    if not raw:
        return None
    kind, _, message = unquote(raw).partition(":")
    return (kind if kind in ("ok", "error") else "ok", message)


def flash_redirect(target: str, message: str, kind: str = "ok") -> Response:
    """A 303 to ``target`` that shows ``message`` once on the next page."""
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        FLASH_COOKIE, quote(f"{kind}:{message}"[:600]), max_age=60, httponly=True, samesite="lax"
    )
    return response
