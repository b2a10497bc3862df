"""The LLM experiments pages in the browser: the list, the variant tree with its results."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from ablab.contract.llm import LlmExperimentCreate, LlmTaskCreate, LlmVariantCreate
from ablab.domain.keys import Scope
from ablab.domain.llm import Parameter
from ablab.llm.runners import CallableRunner
from ablab.services.context import Context
from ablab.services.llm import experiments as llm
from ablab.services.llm.completion import complete
from ablab.services.llm.runs import run_configuration
from tests.console.conftest import Console, screenshot, sign_in


def pipeline(task: dict[str, Any], config: dict[str, dict[str, Any]]) -> str:
    """Half the tasks go wrong when the writer runs hot."""
    hot = float(config.get("writer", {}).get("temperature", 0.0)) > 0.8
    return "wrong" if hot and task["n"] % 2 else str(task["n"])


def test_the_variant_tree_with_its_results(console: Console, page: Any) -> None:
    ctx = Context(console.server.state.store, console.project.id, "test:setup")
    names = []
    for n in range(8):
        task = LlmTaskCreate(
            name=f"echo-{n}", input={"n": n}, expected_output=str(n),
            evaluators=[{"kind": "exact_match"}],
        )  # fmt: skip
        names.append(llm.create_task(ctx, task).name)
    spec = LlmExperimentCreate(
        name="writer-tuning", steps=["writer"], tasks=names,
        baseline={"writer": {"temperature": 0.2}}, description="Cooler writers are exact.",
    )  # fmt: skip
    llm.create_llm_experiment(ctx, spec)
    run_configuration(ctx, "writer-tuning", runner=CallableRunner(pipeline))
    for name, parent, parameter, value in (
        ("hot", None, Parameter.TEMPERATURE, 0.95),
        ("hot-long", "hot", Parameter.MAX_TOKENS, 800),
        ("terse", None, Parameter.VERBOSITY, "low"),
    ):
        variant = LlmVariantCreate(
            name=name, step="writer", parameter=parameter, value=value, parent=parent
        )
        llm.add_variant(ctx, "writer-tuning", variant)
    for name in ("hot", "hot-long"):
        run_configuration(ctx, "writer-tuning", name, runner=CallableRunner(pipeline))
    sign_in(page, console.url, console.user(Scope.READ))
    page.get_by_role("link", name="LLM experiments").click()
    row = page.locator("tr[data-llm='writer-tuning']")
    expect(row).to_contain_text("idle")
    row.get_by_role("link", name="writer-tuning").click()
    tree = page.get_by_test_id("llm-tree").locator("tbody tr")
    expect(tree).to_have_count(4)
    expect(tree.nth(0)).to_contain_text("100.0%")
    expect(tree.nth(1)).to_contain_text("└ hot")
    expect(tree.nth(1)).to_contain_text("50.0%")
    expect(tree.nth(2)).to_contain_text("└ hot-long")
    expect(tree.nth(3)).to_contain_text("not run yet")
    expect(page.locator("main")).to_contain_text("exact_match")
    # hot loses 4 of 8 tasks: p 0.046 alone, but over 2 variants the adjusted p (0.091) and
    # the 97.5% interval, side by side, both say no difference is shown.
    expect(tree.nth(1)).to_contain_text("0.091")
    expect(tree.nth(1)).to_contain_text("no difference shown")
    expect(page.get_by_test_id("llm-tree").locator("thead")).to_contain_text("97.5% CI")
    hot_tasks = page.locator("section[data-llm-tasks='hot']")
    expect(hot_tasks).to_contain_text("exact_match: expected '1', got 'wrong'")
    screenshot(page, "13-llm-experiment")
    complete(ctx, "writer-tuning", winner="hot", force=True, reason="a livelier voice")
    page.reload()
    expect(page.get_by_test_id("llm-winner")).to_contain_text("Winner: hot")
    expect(page.get_by_test_id("llm-winner")).to_contain_text("forced")
