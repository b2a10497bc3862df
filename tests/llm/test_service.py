"""An LLM experiment through the service layer, against the example application over HTTP:
lifecycle and locks, the merged configs sent, results checked against statsmodels."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from statsmodels.stats.contingency_tables import mcnemar

from ablab.contract.llm import LlmExperimentCreate, LlmTaskCreate, LlmVariantCreate
from ablab.domain.llm import LlmAction, LlmStatus, Parameter
from ablab.domain.llm_records import BASELINE, RunState
from ablab.errors import Conflict, InvalidTransition, NotFound, ValidationError
from ablab.llm.runners import CallableRunner
from ablab.services.context import Context
from ablab.services.llm import experiments as llm
from ablab.services.llm.leases import RunLease
from ablab.services.llm.results import llm_results
from ablab.services.llm.runs import begin_run, recover_interrupted, run_configuration
from tests.llm.example_app import ExampleApp

SECRET = "a-secret-of-some-length"
TASKS = 12  # tasks 0..11; the odd ones are fragile


@pytest.fixture(scope="module")
def app() -> Iterator[ExampleApp]:
    with ExampleApp(secret=SECRET) as running:
        yield running


def make_tasks(ctx: Context, count: int = TASKS) -> list[str]:
    names = []
    for i in range(count):
        task = llm.create_task(
            ctx,
            LlmTaskCreate(
                name=f"sum-{i}",
                input={"question": f"{i}+{i}", "answer": str(2 * i), "fragile": i % 2 == 1},
                expected_output=str(2 * i),
                evaluators=[
                    {"kind": "exact_match"},
                    {"kind": "regex", "params": {"pattern": "^\\d+$"}},
                ],
            ),
        )
        names.append(task.name)
    return names


def experiment(ctx: Context, app: ExampleApp, **options: Any) -> str:
    spec = {
        "name": "prompts",
        "steps": ["response_generator", "classifier"],
        "tasks": make_tasks(ctx),
        "baseline": {"response_generator": {"temperature": 0.7, "model": "small"}},
        "webhook_url": app.url,
        "webhook_secret": SECRET,
    } | options
    return llm.create_llm_experiment(ctx, LlmExperimentCreate(**spec)).name


def test_a_baseline_and_a_variant_tree_end_to_end(ctx: Context, app: ExampleApp) -> None:
    app.state.received.clear()
    name = experiment(ctx, app)
    assert llm.get_llm_experiment(ctx, name).status is LlmStatus.BASELINE_PENDING
    done = run_configuration(ctx, name)
    assert done.status is LlmStatus.BASELINE_COMPLETE
    # The baseline's webhook carries its whole configuration, and no changes.
    whole = {"response_generator": {"temperature": 0.7, "model": "small"}}
    sent_for_baseline = [r["experiment"] for r in app.state.received]
    assert len(sent_for_baseline) == TASKS
    assert all(
        (e["variant_id"], e["overrides"], e["changes"]) == (None, whole, {})
        for e in sent_for_baseline
    )
    # Scope and baseline are locked now.
    with pytest.raises(InvalidTransition, match="locked"):
        llm.select_tasks(ctx, name, ["sum-1"])
    with pytest.raises(InvalidTransition, match="locked"):
        llm.set_baseline(ctx, name, {"classifier": {"top_p": 0.5}})
    hot = LlmVariantCreate(
        name="hot", step="response_generator", parameter=Parameter.TEMPERATURE, value=0.9
    )
    llm.add_variant(ctx, name, hot)
    bigger = LlmVariantCreate(
        name="hot-big", step="classifier", parameter=Parameter.MODEL, value="large", parent="hot"
    )
    llm.add_variant(ctx, name, bigger)
    app.state.received.clear()
    assert run_configuration(ctx, name, "hot-big").status is LlmStatus.IDLE
    # The grandchild's webhook carries its merged configuration: the baseline's, with both
    # changes on its branch; and the changes themselves.
    (sent, *_) = app.state.received
    assert sent["experiment"]["overrides"] == {
        "response_generator": {"temperature": 0.9, "model": "small"},
        "classifier": {"model": "large"},
    }
    assert sent["experiment"]["changes"] == {
        "response_generator": {"temperature": 0.9},
        "classifier": {"model": "large"},
    }
    run_configuration(ctx, name, "hot")
    results = llm_results(ctx, name)
    rows = {r.name: r for r in results.variants}
    assert rows["baseline"].pass_rate == 1.0
    assert rows["baseline"].tasks_passed == TASKS
    for row in (rows["hot"], rows["hot-big"]):
        assert row.pass_rate == 0.5
        assert row.pass_rate_vs_baseline == -0.5
        assert row.relative_vs_baseline == -0.5
        assert (row.tasks_total, row.tasks_passed, row.tasks_failed) == (TASKS, 6, 6)
        assert row.completed_at is not None
        assert row.mcnemar is not None
        assert (row.mcnemar.only_baseline_passed, row.mcnemar.only_variant_passed) == (6, 0)
        # statsmodels' McNemar (no continuity correction) on the same 2x2 table of tasks.
        table = [[6, 6], [0, 0]]  # rows: baseline pass/fail; columns: variant pass/fail
        expected = mcnemar(table, exact=False, correction=False).pvalue
        assert row.mcnemar.p_value == pytest.approx(expected)
        ci = row.mcnemar.ci
        assert ci[0] is not None
        assert ci[1] is not None
        assert ci[0] < -0.5 < ci[1] < 0
        # Bonferroni over the two variants: p doubled, the interval at 97.5%, and the
        # verdict agreeing with both.
        assert results.comparisons == 2
        assert row.mcnemar.adjusted_p_value == pytest.approx(min(1.0, 2 * expected))
        assert row.mcnemar.adjusted_confidence == pytest.approx(0.975)
        low, high = row.mcnemar.adjusted_ci
        assert low is not None
        assert high is not None
        assert low < ci[0] < ci[1] < high < 0
        assert row.mcnemar.significant
        assert row.evaluators["exact_match"].delta == -0.5
        assert row.evaluators["regex"].delta == 0.0
    assert llm.act(ctx, name, LlmAction.COMPLETE).status is LlmStatus.COMPLETED
    with pytest.raises(InvalidTransition):
        llm.add_variant(ctx, name, hot.model_copy(update={"name": "late"}))


def test_a_failed_baseline_can_be_corrected_and_retried(ctx: Context, app: ExampleApp) -> None:
    name = experiment(ctx, app, webhook_secret="the-wrong-secret-entirely")
    failed = run_configuration(ctx, name)
    assert failed.status is LlmStatus.BASELINE_FAILED  # every request refused: 401
    results = llm_results(ctx, name)
    assert results.variants[0].errors == TASKS
    llm.add_variant(
        ctx,
        name,
        LlmVariantCreate(name="x", step="classifier", parameter=Parameter.TOP_P, value=0.2),
    )
    with pytest.raises(InvalidTransition, match="baseline_failed"):  # no variant runs yet
        run_configuration(ctx, name, "x")
    llm.set_baseline(ctx, name, {"response_generator": {"temperature": 0.2}})
    ok = run_configuration(ctx, name, runner=CallableRunner(lambda task, config: task["answer"]))
    assert ok.status is LlmStatus.BASELINE_COMPLETE
    assert llm_results(ctx, name).variants[0].pass_rate == 1.0


def test_repeated_trials_show_flaky_tasks(ctx: Context, app: ExampleApp) -> None:
    calls: dict[str, int] = {}

    def sometimes(task: dict[str, Any], config: dict[str, Any]) -> str:
        key = task["question"]
        calls[key] = calls.get(key, 0) + 1
        # Task 3 fails its second trial only; the others always pass.
        return "wrong" if key == "3+3" and calls[key] == 2 else task["answer"]

    name = experiment(ctx, app, trials=3, concurrency=1)
    run_configuration(ctx, name, runner=CallableRunner(sometimes))
    (baseline,) = llm_results(ctx, name).variants
    assert baseline.runs == 3 * TASKS
    assert baseline.flaky_tasks == 1
    flaky = next(t for t in baseline.tasks if t.flaky)
    assert (flaky.name, flaky.passes, flaky.trials, flaky.passed) == ("sum-3", 2, 3, True)
    assert baseline.pass_rate == pytest.approx((3 * TASKS - 1) / (3 * TASKS))


def test_bad_input_is_refused_before_anything_runs(ctx: Context, app: ExampleApp) -> None:
    with pytest.raises(ValidationError, match="at least one evaluator"):
        llm.create_task(ctx, LlmTaskCreate(name="bare", input={}))
    with pytest.raises(ValidationError, match="regex"):
        llm.create_task(
            ctx,
            LlmTaskCreate(
                name="bad", input={}, evaluators=[{"kind": "regex", "params": {"pattern": "("}}]
            ),
        )
    name = experiment(ctx, app)
    with pytest.raises(Conflict):
        llm.create_llm_experiment(ctx, LlmExperimentCreate(name=name, steps=["s"]))
    for value, message in ((2.5, "temperature"), (-1, "temperature")):
        with pytest.raises(ValidationError, match=message):
            llm.add_variant(
                ctx,
                name,
                LlmVariantCreate(
                    name="v",
                    step="response_generator",
                    parameter=Parameter.TEMPERATURE,
                    value=value,
                ),
            )
    with pytest.raises(ValidationError, match="top_p"):
        llm.add_variant(
            ctx,
            name,
            LlmVariantCreate(name="v", step="classifier", parameter=Parameter.TOP_P, value=1.5),
        )
    with pytest.raises(ValidationError, match="max_tokens"):
        llm.add_variant(
            ctx,
            name,
            LlmVariantCreate(name="v", step="classifier", parameter=Parameter.MAX_TOKENS, value=0),
        )
    with pytest.raises(ValidationError):
        llm.add_variant(
            ctx,
            name,
            LlmVariantCreate(name="v", step="nowhere", parameter=Parameter.TOP_P, value=0.5),
        )
    llm.add_variant(
        ctx,
        name,
        LlmVariantCreate(name="ok", step="classifier", parameter=Parameter.TOP_P, value=0.5),
    )
    with pytest.raises(InvalidTransition):  # no variant runs before the baseline
        run_configuration(ctx, name, "ok")
    with pytest.raises(NotFound):
        run_configuration(ctx, name, "ghost")
    with pytest.raises(ValidationError, match="webhook_secret"):
        llm.create_llm_experiment(
            ctx, LlmExperimentCreate(name="nosecret", steps=["s"], webhook_url=app.url)
        )
    assert llm.get_llm_experiment(ctx, name).status is LlmStatus.BASELINE_PENDING


def test_runs_are_recorded_per_task_and_trial(ctx: Context, app: ExampleApp) -> None:
    name = experiment(ctx, app, trials=2)
    run_configuration(ctx, name)
    found = llm.get_llm_experiment(ctx, name)
    with ctx.store.session() as session:
        runs = session.list_llm_runs(found.id, BASELINE)
    assert len(runs) == 2 * TASKS
    assert {r.state for r in runs} == {RunState.PASSED}
    assert all(r.attempts == 1 for r in runs)
    assert all(len(r.verdicts) == 2 for r in runs)


def test_a_run_a_stopped_server_left_behind_is_ended(ctx: Context, app: ExampleApp) -> None:
    name = experiment(ctx, app)
    gone = RunLease.new("server", seconds=30)
    began = begin_run(ctx, name, lease=gone)  # recorded, never sent: the server stopped here
    assert llm.get_llm_experiment(ctx, name).status is LlmStatus.RUNNING_BASELINE
    assert recover_interrupted(ctx.store) == []  # its lease still holds
    assert began.lease_expires_at is not None
    after_the_lease = began.lease_expires_at + timedelta(seconds=1)
    (ended,) = recover_interrupted(ctx.store, clock=lambda: after_the_lease)
    found = llm.get_llm_experiment(ctx, name)
    assert (found.id, found.status, found.running) == (ended, LlmStatus.BASELINE_FAILED, None)
    (baseline,) = llm_results(ctx, name).variants
    assert baseline.errors == TASKS
    assert recover_interrupted(ctx.store, clock=lambda: after_the_lease) == []
    # The baseline can be run again, and this time it completes.
    assert run_configuration(ctx, name).status is LlmStatus.BASELINE_COMPLETE


def test_progress_is_told_as_runs_end(ctx: Context, app: ExampleApp) -> None:
    seen: list[tuple[int, int]] = []
    run_configuration(
        ctx, experiment(ctx, app), progress=lambda done, total: seen.append((done, total))
    )
    assert seen == [(i, TASKS) for i in range(1, TASKS + 1)]


def test_a_running_experiment_cannot_be_archived(ctx: Context, app: ExampleApp) -> None:
    name = experiment(ctx, app)
    began = begin_run(ctx, name, lease=RunLease.new("server"))
    with pytest.raises(InvalidTransition, match="cannot archive"):
        llm.act(ctx, name, LlmAction.ARCHIVE)
    assert began.lease_expires_at is not None
    recover_interrupted(ctx.store, clock=lambda: began.lease_expires_at + timedelta(seconds=1))
    assert llm.act(ctx, name, LlmAction.ARCHIVE).status is LlmStatus.ARCHIVED


def test_an_output_json_cannot_hold_fails_that_task_only(ctx: Context, app: ExampleApp) -> None:
    name = experiment(ctx, app)

    def pipeline(task: dict[str, Any], config: dict[str, Any]) -> Any:
        return {1, 2} if task["question"] == "3+3" else task["answer"]

    run_configuration(ctx, name, runner=CallableRunner(pipeline))
    (baseline,) = llm_results(ctx, name).variants
    assert (baseline.errors, baseline.tasks_passed) == (1, TASKS - 1)
    with ctx.store.session() as session:
        runs = session.list_llm_runs(llm.get_llm_experiment(ctx, name).id, BASELINE)
    (broken,) = [r for r in runs if r.state is RunState.ERROR]
    assert broken.error is not None
    assert broken.error.startswith("the output is not JSON")
