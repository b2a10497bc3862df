"""The New and Edit forms in the browser: every option the create request takes reaches the
experiment, settings change after creation, the server's refusals keep what was typed,
destructive buttons ask first, and a read-only user gets neither form."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from ablab.domain.keys import Scope
from tests.console.conftest import Console, screenshot, sign_in
from tests.console.test_access import signed_in
from tests.console.test_flow import register_models, send, traffic


def _catalogue(api: httpx.Client) -> None:
    register_models(api, "ranker", ["1.0.0", "2.0.0"])
    assert api.post("/v1/groups", json={"name": "eu", "rule": {"region": "eu"}}).status_code == 201
    metric = {"name": "clicks", "aggregation": "sum", "kind": "continuous"}
    assert api.post("/v1/metrics", json=metric).status_code == 201


def _ranker_ab(api: httpx.Client, name: str, **options: Any) -> dict[str, Any]:
    """Create ranker 1.0.0 against 2.0.0 as ``name`` through the API; its request body."""
    body = {"name": name, "model_id": "ranker", "control_version": "1.0.0",
            "treatment_version": "2.0.0", **options}  # fmt: skip
    assert api.post("/v1/experiments", json=body).status_code == 201
    return body


def test_every_option_of_the_new_form_reaches_the_experiment(console: Console, page: Any) -> None:
    api = console.api()
    _catalogue(api)
    sign_in(page, console.url, console.user(Scope.WRITE))
    page.goto(f"{console.url}/experiments/new")
    page.get_by_label("Name", exact=True).fill("full-options")
    page.get_by_label("Model", exact=True).select_option("ranker")
    # The catalogue: the model's metrics first, then the project's.
    options = page.locator("#primary_metric option").all_inner_texts()
    assert options[0].startswith("accuracy")
    assert any(o.startswith("clicks") for o in options)
    page.get_by_label("Primary metric").select_option("error_rate")
    for index, (name, version, weight) in enumerate(
        (("Variant A", "1.0.0", "33.34"), ("v2 (distilled)", "2.0.0", "66.66")), start=1
    ):
        page.get_by_label(f"Variant {index} name").fill(name)
        page.get_by_label(f"Variant {index} model version").fill(version)
        page.get_by_label(f"Variant {index} weight in percent").fill(weight)
    page.get_by_label("Device group").select_option("eu")
    page.get_by_label("Coverage").fill("80")
    page.get_by_label("Guardrails (one per line)").fill("latency_ms<=250\nerror_rate<=+10%")
    page.get_by_label("Minimum samples per variant").fill("500")
    page.get_by_label("Minimum detectable effect").fill("0.05")
    page.get_by_label("Maximum duration in days").fill("21")
    page.get_by_label(re.compile("^Promote the winner automatically")).check()
    page.get_by_text("Statistics and data source").click()
    page.get_by_label("Analysis method").select_option("fixed")
    page.get_by_label("Significance level (alpha)").fill("0.01")
    page.get_by_label("Power", exact=True).fill("0.9")
    page.get_by_label(re.compile("^CUPED: adjust")).uncheck()
    page.get_by_label(re.compile("^clicks")).check()
    page.get_by_label(re.compile("^Launch at once")).check()
    screenshot(page, "20-new-experiment-all-options")
    page.get_by_role("button", name="Create the experiment").click()
    expect(page.get_by_role("status")).to_contain_text("Created full-options (running)")
    made = api.get("/v1/experiments/full-options").json()
    assert made["status"] == "running"
    assert made["primary_metric"] == "error_rate"
    assert [(v["name"], v["model_version"]) for v in made["variants"]] == [
        ("Variant A", "1.0.0"),
        ("v2 (distilled)", "2.0.0"),
    ]
    assert sum(v["weight"] for v in made["variants"]) == 100.0  # within rounding, scaled
    assert made["group"] == "eu"
    assert made["coverage"] == 80.0
    assert [g["spec"] for g in made["guardrails"]] == ["latency_ms<=250", "error_rate<=+10%"]
    assert made["min_samples"] == 500
    assert made["mde"] == 0.05
    assert made["max_duration_days"] == 21
    assert made["auto_promote"] is True
    assert made["analysis_method"] == "fixed"
    assert made["alpha"] == 0.01
    assert made["power"] == 0.9
    assert made["cuped"] is False
    assert made["secondary_metrics"] == ["clicks"]


def test_a_refused_form_keeps_every_field(console: Console, page: Any) -> None:
    api = console.api()
    _catalogue(api)
    sign_in(page, console.url, console.user(Scope.WRITE))
    page.goto(f"{console.url}/experiments/new")
    page.get_by_label("Name", exact=True).fill("kept")
    page.get_by_label("Guardrails (one per line)").fill("latency_ms<=250")
    page.get_by_text("Statistics and data source").click()
    page.get_by_label("Significance level (alpha)").fill("1.5")  # out of range
    page.get_by_label(re.compile("^Shadow:")).check()
    page.locator("#new-experiment").evaluate("form => form.submit()")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("alpha")
    expect(page.get_by_label("Name", exact=True)).to_have_value("kept")
    expect(page.get_by_label("Guardrails (one per line)")).to_have_value("latency_ms<=250")
    expect(page.get_by_label("Significance level (alpha)")).to_have_value("1.5")
    expect(page.get_by_label(re.compile("^Shadow:"))).to_be_checked()
    # The same body to the API gets the same message.
    body = {"name": "kept", "alpha": 1.5,
            "variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}]}  # fmt: skip
    refused = api.post("/v1/experiments", json=body)
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] in alert.inner_text()
    assert api.get("/v1/experiments/kept").status_code == 404


def test_settings_change_in_the_edit_form(console: Console, page: Any) -> None:
    api = console.api()
    _catalogue(api)
    _ranker_ab(api, "editable")
    sign_in(page, console.url, console.user(Scope.WRITE))
    page.goto(f"{console.url}/experiments/editable")
    page.get_by_role("link", name="Edit settings").click()
    page.get_by_label("treatment").fill("20")
    page.get_by_label("control").fill("80")
    page.get_by_label("Guardrails (one per line)").fill("error_rate<=0.02")
    page.get_by_label("Minimum samples per variant").fill("250")
    metric = page.locator("#primary_metric")
    if metric.count():
        metric.select_option("clicks")
    screenshot(page, "21-edit-experiment")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved editable")
    changed = api.get("/v1/experiments/editable").json()
    assert {v["name"]: v["weight"] for v in changed["variants"]} == {
        "control": 80.0,
        "treatment": 20.0,
    }
    assert [g["spec"] for g in changed["guardrails"]] == ["error_rate<=0.02"]
    assert changed["min_samples"] == 250
    if metric.count():
        assert changed["primary_metric"] == "clicks"
    # Weights that do not add up: the API's message, the typed values kept.
    page.goto(f"{console.url}/experiments/editable/edit")
    page.get_by_label("control").fill("70")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("100")
    expect(page.get_by_label("control")).to_have_value("70")
    assert api.get("/v1/experiments/editable").json()["version"] == changed["version"]


def test_a_reader_gets_neither_form(console: Console) -> None:
    api = console.api()
    _catalogue(api)
    _ranker_ab(api, "readonly")
    reader, token = signed_in(console, Scope.READ)
    for path in ("/experiments/new", "/experiments/readonly/edit"):
        answer = reader.get(path)
        assert answer.status_code == 403, (path, answer.status_code)
        assert "needs write" in answer.text
    listing = reader.get("/experiments").text
    assert 'href="/experiments/new"' not in listing
    assert "Edit settings" not in reader.get("/experiments/readonly").text
    posted = reader.post("/experiments/readonly/edit", data={"csrf_token": token, "min_samples": 5})
    assert posted.status_code == 403
    assert api.get("/v1/experiments/readonly").json()["min_samples"] == 100


def test_destructive_actions_ask_first_without_script(console: Console, browser: Any) -> None:
    api = console.api()
    _catalogue(api)
    _ranker_ab(api, "to-stop")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, console.url, console.user(Scope.ADMIN))
    page.goto(f"{console.url}/experiments/to-stop")
    page.get_by_role("button", name="Stop").click()
    confirm = page.get_by_test_id("confirm")
    expect(confirm).to_contain_text("serve every unit the control")
    screenshot(page, "22-confirm-stop-390")
    page.get_by_role("link", name="Cancel").click()
    assert api.get("/v1/experiments/to-stop").json()["status"] == "running"
    page.get_by_role("button", name="Stop").click()
    page.get_by_role("button", name="Stop to-stop").click()
    expect(page.get_by_role("status")).to_contain_text("to-stop is stopped")
    page.get_by_role("button", name="Archive").click()
    expect(page.get_by_test_id("confirm")).to_contain_text("cannot be undone")
    page.get_by_role("button", name="Archive to-stop").click()
    expect(page.get_by_role("status")).to_contain_text("to-stop is archived")
    assert api.get("/v1/experiments/to-stop").json()["status"] == "archived"
    context.close()


def test_an_experiment_under_a_rollout_says_so(console: Console, page: Any) -> None:
    api = console.api()
    _catalogue(api)
    _ranker_ab(api, "shipped")
    assert api.post("/v1/experiments/shipped/promote", json={"force": True}).status_code == 200
    sign_in(page, console.url, console.user(Scope.WRITE))
    page.goto(f"{console.url}/experiments/new?model=ranker")
    page.get_by_label("Name", exact=True).fill("next-one")
    page.get_by_label("Variant 1 model version").fill("1.0.0")
    page.get_by_label("Variant 2 model version").fill("2.0.0")
    page.get_by_role("button", name="Create the experiment").click()
    # The flash says it at once; the experiment's view keeps saying it.
    expect(page.get_by_role("status")).to_contain_text("draws its new units only from that share")
    page.goto(f"{console.url}/experiments/next-one")
    expect(page.get_by_test_id("warning")).to_contain_text("10% of units now")


def test_the_edit_form_saves_an_ended_or_bandit_experiment(console: Console) -> None:
    api = console.api()
    _catalogue(api)
    body = _ranker_ab(api, "ended", max_duration_days=7)
    assert api.post("/v1/experiments/ended/stop").status_code == 200
    bandit = {**body, "name": "armed", "bandit": True}
    assert api.post("/v1/experiments", json=bandit).status_code == 201
    writer, token = signed_in(console, Scope.WRITE)
    for name in ("ended", "armed"):
        page = writer.get(f"/experiments/{name}/edit").text
        assert "weight:" not in page  # their weights are not the form's to change
        fields = dict(re.findall(r'<input[^>]* name="([^"]+)" value="([^"]*)"', page))
        fields.update(csrf_token=token, hypothesis=f"{name}: a note after the fact")
        saved = writer.post(f"/experiments/{name}/edit", data=fields)
        assert saved.status_code == 303, saved.text
        assert api.get(f"/v1/experiments/{name}").json()["hypothesis"].startswith(name)
    # Emptying the maximum duration cannot be sent (PATCH cannot remove it): said, not lost.
    fields = {"csrf_token": token, "max_duration_days": "", "hypothesis": "armed: a note"}
    refused = writer.post("/experiments/armed/edit", data={**fields, "min_samples": "100"})
    assert refused.status_code == 422
    assert "cannot be removed" in refused.text
    assert api.get("/v1/experiments/armed").json()["max_duration_days"] == 7


def test_an_mde_no_sample_can_detect_costs_only_the_plan(console: Console) -> None:
    api = console.api()
    _catalogue(api)
    _ranker_ab(api, "tiny-mde", mde=1e-320)
    send(
        api,
        traffic("tiny-mde", {"control": 30, "treatment": 30}, {"control": 0.5, "treatment": 0.6}),
    )
    results = api.get("/v1/experiments/tiny-mde/results")
    assert results.status_code == 200, results.text
    assert results.json()["duration"]["days_left"] is None
    reader, _ = signed_in(console, Scope.READ)
    assert reader.get("/experiments").status_code == 200
    assert reader.get("/experiments/tiny-mde").status_code == 200
