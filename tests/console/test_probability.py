"""The console's analysis shows probabilities as the CLI does: ">99.9%", never "100.0%"."""

from __future__ import annotations

from ablab.domain.keys import Scope
from tests.console.conftest import Console
from tests.console.test_access import signed_in
from tests.console.test_verdicts import _text
from tests.conversion_test import send_conversion_test


def test_a_clear_winner_is_beyond_99_9_percent_not_certain(console: Console) -> None:
    api = console.api()
    # 10% against 30% of 400 units: P(treatment better) is 1 - 1e-14 or so.
    send_conversion_test(api, {"control": (400, 40), "treatment": (400, 120)})
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
