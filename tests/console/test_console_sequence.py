"""The console's analysis shows the confidence sequence beside the always-valid p-value."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ablab.domain.keys import Scope
from tests.console.conftest import Console
from tests.console.test_console_access import signed_in


def test_the_analysis_shows_the_interval_its_level_looks_and_tuning(console: Console) -> None:
    api = console.api()
    metric = {"name": "converted", "aggregation": "any", "kind": "proportion"}
    assert api.post("/v1/metrics", json=metric).status_code == 201
    body = {"name": "checkout", "primary_metric": "converted", "sequential_tuning_units": 2500,
            "variants": [{"name": "control", "weight": 50, "is_control": True},
                         {"name": "treatment", "weight": 50}]}  # fmt: skip
    assert api.post("/v1/experiments", json=body).status_code == 201
    stamp = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    events: list[dict[str, Any]] = []
    for variant, converted in (("control", 60), ("treatment", 140)):
        for i in range(400):
            unit = f"{variant}-{i}"
            events.append({"event_id": f"x-{unit}", "type": "exposure", "experiment": "checkout",
                           "unit_id": unit, "variant": variant, "timestamp": stamp})  # fmt: skip
            if i < converted:
                events.append({"event_id": f"m-{unit}", "type": "metric", "unit_id": unit,
                               "experiment": "checkout", "name": "converted", "value": 1,
                               "timestamp": stamp})  # fmt: skip
    assert api.post("/v1/events", json={"events": events}).status_code == 200
    console.server.state.event_log.flush()
    client, token = signed_in(console, Scope.WRITE)
    assert (
        client.post("/experiments/checkout/analyze", data={"csrf_token": token}).status_code == 303
    )
    page = client.get("/experiments?view=checkout&analysis=1").text
    section = re.search(r'data-testid="sequence-treatment">(.*?)</div>', page, re.S)
    assert section is not None
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", section.group(1))).split())
    assert words.startswith("Confidence sequence")
    assert "at level 0.05" in words
    assert "tuned for 2,500 units" in words
    assert re.search(r"\d+ looks", words)
