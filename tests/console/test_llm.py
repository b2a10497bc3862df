"""The LLM experiment pages in the browser: the summary per configuration with what each
spent, the task x configuration matrix of outputs, and one task compared across
configurations with a word diff against the baseline."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from ablab.contract.llm import LlmExperimentCreate, LlmTaskCreate, LlmVariantCreate
from ablab.domain.keys import Scope
from ablab.domain.llm import Parameter
from ablab.llm.runners import Answer, CallableRunner
from ablab.services.context import Context
from ablab.services.llm import experiments as llm
from ablab.services.llm.completion import complete
from ablab.services.llm.runs import run_configuration
from tests.console.conftest import Console, screenshot, sign_in
from tests.console.test_llm_forms import assert_accessible

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 900}


def pipeline(task: dict[str, Any], config: dict[str, dict[str, Any]]) -> Answer | str:
    """Half the tasks go wrong when the writer runs hot; a long-winded writer says more.
    Every answer but the last task's reports what it spent."""
    writer = config.get("writer", {})
    hot = float(writer.get("temperature", 0.0)) > 0.8
    answer = "wrong" if hot and task["n"] % 2 else str(task["n"])
    if writer.get("verbosity") == "high":
        answer = f"The answer is {answer}, as anyone <b>can</b> see. " * 4
    if task["n"] == 7:
        return answer
    return Answer(
        answer, latency_ms=100.0 + 10 * task["n"] + (50 if hot else 0), input_tokens=200,
        output_tokens=40 if hot else 20, cost_usd=0.002 if hot else 0.001,
    )  # fmt: skip


def build(console: Console, name: str = "writer-tuning") -> Context:
    ctx = Context(console.server.state.store, console.project.id, "test:setup")
    names = []
    for n in range(8):
        task = LlmTaskCreate(
            name=f"echo-{n}", input={"n": n}, expected_output=str(n),
            evaluators=[{"kind": "exact_match"}],
        )  # fmt: skip
        names.append(llm.create_task(ctx, task).name)
    spec = LlmExperimentCreate(
        name=name, steps=["writer"], tasks=names,
        baseline={"writer": {"temperature": 0.2}}, description="Cooler writers are exact.",
    )  # fmt: skip
    llm.create_llm_experiment(ctx, spec)
    run_configuration(ctx, name, runner=CallableRunner(pipeline))
    for variant, parent, parameter, value in (
        ("hot", None, Parameter.TEMPERATURE, 0.95),
        ("hot-long", "hot", Parameter.MAX_TOKENS, 800),
        ("chatty", None, Parameter.VERBOSITY, "high"),
        ("terse", None, Parameter.VERBOSITY, "low"),
    ):
        spec_ = LlmVariantCreate(
            name=variant, step="writer", parameter=parameter, value=value, parent=parent
        )
        llm.add_variant(ctx, name, spec_)
    for variant in ("hot", "hot-long", "chatty"):
        run_configuration(ctx, name, variant, runner=CallableRunner(pipeline))
    return ctx


