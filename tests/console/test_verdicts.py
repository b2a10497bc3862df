"""The console: the New form's MDE and maximum duration, the counts and rules of an analysis."""

from __future__ import annotations

import html
import re
from typing import Any

from ablab.domain.keys import Scope
from tests.console.conftest import Console
from tests.console.test_access import signed_in
from tests.conversion_test import send_conversion_test


def _form(token: str, **fields: str) -> dict[str, Any]:
    return {
        "csrf_token": token,
        "name": "scans",
        "primary_metric": "accuracy",
        "variant_name": ["control", "treatment"],
        "variant_version": ["", ""],
        "variant_weight": ["50", "50"],
        **fields,
    }


def _text(page: str) -> str:
    """The page's words, tags dropped and spaces folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_new_form_sets_the_mde_and_the_maximum_duration(console: Console) -> None:
    client, token = signed_in(console, Scope.WRITE)
    assert 'name="max_duration_days"' in client.get("/experiments/new").text
    refused = client.post("/experiments", data=_form(token, mde="0.05", max_duration_days="2.5"))
    assert refused.status_code == 422
    assert "the maximum duration in days must be a whole number" in html.unescape(refused.text)
    assert 'value="2.5"' in refused.text  # what was typed is kept
    out_of_range = client.post("/experiments", data=_form(token, max_duration_days="0"))
    assert out_of_range.status_code == 422
    assert "max duration must be 1 to 3650 days" in html.unescape(out_of_range.text)
    created = client.post("/experiments", data=_form(token, mde="0.05", max_duration_days="14"))
    assert created.status_code == 303, created.text
    stored = console.api().get("/v1/experiments/scans").json()
    assert (stored["mde"], stored["max_duration_days"]) == (0.05, 14)


def test_a_conversion_test_shows_its_units_not_zero_exposures(console: Console) -> None:
    """About 400 units per arm with exposures and conversions, no predictions."""
    api = console.api()
    arms = {"control": (400, 60), "treatment": (404, 72)}
    send_conversion_test(api, arms, max_duration_days=30)
    console.server.state.event_log.flush()
    client, token = signed_in(console, Scope.WRITE)
    analysed = client.post("/experiments/checkout/analyze", data={"csrf_token": token})
    assert analysed.status_code == 303
    page = client.get("/experiments?view=checkout&analysis=1")
    words = _text(page.text)
    assert "Exposures" not in words
    heading = (
        "Variant Units exposed Units with predictions Units with labels Predictions Conversions"
    )
    assert heading in words
    assert "control 400 0 0 0 60" in words
    assert "treatment 404 0 0 0 72" in words
    assert "min_samples (100) counts units exposed per variant: reached by every one" in words
    assert "days run of at most 30" in words
    assert "no MDE set: no planned sample size" in words
