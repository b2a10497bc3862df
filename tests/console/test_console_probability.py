"""The console's analysis shows probabilities as the CLI does: ">99.9%", never "100.0%"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ablab.domain.keys import Scope
from tests.console.conftest import Console
from tests.console.test_console_access import signed_in
from tests.console.test_console_verdicts import _text


def test_a_clear_winner_is_beyond_99_9_percent_not_certain(console: Console) -> None:
    api = console.api()
    metric = {"name": "converted", "aggregation": "any", "kind": "proportion"}
    assert api.post("/v1/metrics", json=metric).status_code == 201
    body = {"name": "checkout", "primary_metric": "converted",
            "variants": [{"name": "control", "weight": 50, "is_control": True},
                         {"name": "treatment", "weight": 50}]}  # fmt: skip
    assert api.post("/v1/experiments", json=body).status_code == 201
    stamp = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    events: list[dict[str, Any]] = []
    # 10% against 30% of 400 units: P(treatment better) is 1 - 1e-14 or so.
    for variant, converted in (("control", 40), ("treatment", 120)):
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
    results = api.get("/v1/experiments/checkout/results").json()
    assert results["comparisons"][0]["prob_beat_control"] > 0.9999
    client, token = signed_in(console, Scope.WRITE)
    assert (
        client.post("/experiments/checkout/analyze", data={"csrf_token": token}).status_code == 303
    )
    words = _text(client.get("/experiments?view=checkout&analysis=1").text)
    assert "P(beats control) >99.9%" in words
    assert "100.0%" not in words
    assert "prior: Beta(0.5, 0.5) (Jeffreys) on each arm's rate" in words
