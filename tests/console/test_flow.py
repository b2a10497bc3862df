"""The console in a real browser: sign in, create an A/B/n experiment, launch it, take in
traffic, analyse it (SRM and the recommendation), stop it; every page at 1280 and 390 px."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from playwright.sync_api import expect

from ablab.domain.keys import Scope
from tests.console.conftest import Console, screenshot, sign_in

MODEL = "radiology-v1"
VARIANTS = (("control", "1.0.0", "34"), ("candidate", "2.0.0", "33"), ("distilled", "2.1.0", "33"))


def register_models(api: httpx.Client, model: str, versions: list[str]) -> None:
    for version in versions:
        body = {"model": model, "version": version, "endpoint": f"http://models.test/{version}"}
        assert api.post("/v1/models", json=body).status_code == 201


def traffic(experiment: str, units: dict[str, int], accuracy: dict[str, float]) -> list[Any]:
    """Exposures, predictions and labels of ``units[v]`` devices per variant, over 3 hours."""
    rng = np.random.default_rng(4)
    start = datetime.now(UTC) - timedelta(minutes=1)
    events: list[dict[str, Any]] = []
    for variant, count in units.items():
        for i in range(count):
            unit, pid = f"{variant}-{i}", f"p-{variant}-{i}"
            at = (start + timedelta(seconds=int(i * 50 / count))).isoformat()
            common = {"experiment": experiment, "unit_id": unit, "variant": variant}
            events += [
                {"event_id": f"x-{pid}", "type": "exposure", "timestamp": at, **common},
                {
                    "event_id": f"e-{pid}",
                    "type": "prediction",
                    "prediction_id": pid,
                    "latency_ms": float(rng.gamma(4, 10)),
                    "error": False,
                    "timestamp": at,
                    **common,
                },
                {
                    "event_id": f"l-{pid}",
                    "type": "label",
                    "prediction_id": pid,
                    "correct": bool(rng.random() < accuracy[variant]),
                    "timestamp": at,
                },
            ]
    return events


def send(api: httpx.Client, events: list[Any]) -> None:
    for first in range(0, len(events), 5_000):
        stored = api.post("/v1/events", json={"events": events[first : first + 5_000]})
        assert stored.status_code == 200, stored.text
        assert stored.json()["rejected"] == [], stored.text


# The elements that stick out of the window, wide tables inside their scroll boxes aside.
_STICKING_OUT = """() => Array.from(document.querySelectorAll("body *"))
  .filter((e) => !e.parentElement.closest(".scroll"))
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
  .map((e) => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))"""


def sticking_out(page: Any) -> list[str]:
    """What makes the page scroll sideways (nothing, when it fits the window)."""
    if page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"):
        return []
    return list(page.evaluate(_STICKING_OUT)) or ["the page is wider than the window"]


def test_an_experiment_from_creation_to_stop(console: Console, page: Any) -> None:
    api = console.api()
    register_models(api, MODEL, ["1.0.0", "2.0.0", "2.1.0"])
    admin = console.user(Scope.ADMIN)
    page.goto(f"{console.url}/experiments")
    expect(page).to_have_url(re.compile(r"/login\?next=/experiments$"))
    screenshot(page, "01-sign-in")
    sign_in(page, console.url, admin)
    expect(page.get_by_test_id("stat-total")).to_have_text("0")

    # New: three variants, the third row added with the page's button.
    page.get_by_role("link", name="New experiment").click()
    page.get_by_label("Name", exact=True).fill("triage-abn")
    page.get_by_label("Hypothesis").fill(
        "The candidate reads more scans right at no cost in speed."
    )
    page.get_by_label("Model", exact=True).select_option(MODEL)
    page.get_by_role("button", name="Add a variant").click()
    for index, (name, version, weight) in enumerate(VARIANTS, start=1):
        page.get_by_label(f"Variant {index} name").fill(name)
        page.get_by_label(f"Variant {index} model version").fill(version)
        page.get_by_label(f"Variant {index} weight in percent").fill(weight)
    screenshot(page, "02-new-experiment")
    page.get_by_role("button", name="Create the experiment").click()

    drawer = page.get_by_test_id("drawer")
    expect(drawer).to_contain_text("draft")
    expect(drawer.locator(".variants li")).to_have_count(3)
    drawer.get_by_role("button", name="Launch").click()
    expect(page.get_by_role("status")).to_contain_text("triage-abn is running")
    expect(page.get_by_test_id("stat-running")).to_have_text("1")

    # Traffic with a broken split: twice the control's devices (a sample ratio mismatch).
    units = {"control": 600, "candidate": 300, "distilled": 300}
    send(api, traffic("triage-abn", units, {"control": 0.7, "candidate": 0.8, "distilled": 0.7}))
    page.goto(f"{console.url}/experiments?view=triage-abn")
    page.get_by_test_id("drawer").get_by_role("button", name="Analyze").click()
    expect(page.get_by_test_id("srm")).to_contain_text("mismatch")
    served = api.get("/v1/experiments/triage-abn/results").json()
    assert served["srm"]["mismatch"] is True
    expect(page.get_by_test_id("recommendation")).to_contain_text(
        served["recommendation"]["reason"]
    )
    expect(page.get_by_test_id("comparison-candidate")).to_contain_text("mSPRT log-LR")
    screenshot(page, "03-drawer-analysis")

    # The model experiment view: seed 000's table, guardrails, and the three charts.
    page.get_by_role("link", name="Open the full view").click()
    rows = page.get_by_test_id("results-table").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("600")
    expect(page.locator("figure.chart-box")).to_have_count(3)
    expect(page.get_by_role("img", name=re.compile("Relative lift in accuracy"))).to_be_visible()
    expect(page.get_by_role("heading", name="Guardrails")).to_be_visible()
    screenshot(page, "04-experiment-view")
    page.set_viewport_size({"width": 390, "height": 844})
    assert sticking_out(page) == []
    screenshot(page, "05-experiment-view-390px")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Stop").click()
    # Stop asks first, saying what it does; nothing has changed yet.
    expect(page.get_by_test_id("confirm")).to_contain_text("cannot be resumed")
    assert api.get("/v1/experiments/triage-abn").json()["status"] == "running"
    screenshot(page, "05b-confirm-stop")
    page.get_by_role("button", name="Stop triage-abn").click()
    expect(page.get_by_role("status")).to_contain_text("triage-abn is stopped")
    assert api.get("/v1/experiments/triage-abn").json()["status"] == "stopped"
    page.goto(f"{console.url}/experiments")
    expect(page.locator("tr[data-experiment='triage-abn']")).to_contain_text("stopped")
    screenshot(page, "06-experiments")
    page.set_viewport_size({"width": 390, "height": 844})
    assert sticking_out(page) == []
    screenshot(page, "07-experiments-390px")


def test_a_rollout_is_advanced_and_paused_from_its_page(console: Console, page: Any) -> None:
    api = console.api()
    register_models(api, "ranker", ["1.0.0", "2.0.0"])
    body = {
        "name": "ranker-ab",
        "model_id": "ranker",
        "control_version": "1.0.0",
        "treatment_version": "2.0.0",
    }
    assert api.post("/v1/experiments", json=body).status_code == 201
    # A rollout to work with, not a verdict: promoted without data, so by force.
    assert api.post("/v1/experiments/ranker-ab/promote", json={"force": True}).status_code == 200
    sign_in(page, console.url, console.user(Scope.WRITE))
    page.get_by_role("link", name="Rollouts").click()
    card = page.locator("section.rollout")
    expect(card.get_by_test_id("share")).to_have_text("10% of units")
    card.get_by_role("button", name="Advance").click()
    expect(page.get_by_role("status")).to_contain_text("running at 25%")
    page.locator("section.rollout").get_by_role("button", name="Pause").click()
    expect(page.get_by_role("status")).to_contain_text("paused at 25%")
    (rollout,) = api.get("/v1/rollouts", params={"model": "ranker"}).json()
    assert (rollout["status"], rollout["share"]) == ("paused", 25.0)
    screenshot(page, "08-rollouts")


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/models", "Models and versions"),
        ("/groups", "Device groups"),
        ("/audit", "Audit log"),
        ("/keys", "API keys"),
    ],
)
def test_the_other_pages(console: Console, page: Any, path: str, heading: str) -> None:
    api = console.api()
    register_models(api, MODEL, ["1.0.0"])
    group = {"name": "eu-devices", "rule": {"region": {"$in": ["eu"]}}}
    assert api.post("/v1/groups", json=group).status_code == 201
    sign_in(page, console.url, console.user(Scope.ADMIN))
    page.goto(f"{console.url}{path}")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.locator("main")).to_contain_text(
        {"/models": "1.0.0", "/groups": "eu-devices", "/audit": "create", "/keys": "test admin"}[
            path
        ]
    )
    screenshot(page, f"09-{path.strip('/')}")
    page.set_viewport_size({"width": 390, "height": 844})
    assert sticking_out(page) == []
