"""The LLM experiments' forms in the browser, against a real application behind the webhook
(``tests.llm.example_app``, real HTTP): tasks, an experiment, a run watched to its end,
variants branched from the baseline and from a variant, completing with a winner and
archiving (each after a confirmation page); refused forms keep what was typed; a read-only
user is offered no form and is refused every post."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from ablab.contract.llm import LlmExperimentCreate, LlmTaskCreate
from ablab.domain.keys import Scope
from ablab.server.console.session import SESSION_COOKIE
from ablab.services.access.console_sessions import sign_in_with_password
from ablab.services.context import Context
from ablab.services.llm import experiments as llm
from tests.console.conftest import PASSWORD, Console, screenshot, sign_in
from tests.llm.example_app import ExampleApp

SECRET = "a-secret-of-some-length"
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 900}
RUN_TIMEOUT = 30_000
AXE = Axe()


def assert_accessible(page: Any) -> None:
    """No serious or critical axe-core finding on the page as it is now."""
    found = AXE.run(page).response["violations"]
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v.get("impact") in ("serious", "critical")
    ]
    assert not serious, serious


@pytest.fixture
def app() -> Iterator[ExampleApp]:
    with ExampleApp(secret=SECRET) as running:
        yield running


def _both_widths(page: Any, name: str) -> None:
    """A screenshot at 1280 and at 390 px, each checked with axe-core; nothing off-screen
    on the phone."""
    assert_accessible(page)
    screenshot(page, f"{name}-1280")
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: the page is {overflow} px wider than a phone"
    assert_accessible(page)
    screenshot(page, f"{name}-390")
    page.set_viewport_size(WIDE)


def _status(page: Any) -> Any:
    return page.locator(".heading .badges .badge")


def test_create_run_branch_compare_and_complete(
    console: Console, page: Any, app: ExampleApp
) -> None:
    sign_in(page, console.url, console.user(Scope.WRITE))
    page.goto(f"{console.url}/llm/tasks")
    # A task refused by the API's own check comes back with its message and what was typed.
    page.get_by_label("Name").fill("sum-0")
    page.get_by_label("Input").fill('{"answer": "0", "fragile": false}')
    page.get_by_label("Expected output (optional)").fill("0")
    page.get_by_label("Evaluators (JSON)").fill('[{"kind": "nope"}]')
    page.get_by_role("button", name="Create the task").click()
    expect(page.locator("#form-errors")).to_contain_text("nope")
    expect(page.get_by_label("Name")).to_have_value("sum-0")
    expect(page.get_by_label("Input")).to_have_value('{"answer": "0", "fragile": false}')
    for n in range(4):
        page.get_by_label("Name").fill(f"sum-{n}")
        page.get_by_label("Input").fill(
            f'{{"answer": "{n}", "fragile": {str(n % 2 == 1).lower()}}}'
        )
        page.get_by_label("Expected output (optional)").fill(str(n))
        page.get_by_label("Evaluators (JSON)").fill('[{"kind": "exact_match"}]')
        page.get_by_role("button", name="Create the task").click()
        expect(page.locator(".flash.ok")).to_contain_text(f"Created task sum-{n}")
    expect(page.get_by_test_id("llm-tasks").locator("tbody tr")).to_have_count(4)
    _both_widths(page, "llm-tasks")
    # The application reports what each task spent.
    ctx = Context(console.server.state.store, console.project.id, "test:setup")
    app.state.usage = {
        t.id: {"latency_ms": 40 + n, "input_tokens": 100, "output_tokens": 10, "cost_usd": 0.001}
        for n, t in enumerate(llm.list_tasks(ctx))
    }

    page.goto(f"{console.url}/llm")
    page.get_by_role("link", name="New LLM experiment").click()
    _both_widths(page, "llm-new")
    page.get_by_label("Name").fill("answers")
    page.get_by_label("Description and hypothesis").fill("A hot writer loses fragile tasks.")
    page.get_by_label("Inference steps in scope").fill("response_generator")
    for n in range(4):
        page.get_by_label(f"sum-{n}").check()
    page.get_by_label("Baseline configuration").fill("response_generator.temprature=0.5")
    page.get_by_label("Webhook URL").fill(app.url)
    page.get_by_label("Webhook secret").fill(SECRET)
    page.get_by_role("button", name="Create the experiment").click()
    expect(page.locator("#form-errors")).to_contain_text("temprature")
    expect(page.get_by_label("Name")).to_have_value("answers")
    expect(page.get_by_label("sum-3")).to_be_checked()
    expect(page.get_by_label("Webhook secret")).to_have_value("")  # never sent back
    page.get_by_label("Baseline configuration").fill("response_generator.temperature=0.5")
    page.get_by_label("Concurrency (task runs at once)").fill("1")
    page.get_by_label("Webhook secret").fill(SECRET)
    page.get_by_role("button", name="Create the experiment").click()
    page.wait_for_url("**/llm/answers")
    expect(_status(page)).to_have_text("baseline pending")

    app.state.delay = 0.6  # one task at a time: the run lasts a few seconds
    page.get_by_role("button", name="Run the baseline").click()
    progress = page.get_by_test_id("llm-progress")
    expect(progress).to_contain_text("Running baseline")
    expect(page.locator("meta[http-equiv='refresh']")).to_have_count(1)
    screenshot(page, "llm-running-1280")
    page.set_viewport_size(PHONE)
    screenshot(page, "llm-running-390")
    page.set_viewport_size(WIDE)
    expect(_status(page)).to_have_text("baseline complete", timeout=RUN_TIMEOUT)
    expect(page.locator("meta[http-equiv='refresh']")).to_have_count(0)
    app.state.delay = 0.0
    baseline = page.get_by_test_id("llm-tree").locator("tr[data-config='baseline']")
    expect(baseline).to_contain_text("100.0%")
    expect(baseline.get_by_test_id("tokens")).to_contain_text("440")
    expect(baseline.get_by_test_id("cost")).to_contain_text("$0.004")
    expect(baseline.get_by_test_id("latency")).to_contain_text("ms")

    page.get_by_role("link", name="Branch a variant").click()
    page.get_by_label("Name").fill("same")
    page.get_by_label("Parameter").select_option("temperature")
    page.get_by_label("New value").fill("0.5")
    page.get_by_role("button", name="Branch the variant").click()
    expect(page.locator("#form-errors")).to_contain_text("changes nothing")
    expect(page.get_by_label("Name")).to_have_value("same")
    _both_widths(page, "llm-variant")
    page.get_by_label("Name").fill("hot")
    page.get_by_label("New value").fill("0.9")
    page.get_by_label("Hypothesis").fill("A livelier voice.")
    page.get_by_role("button", name="Branch the variant").click()
    expect(page.locator(".flash.ok")).to_contain_text("Branched hot")
    # Branch from the variant: its row's link chooses it as the parent.
    page.get_by_role("link", name="Branch from hot").click()
    expect(page.get_by_label("Branch from")).to_have_value("hot")
    page.get_by_label("Name").fill("hot-long")
    page.get_by_label("Parameter").select_option("max_tokens")
    page.get_by_label("New value").fill("800")
    page.get_by_role("button", name="Branch the variant").click()
    long = page.get_by_test_id("llm-tree").locator("tr[data-config='hot-long']")
    expect(long).to_contain_text("response_generator.max_tokens = 800")
    expect(long.locator("th")).to_have_class("depth-2")

    page.get_by_label("Variant to run").select_option("hot")
    page.get_by_role("button", name="Run variant").click()
    expect(_status(page)).to_have_text("idle", timeout=RUN_TIMEOUT)
    hot = page.get_by_test_id("llm-tree").locator("tr[data-config='hot']")
    expect(hot).to_contain_text("50.0%")
    expect(hot.get_by_test_id("cost")).to_contain_text("$0.004")
    cell = page.get_by_test_id("llm-matrix").locator("tr[data-task='sum-1'] td[data-config='hot']")
    expect(cell).to_contain_text("failed")
    expect(cell).to_contain_text("2")  # the hot app's wrong answer to 1
    page.get_by_test_id("llm-matrix").locator("tr[data-task='sum-1']").get_by_role(
        "link", name="Compare"
    ).click()
    diff = page.get_by_test_id("llm-compare").locator("section[data-config='hot']")
    expect(diff.get_by_test_id("llm-diff").locator("del")).to_have_text("1")
    expect(diff.get_by_test_id("llm-diff").locator("ins")).to_have_text("2")
    expect(diff.get_by_test_id("run-spend")).to_contain_text("110 tokens · $0.001")
    page.get_by_role("link", name="← answers").click()

    page.get_by_role("link", name="Complete and name a winner").click()
    expect(page.get_by_test_id("confirm")).to_contain_text("cannot be undone")
    expect(page.get_by_test_id("confirm")).to_contain_text("hot: not significantly better")
    _both_widths(page, "llm-complete")
    page.get_by_label("Winner").select_option("hot")
    page.get_by_role("button", name="Complete answers").click()
    expect(page.locator("#form-errors")).to_contain_text("is not significantly better")
    expect(page.get_by_label("Winner")).to_have_value("hot")
    page.get_by_label("Force: name this variant without significant evidence").check()
    page.get_by_label("Reason (required with force; kept in the audit log)").fill("livelier")
    page.get_by_role("button", name="Complete answers").click()
    expect(page.locator(".flash.ok")).to_contain_text("answers is completed, winner hot")
    expect(page.get_by_test_id("llm-winner")).to_contain_text("forced")
    _both_widths(page, "llm-experiment-completed")

    page.get_by_role("link", name="Archive").click()
    expect(page.get_by_test_id("confirm")).to_contain_text("Archiving cannot be undone")
    _both_widths(page, "llm-archive")
    page.get_by_role("button", name="Archive answers").click()
    expect(_status(page)).to_have_text("archived")
    expect(page.get_by_test_id("llm-actions")).to_have_count(0)


def test_a_read_only_user_gets_no_form_and_every_post_is_refused(
    console: Console, page: Any
) -> None:
    ctx = Context(console.server.state.store, console.project.id, "test:setup")
    llm.create_task(
        ctx, LlmTaskCreate(name="one", input="1", expected_output="1",
                           evaluators=[{"kind": "exact_match"}]).to_spec(),
    )  # fmt: skip
    spec = LlmExperimentCreate(name="watched", steps=["writer"], tasks=["one"])
    llm.create_llm_experiment(ctx, spec.to_spec())
    sign_in(page, console.url, console.user(Scope.READ))
    page.goto(f"{console.url}/llm")
    expect(page.get_by_role("link", name="New LLM experiment")).to_have_count(0)
    page.goto(f"{console.url}/llm/watched")
    expect(page.get_by_test_id("llm-actions")).to_have_count(0)
    expect(page.locator("main form")).to_have_count(0)
    page.goto(f"{console.url}/llm/tasks")
    expect(page.locator("main form")).to_have_count(0)
    for path in ("/llm/new", "/llm/watched/variants/new", "/llm/watched/complete",
                 "/llm/watched/archive"):  # fmt: skip
        refused = page.goto(console.url + path)
        assert refused is not None
        assert refused.status == 403, path
    page.goto(f"{console.url}/llm/watched")
    token = page.locator("header form input[name='csrf_token']").get_attribute("value")
    posts = {
        "/llm/tasks": {"name": "two", "input": "2", "evaluators": '[{"kind": "exact_match"}]'},
        "/llm/new": {"name": "mine", "steps": "writer"},
        "/llm/watched/run": {"variant": "baseline"},
        "/llm/watched/variants": {"name": "v", "step": "writer", "parameter": "temperature",
                                  "value": "0.1"},
        "/llm/watched/baseline": {"baseline": "writer.temperature=0.3"},
        "/llm/watched/tasks": {"tasks": "one"},
        "/llm/watched/complete": {"winner": "baseline", "confirmed": "yes"},
        "/llm/watched/archive": {"confirmed": "yes"},
    }  # fmt: skip
    for path, form in posts.items():
        answer = page.request.post(console.url + path, form={"csrf_token": token, **form})
        assert answer.status == 403, path
        assert "does not allow this" in answer.text()
    assert llm.get_llm_experiment(ctx, "watched").status.value == "baseline_pending"
    assert [t.name for t in llm.list_tasks(ctx)] == ["one"]


BAD_POSTS = [
    ("/llm/tasks", {"name": "x", "input": "1", "evaluators": "{not json"}),
    ("/llm/tasks", {"name": "bad name!", "input": "1", "evaluators": '[{"kind": "exact_match"}]'}),
    ("/llm/tasks", {"name": "x", "input": "", "evaluators": "[]"}),
    ("/llm/new", {"name": "x", "steps": "", "trials": "1"}),
    ("/llm/new", {"name": "x", "steps": "writer", "trials": "many"}),
    ("/llm/new", {"name": "x", "steps": "writer", "trials": "0"}),
    ("/llm/new", {"name": "x", "steps": "writer", "baseline": "no equals sign"}),
    ("/llm/new", {"name": "x", "steps": "writer", "webhook_url": "ftp://nowhere"}),
    ("/llm/new", {"name": "x", "steps": "writer", "tasks": "ghost"}),
    ("/llm/watched/variants", {"name": "v", "step": "writer", "parameter": "seed", "value": "1"}),
    ("/llm/watched/variants", {"name": "v", "step": "nope", "parameter": "top_p", "value": "9"}),
    ("/llm/watched/variants", {"name": "", "step": "writer", "parameter": "top_p", "value": ""}),
    ("/llm/watched/complete", {"winner": "ghost", "confirmed": "yes"}),
    ("/llm/watched/complete", {"winner": "baseline", "force": "true", "confirmed": "yes"}),
]


def test_bad_input_is_refused_on_the_form_never_a_500(console: Console) -> None:
    ctx = Context(console.server.state.store, console.project.id, "test:setup")
    spec = LlmExperimentCreate(name="watched", steps=["writer"])
    llm.create_llm_experiment(ctx, spec.to_spec())
    store = console.server.state.store
    token, session = sign_in_with_password(
        store, console.user(Scope.WRITE), PASSWORD, timedelta(hours=1)
    )
    client = console.server.http()
    client.cookies.set(SESSION_COOKIE, token)
    for path, form in BAD_POSTS:
        answer = client.post(path, data={"csrf_token": session.csrf_token, **form})
        assert answer.status_code == 422, (path, form, answer.status_code)
        shown = re.search(r'<div id="form-errors"[^>]*>([^<]+)</div>', answer.text)
        assert shown is not None, (path, form)
        assert "hidden" not in shown.group(0), (path, form)
    # Buttons answer with a message on the experiment's page.
    for path, form in (
        ("/llm/watched/run", {"variant": "baseline"}),  # no tasks chosen, no webhook
        ("/llm/watched/run", {"variant": "ghost"}),
        ("/llm/watched/tasks", {"tasks": "ghost"}),
        ("/llm/watched/baseline", {"baseline": "writer.temperature=hot"}),
        ("/llm/ghost/run", {}),
    ):
        answer = client.post(path, data={"csrf_token": session.csrf_token, **form})
        assert answer.status_code == 303, (path, answer.status_code)
    for path in ("/llm/ghost", "/llm/ghost/tasks/x", "/llm/watched/tasks/x", "/llm/ghost/complete"):
        assert client.get(path).status_code == 404, path
