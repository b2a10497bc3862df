"""Path and query parameters without control characters, on every route.

A NUL in ``/v1/experiments/a%00b`` or ``?object_id=%00`` reached the store, and PostgreSQL
refuses NUL in text: a 500. Bodies are checked by their schemas (``contract.fields``); the
parameters of the URL are checked here, once for every route, as an app-wide dependency.
"""

from __future__ import annotations

from fastapi import Request

from ablab.domain.limits import control_character
from ablab.errors import ValidationError

__all__ = ["plain_parameters"]


def plain_parameters(request: Request) -> None:
    """Refuse a path or query parameter that holds a control character (NUL, BEL, ...).

    It runs with the route's dependencies, after the route checked the caller's key
    (``scoped_route.ScopedRoute``), so a caller without one still gets its 401 (or 403).

    Raises:
        ValidationError: the first such parameter, by name.
    """
    for kind, items in (
        ("path", request.path_params.items()),
        ("query", request.query_params.multi_items()),
    ):
        for name, value in items:
            found = control_character(f"{name}{value!s}")
            if found is not None:
                raise ValidationError(
                    f"invalid {name}: the {kind} parameter holds a control character ({found})",
                    details={"field": name, "character": found},
                )
