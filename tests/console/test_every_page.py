"""Every console page, filled with data, at 1280 and 390 px: a screenshot of each kept in
``test-artifacts/console/``, no axe-core violation of any impact, nothing off-screen
on a phone, chart text of 11 px or more, and each variant in one colour in every chart."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from ablab.domain.keys import Scope
from tests.console.conftest import Console, screenshot, sign_in
from tests.console.test_flow import register_models, send, sticking_out, traffic
from tests.console.test_llm import build as build_llm

AXE = Axe()
# The issue asks for no serious or critical finding; the pages have none of any impact, and
# a new minor one should be seen too.
BLOCKING = {"minor", "moderate", "serious", "critical"}
WIDTHS = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}


def _project(console: Console) -> httpx.Client:
    """A project with something on every page: a running A/B/n test with traffic, a draft,
    a stopped test promoted into a rollout, a group, a custom metric, an LLM experiment."""
    api = console.api()
    register_models(api, "ranker", ["1.0.0", "2.0.0", "2.1.0"])
    assert api.post("/v1/groups", json={"name": "eu", "rule": {"region": "eu"}}).status_code == 201
    metric = {"name": "clicks", "aggregation": "sum", "kind": "continuous"}
    assert api.post("/v1/metrics", json=metric).status_code == 201
    running = {
        "name": "ranker-abn",
        "model_id": "ranker",
        "hypothesis": "The new ranker is more accurate.",
        "variants": [
            {"name": "control", "model_version": "1.0.0", "weight": 33.34, "is_control": True},
            {"name": "v2 (distilled)", "model_version": "2.0.0", "weight": 33.33},
            {"name": "v2.1", "model_version": "2.1.0", "weight": 33.33},
        ],
        "guardrails": ["latency_ms<=250", "error_rate<=+10%"],
        "mde": 0.05,
    }
    assert api.post("/v1/experiments", json=running).status_code == 201, running
    units = {"control": 400, "v2 (distilled)": 400, "v2.1": 400}
    accuracy = {"control": 0.7, "v2 (distilled)": 0.8, "v2.1": 0.72}
    send(api, traffic("ranker-abn", units, accuracy))
    draft = {"name": "draft-one", "model_id": "ranker", "control_version": "1.0.0",
             "treatment_version": "2.0.0", "draft": True}  # fmt: skip
    assert api.post("/v1/experiments", json=draft).status_code == 201
    shipped = {"name": "shipped", "model_id": "ranker", "control_version": "1.0.0",
               "treatment_version": "2.1.0"}  # fmt: skip
    assert api.post("/v1/experiments", json=shipped).status_code == 201
    promoted = api.post("/v1/experiments/shipped/promote", json={"force": True})
    assert promoted.status_code == 200, promoted.text
    build_llm(console)  # writer-tuning: a variant tree, run, with outputs and spend
    return api


def _pages() -> Iterator[tuple[str, str, Scope]]:
    """(screenshot name, path, the role that sees it)."""
    yield "experiments", "/experiments", Scope.WRITE
    yield "experiments-drawer", "/experiments?view=ranker-abn&analysis=1", Scope.WRITE
    yield "experiment-view", "/experiments/ranker-abn", Scope.WRITE
    yield "experiment-segments", "/experiments/ranker-abn?segment=region", Scope.WRITE
    yield "experiment-draft", "/experiments/draft-one", Scope.WRITE
    yield "experiment-new", "/experiments/new", Scope.WRITE
    yield "experiment-edit", "/experiments/ranker-abn/edit", Scope.WRITE
    yield "rollouts", "/rollouts", Scope.WRITE
    yield "models", "/models", Scope.READ
    yield "groups", "/groups", Scope.READ
    yield "sample-size", "/sample-size?baseline=0.15&mde=0.1&daily_units=2000", Scope.READ
    yield "llm", "/llm", Scope.READ
    yield "llm-experiment", "/llm/writer-tuning", Scope.READ
    yield "llm-compare", "/llm/writer-tuning/tasks/echo-1", Scope.READ
    yield "llm-tasks", "/llm/tasks", Scope.WRITE
    yield "llm-new", "/llm/new", Scope.WRITE
    yield "llm-variant", "/llm/writer-tuning/variants/new", Scope.WRITE
    yield "llm-complete", "/llm/writer-tuning/complete", Scope.WRITE
    yield "keys", "/keys", Scope.ADMIN
    yield "audit", "/audit", Scope.ADMIN


def _serious(page: Any) -> list[str]:
    found = AXE.run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v.get("impact") in BLOCKING
    ]


# The size each chart label is drawn at on screen: its font size times the SVG's scale.
_CHART_TEXT = """() => Array.from(document.querySelectorAll("svg.chart"))
  .filter((svg) => svg.getBoundingClientRect().width > 0)
  .flatMap((svg) => Array.from(svg.querySelectorAll("text")).map((t) =>
      parseFloat(getComputedStyle(t).fontSize) * svg.getScreenCTM().a))"""


@pytest.fixture
def filled(console: Console) -> Console:
    _project(console)
    return console


def test_every_page_at_both_widths(filled: Console, browser: Any) -> None:
    console, problems = filled, []
    users = {role: console.user(role) for role in (Scope.READ, Scope.WRITE, Scope.ADMIN)}
    for width, viewport in WIDTHS.items():
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(20_000)
        signed = None
        for name, path, role in _pages():
            if signed is not role:
                context.clear_cookies()
                sign_in(page, console.url, users[role])
                signed = role
            answer = page.goto(f"{console.url}{path}")
            assert answer is not None
            assert answer.status == 200, (path, answer.status)
            screenshot(page, f"page-{name}-{width}")
            problems += [f"{path} at {width}: {p}" for p in _serious(page)]
            if width == "390":
                problems += [f"{path} at 390 sticks out: {p}" for p in sticking_out(page)]
            small = [round(size, 1) for size in page.evaluate(_CHART_TEXT) if size < 11]
            if small:
                problems.append(f"{path} at {width}: chart text of {sorted(set(small))} px")
        context.close()
    assert problems == [], "\n".join(problems)


def test_a_variant_keeps_its_colour_in_every_chart(filled: Console, page: Any) -> None:
    sign_in(page, filled.url, filled.user(Scope.READ))
    page.goto(f"{filled.url}/experiments/ranker-abn")
    legends = page.locator("figure.chart-box .legend")
    expect(legends).to_have_count(3)
    colours: dict[str, set[str]] = {}
    for index in range(3):
        for item in legends.nth(index).locator("li").all():
            swatch = item.locator(".swatch").get_attribute("class") or ""
            colours.setdefault(item.inner_text().strip(), set()).add(swatch)
    assert set(colours) == {"control", "v2 (distilled)", "v2.1"}
    assert all(len(found) == 1 for found in colours.values()), colours
    assert len({next(iter(c)) for c in colours.values()}) == 3  # and three different ones


def test_the_list_reads_at_a_glance(filled: Console, page: Any) -> None:
    api = filled.api()
    served = api.get("/v1/experiments/ranker-abn/results").json()
    sign_in(page, filled.url, filled.user(Scope.READ))
    row = page.locator("tr[data-experiment='ranker-abn']")
    lift = row.get_by_test_id("lift").inner_text()
    # The lift shown is a comparison of the primary metric, with the interval beside it.
    shown = re.search(r"([+-]\d+\.\d)% \[([+-]\d+\.\d)%, ([+-]\d+\.\d)%\]", lift)
    assert shown is not None, lift
    value, low, high = (float(g) / 100 for g in shown.groups())
    comparison = next(
        c
        for c in served["comparisons"]
        if c["metric"] == "accuracy" and c["variant"] in lift and c["relative_lift"] is not None
    )
    assert value == pytest.approx(comparison["relative_lift"], abs=0.0006)
    # The interval beside it is the one significance is read from (sequential by default:
    # the confidence sequence on the relative scale), so the two never disagree.
    control = comparison["control_value"]
    expected = [bound / control for bound in comparison["confidence_sequence"]]
    assert low == pytest.approx(expected[0], abs=0.0006)
    assert high == pytest.approx(expected[1], abs=0.0006)
    assert (low > 0 or high < 0) is comparison["significant"]
    assert ("significant" in lift) is comparison["significant"]
    verdicts = {"promote": "promote", "continue": "keep collecting",
                "keep_control": "keep the control", "rollback": "roll back"}  # fmt: skip
    action = served["recommendation"]["action"]
    expect(row.get_by_test_id("verdict")).to_contain_text(verdicts.get(action, action))
    planned = served["duration"]["planned_units"]
    in_test = served["duration"]["units_in_test"]
    progress = min(1.0, *(in_test[v] / n for v, n in planned.items()))
    expect(row.get_by_test_id("progress")).to_contain_text(f"{progress * 100:.0f}%")
    # A draft shows dashes, not zeros.
    expect(page.locator("tr[data-experiment='draft-one']").get_by_test_id("lift")).to_contain_text(
        "–"
    )


def test_the_empty_states_show_requests_that_work(console: Console, page: Any) -> None:
    api = console.api()
    sign_in(page, console.url, console.user(Scope.WRITE))
    expect(page.get_by_test_id("empty")).to_contain_text("ablab experiment create")
    register_models(api, "ranker", ["1.0.0", "2.0.0"])
    body = {"name": "quiet", "model_id": "ranker", "control_version": "1.0.0",
            "treatment_version": "2.0.0"}  # fmt: skip
    assert api.post("/v1/experiments", json=body).status_code == 201
    page.goto(f"{console.url}/experiments/quiet")
    shown = page.get_by_test_id("empty").locator("pre code").inner_text()
    request = json.loads(shown.removeprefix("POST /v1/events").strip())
    stored = api.post("/v1/events", json=request)
    assert stored.status_code == 200, stored.text
    assert stored.json()["rejected"] == []
    results = api.get("/v1/experiments/quiet/results").json()
    assert sum(v["units"] for v in results["variants"]) == 1
    page.reload()
    expect(page.get_by_test_id("empty")).to_have_count(0)