def test_summary_matrix_and_compare(console: Console, page: Any) -> None:
    ctx = build(console)
    sign_in(page, console.url, console.user(Scope.READ))
    page.get_by_role("link", name="LLM experiments").click()
    row = page.locator("tr[data-llm='writer-tuning']")
    expect(row).to_contain_text("idle")
    assert_accessible(page)
    screenshot(page, "llm-list-1280")
    row.get_by_role("link", name="writer-tuning").click()

    summary = page.get_by_test_id("llm-tree")
    expect(summary.locator("tbody tr")).to_have_count(5)
    baseline = summary.locator("tr[data-config='baseline']")
    expect(baseline).to_contain_text("100.0%")
    # 7 of 8 runs reported: 1,400 input and 140 output tokens, $0.007.
    expect(baseline.get_by_test_id("tokens")).to_contain_text("1,540")
    expect(baseline.get_by_test_id("tokens")).to_contain_text("(7 of 8 runs)")
    expect(baseline.get_by_test_id("cost")).to_contain_text("$0.007")
    expect(baseline.get_by_test_id("latency")).to_contain_text("ms")
    hot = summary.locator("tr[data-config='hot']")
    expect(hot).to_contain_text("50.0%")
    expect(hot.get_by_test_id("cost")).to_contain_text("$0.014")
    # hot loses 4 of 8 tasks: over 3 variants the adjusted p and the interval say no
    # difference is shown.
    expect(hot).to_contain_text("no difference shown")
    expect(summary.locator("thead")).to_contain_text("98.3% CI")
    expect(summary.locator("tr[data-config='terse']")).to_contain_text("not run yet")
    # A read-only user is offered no action.
    expect(page.get_by_test_id("llm-actions")).to_have_count(0)
    expect(page.locator("form[action$='/run']")).to_have_count(0)

    matrix = page.get_by_test_id("llm-matrix")
    expect(matrix.locator("thead th")).to_have_count(5)  # task + 4 configurations that ran
    wrong = matrix.locator("tr[data-task='echo-1'] td[data-config='hot']")
    expect(wrong).to_contain_text("failed")
    expect(wrong).to_contain_text("wrong")
    expect(wrong).to_contain_text("exact_match: expected '1', got 'wrong'")
    long = matrix.locator("tr[data-task='echo-2'] td[data-config='chatty'] details")
    expect(long.locator("pre")).not_to_be_visible()
    long.locator("summary").click()
    expect(long.locator("pre")).to_be_visible()
    expect(long.locator("pre")).to_contain_text("as anyone <b>can</b> see.")
    assert_accessible(page)
    screenshot(page, "llm-experiment-1280")
    page.set_viewport_size(PHONE)
    page.reload()
    _fits(page)
    assert_accessible(page)
    screenshot(page, "llm-experiment-390")

    page.set_viewport_size(WIDE)
    matrix.locator("tr[data-task='echo-3']").get_by_role("link", name="Compare").click()
    page.wait_for_url("**/llm/writer-tuning/tasks/echo-3")
    compare = page.get_by_test_id("llm-compare")
    expect(compare.locator("section[data-config]")).to_have_count(4)
    hot_diff = compare.locator("section[data-config='hot']").get_by_test_id("llm-diff")
    expect(hot_diff.locator("del")).to_have_text("3")
    expect(hot_diff.locator("ins")).to_have_text("wrong")
    chatty = compare.locator("section[data-config='chatty']").get_by_test_id("llm-diff")
    expect(chatty.locator("ins").first).to_contain_text("The answer is")
    # The output's markup is text, escaped: no <b> element came from it.
    expect(chatty.locator("b")).to_have_count(0)
    expect(chatty).to_contain_text("<b>can</b>")
    expect(
        compare.locator("section[data-config='hot']").get_by_test_id("run-spend")
    ).to_contain_text("240 tokens · $0.002")
    assert_accessible(page)
    screenshot(page, "llm-compare-1280")
    page.set_viewport_size(PHONE)
    page.reload()
    _fits(page)
    assert_accessible(page)
    screenshot(page, "llm-compare-390")
    # ?compare=TASK is the same view; an unknown task is a 404 page, not an error.
    page.goto(f"{console.url}/llm/writer-tuning?compare=echo-3")
    expect(page.get_by_test_id("llm-compare")).to_be_visible()
    missing = page.goto(f"{console.url}/llm/writer-tuning/tasks/nope")
    assert missing is not None
    assert missing.status == 404
    expect(page.locator("main")).to_contain_text("has no task 'nope'")

    page.goto(f"{console.url}/llm")
    assert_accessible(page)
    screenshot(page, "llm-list-390")
    complete(ctx, "writer-tuning", winner="hot", force=True, reason="a livelier voice")
    page.goto(f"{console.url}/llm/writer-tuning")
    expect(page.get_by_test_id("llm-winner")).to_contain_text("Winner: hot")
    expect(page.get_by_test_id("llm-winner")).to_contain_text("forced")


def _fits(page: Any) -> None:
    """Nothing is wider than the phone's screen but the matrix, which scrolls in its box."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the screen"
