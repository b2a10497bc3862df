"""The body of ``POST /v1/events``: ``{"events": [...], "experiment"?}``, read and bounded.

One function for both places that read it: the server's checker processes
(:mod:`ablab.server.event_check_worker`) and the server itself when it checks in-process
(``ABLAB_EVENT_CHECKERS=0``), so a malformed body gets the same 4xx and message either way.
"""

from __future__ import annotations

from typing import Any

from ablab.contract.body import check_reference, parse_object
from ablab.errors import PayloadTooLarge, ValidationError

__all__ = ["EVENTS_FIELDS", "read_events_body"]

EVENTS_FIELDS = frozenset({"events", "experiment"})


def read_events_body(body: bytes, max_events: int | None) -> tuple[list[Any], str | None]:
    """The events of ``body`` and the experiment they default to.

    Raises:
        ValidationError: not a JSON object, a field other than ``events`` and
            ``experiment``, ``events`` not a list, or a malformed default experiment.
        PayloadTooLarge: more than ``max_events`` events (None: no limit).
    """
    # NaN, Infinity and 1e400 are refused naming their field (contract.body).
    data = parse_object(body)
    extra = sorted(set(data) - EVENTS_FIELDS)
    if extra:
        raise ValidationError(
            f"unknown fields: {', '.join(extra)} (allowed: {', '.join(sorted(EVENTS_FIELDS))})",
            details={"unknown": extra},
        )
    batch = data.get("events")
    if not isinstance(batch, list):
        raise ValidationError('the body must be {"events": [...]}')
    if max_events is not None and len(batch) > max_events:
        raise PayloadTooLarge(
            f"a batch holds at most {max_events} events, got {len(batch)}: split it",
            details={"limit": max_events, "received": len(batch)},
        )
    default = data.get("experiment")
    if default is not None:
        check_reference(default, "experiment")
    return batch, default
