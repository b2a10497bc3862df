"""The four kinds of event ablab ingests and the fields each may hold.

One table for both readers of an event: the column-wise checker of ``POST /v1/events``
(``services.events.validation``) and the typed wire union (``contract.events``), whose models
must declare exactly these fields (a test holds the two in step), so a field unknown to one is
unknown to the other.
"""

from __future__ import annotations

__all__ = ["EVENT_FIELDS", "EVENT_TYPES"]

EVENT_TYPES = ("exposure", "prediction", "label", "metric")

_COMMON = frozenset({"type", "event_id", "timestamp"})

EVENT_FIELDS: dict[str, frozenset[str]] = {
    "exposure": _COMMON | {"experiment", "unit_id", "variant", "attributes"},
    "prediction": _COMMON
    | {
        "experiment",
        "unit_id",
        "variant",
        "prediction_id",
        "output",
        "latency_ms",
        "error",
        "shadow",
    },
    "label": _COMMON | {"prediction_id", "label", "correct"},
    "metric": _COMMON | {"experiment", "unit_id", "name", "value"},
}
"""The fields each kind may hold, by ``type`` (in ``EVENT_TYPES`` order); any other is refused."""
