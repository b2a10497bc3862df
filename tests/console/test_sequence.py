"""The console's analysis shows the confidence sequence beside the always-valid p-value."""

from __future__ import annotations

import html
import re

from ablab.domain.keys import Scope
from tests.console.conftest import Console
from tests.console.test_access import signed_in
from tests.conversion_test import send_conversion_test


def test_the_analysis_shows_the_interval_its_level_looks_and_tuning(console: Console) -> None:
    api = console.api()
    arms = {"control": (400, 60), "treatment": (400, 140)}
    send_conversion_test(api, arms, sequential_tuning_units=2500)
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
