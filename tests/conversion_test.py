"""A two-arm conversion test sent through the API: the metric, the experiment, the events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


def send_conversion_test(
    api: httpx.Client, arms: dict[str, tuple[int, int]], **settings: Any
) -> None:
    """Create ``checkout`` (50/50, primary metric ``converted``, plus ``settings``) and send
    each arm's (units, conversions) as exposures and metric events of five minutes ago.

    The caller flushes its server's event log before reading results.
    """
    metric = {"name": "converted", "aggregation": "any", "kind": "proportion"}
    assert api.post("/v1/metrics", json=metric).status_code == 201
    body = {"name": "checkout", "primary_metric": "converted", **settings,
            "variants": [{"name": "control", "weight": 50, "is_control": True},
                         {"name": "treatment", "weight": 50}]}  # fmt: skip
    created = api.post("/v1/experiments", json=body)
    assert created.status_code == 201, created.text
    stamp = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    events: list[dict[str, Any]] = []
    for variant, (units, converted) in arms.items():
        for i in range(units):
            unit = f"{variant}-{i}"
            events.append({"event_id": f"x-{unit}", "type": "exposure", "experiment": "checkout",
                           "unit_id": unit, "variant": variant, "timestamp": stamp})  # fmt: skip
            if i < converted:
                events.append({"event_id": f"m-{unit}", "type": "metric", "unit_id": unit,
                               "experiment": "checkout", "name": "converted", "value": 1,
                               "timestamp": stamp})  # fmt: skip
    stored = api.post("/v1/events", json={"events": events})
    assert stored.status_code == 200, stored.text
