"""What an LLM experiment concludes, through the service layer on both engines: verdicts
whose p-value, interval and flag agree (Bonferroni over the variants), each failed task's
reason (bounded), variants that change nothing refused, and the winner named at completion
(a variant only with significant evidence, or forced with a reason, audited)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.contingency_tables import mcnemar

from ablab.contract.llm import LlmExperimentCreate, LlmTaskCreate, LlmVariantCreate
from ablab.domain.limits import MAX_TEXT_LENGTH
from ablab.domain.llm import LlmStatus, Parameter
from ablab.domain.llm_records import BASELINE, RunState
from ablab.errors import Conflict, InvalidTransition, NotFound, ValidationError
from ablab.llm.runners import CallableRunner
from ablab.services.access.audit import list_audit
from ablab.services.context import Context
from ablab.services.llm import experiments as llm
from ablab.services.llm.completion import complete
from ablab.services.llm.results import compare_with_baseline, llm_results
from ablab.services.llm.runs import run_configuration

Pipeline = Callable[[Any, Mapping[str, Mapping[str, Any]]], Any]


def experiment(ctx: Context, tasks: int, *, temperature: float = 0.2, name: str = "tune") -> str:
    for n in range(tasks):
        llm.create_task(
            ctx,
            LlmTaskCreate(
                name=f"{name}-{n}",
                input={"n": n},
                expected_output=str(n),
                evaluators=[{"kind": "exact_match"}],
            ),
        )
    spec = LlmExperimentCreate(
        name=name,
        steps=["writer"],
        tasks=[f"{name}-{n}" for n in range(tasks)],
        baseline={"writer": {"temperature": temperature}},
    )
    return llm.create_llm_experiment(ctx, spec).name


def temperature_variant(ctx: Context, name: str, variant: str, value: float, **more: Any) -> None:
    spec = LlmVariantCreate(
        name=variant, step="writer", parameter=Parameter.TEMPERATURE, value=value, **more
    )
    llm.add_variant(ctx, name, spec)


def hot_loses(lost: int) -> Pipeline:
    """Right on every task, except the first ``lost`` ones when the writer runs hot."""

    def pipeline(task: Any, config: Mapping[str, Mapping[str, Any]]) -> str:
        hot = float(config["writer"]["temperature"]) > 0.8
        return "wrong" if hot and task["n"] < lost else str(task["n"])

    return pipeline


# -- the verdict and the interval beside it agree -----------------------------------------


def test_the_contradiction_of_issue_14_now_shows_agreeing_numbers(ctx: Context) -> None:
    """Ten tasks, three variants each losing five of them to the baseline: before, each
    showed "McNemar p = 0.1875 (Holm), not significant" beside [-74%, -9.3%]."""
    name = experiment(ctx, 10)
    run_configuration(ctx, name, runner=CallableRunner(hot_loses(5)))
    for variant, value in (("hot", 0.9), ("hotter", 1.2), ("hottest", 1.6)):
        temperature_variant(ctx, name, variant, value)
        run_configuration(ctx, name, variant, runner=CallableRunner(hot_loses(5)))
    results = llm_results(ctx, name)
    assert (results.correction, results.comparisons) == ("bonferroni", 3)
    expected = mcnemar([[5, 5], [0, 0]], exact=False, correction=False).pvalue
    for row in results.variants[1:]:
        test = row.mcnemar
        assert test is not None
        assert (test.only_baseline_passed, test.only_variant_passed, test.pairs) == (5, 0, 10)
        assert test.p_value == pytest.approx(expected)
        low, high = test.ci
        assert low is not None
        assert high is not None
        assert high < 0  # alone, this variant is worse: p 0.025 beside an interval below 0
        assert expected < 0.05
        assert test.adjusted_p_value == pytest.approx(3 * expected)
        adjusted_low, adjusted_high = test.adjusted_ci
        assert adjusted_low is not None
        assert adjusted_high is not None
        assert adjusted_low < 0 < adjusted_high  # over three variants: not shown, agreeing
        assert not test.significant


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 60)),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([0.01, 0.05, 0.1]),
)
def test_every_verdict_agrees_with_its_p_value_and_interval(
    cells: list[tuple[int, int, int]], alpha: float
) -> None:
    tables = [(b, c, b + c + concordant) for b, c, concordant in cells]
    compared = compare_with_baseline(tables, alpha)
    family = sum(pairs > 0 for _, _, pairs in tables)
    for (b, c, pairs), test in zip(tables, compared, strict=True):
        if pairs == 0:
            assert test.p_value is None
            assert not test.significant
            continue
        assert test.p_value is not None
        assert test.adjusted_p_value is not None
        low, high = test.ci
        adjusted_low, adjusted_high = test.adjusted_ci
        assert None not in (low, high, adjusted_low, adjusted_high)
        assert test.adjusted_p_value == pytest.approx(min(1.0, family * test.p_value))
        # The pair shown together: adjusted p, adjusted interval, and the flag.
        assert test.significant == (test.adjusted_p_value < alpha)
        assert test.significant == (not adjusted_low <= 0.0 <= adjusted_high)  # type: ignore[operator]
        # The unadjusted pair agrees as well.
        assert (test.p_value < alpha) == (not low <= 0.0 <= high)  # type: ignore[operator]
        assert test.difference == pytest.approx((c - b) / pairs)


# -- a failed task's reason ---------------------------------------------------------------


def test_each_failed_task_says_why_and_the_reason_is_bounded(ctx: Context) -> None:
    name = experiment(ctx, 4)
    huge = "the pipeline broke\x00 " + "x" * (3 * MAX_TEXT_LENGTH)

    def pipeline(task: Any, config: Mapping[str, Mapping[str, Any]]) -> str:
        if task["n"] == 1:
            raise RuntimeError("the model refused")
        if task["n"] == 2:
            raise ValueError(huge)
        return "wrong" if task["n"] == 3 else "0"

    failed = run_configuration(ctx, name, runner=CallableRunner(pipeline))
    assert failed.status is LlmStatus.BASELINE_FAILED
    (baseline,) = llm_results(ctx, name).variants
    reasons = {t.name: t.reason for t in baseline.tasks}
    assert reasons["tune-0"] is None
    assert reasons["tune-1"] == "RuntimeError: the model refused"
    assert reasons["tune-3"] == "exact_match: expected '3', got 'wrong'"
    stored = reasons["tune-2"]
    assert stored is not None
    assert len(stored) == MAX_TEXT_LENGTH
    assert stored.startswith("ValueError: the pipeline broke\ufffd x")
    assert stored.endswith(" [...]")
    with ctx.store.session() as session:
        runs = session.list_llm_runs(llm.get_llm_experiment(ctx, name).id, BASELINE)
    by_task = {r.task_id: r for r in runs}
    assert {r.state for r in runs} == {RunState.PASSED, RunState.ERROR, RunState.FAILED}
    assert max(len(r.error or "") for r in by_task.values()) == MAX_TEXT_LENGTH


# -- a variant that changes nothing -------------------------------------------------------


def test_a_variant_identical_to_its_parent_is_refused(ctx: Context) -> None:
    name = experiment(ctx, 2, temperature=0.7)
    with pytest.raises(
        Conflict, match=r"'same' changes nothing: writer.temperature is 0.7 in the baseline"
    ):
        temperature_variant(ctx, name, "same", 0.7)
    temperature_variant(ctx, name, "warm", 0.9)
    with pytest.raises(Conflict, match=r"is 0.9 in its parent 'warm' already"):
        temperature_variant(ctx, name, "warm-again", 0.9, parent="warm")
    # Another parameter, or the baseline's value again below a changed parent, is a change.
    temperature_variant(ctx, name, "back", 0.7, parent="warm")
    assert [v.name for v in llm.get_llm_experiment(ctx, name).variants] == ["warm", "back"]


def test_a_variant_the_baseline_caught_up_with_does_not_run(ctx: Context) -> None:
    name = experiment(ctx, 2, temperature=0.7)
    temperature_variant(ctx, name, "cool", 0.3)  # added before the baseline runs
    llm.set_baseline(ctx, name, {"writer": {"temperature": 0.3}})
    run_configuration(ctx, name, runner=CallableRunner(hot_loses(0)))
    with pytest.raises(Conflict, match="'cool' changes nothing"):
        run_configuration(ctx, name, "cool", runner=CallableRunner(hot_loses(0)))
    assert llm.get_llm_experiment(ctx, name).status is LlmStatus.BASELINE_COMPLETE


# -- naming the winner --------------------------------------------------------------------


def cooled(ctx: Context) -> str:
    """A hot baseline that loses 6 of 12 tasks, a cool variant that wins them back (better:
    p = 0.014), and a variant that changes the model and nothing else (no difference)."""
    name = experiment(ctx, 12, temperature=0.95)
    pipeline = CallableRunner(hot_loses(6))
    run_configuration(ctx, name, runner=pipeline)
    temperature_variant(ctx, name, "cool", 0.3)
    run_configuration(ctx, name, "cool", runner=pipeline)
    spec = LlmVariantCreate(name="other", step="writer", parameter=Parameter.MODEL, value="m2")
    llm.add_variant(ctx, name, spec)
    run_configuration(ctx, name, "other", runner=pipeline)
    return name


def test_a_significantly_better_variant_is_named_the_winner(ctx: Context) -> None:
    name = cooled(ctx)
    cool = llm_results(ctx, name).variants[1].mcnemar
    assert cool is not None
    assert cool.significant
    assert cool.difference == pytest.approx(0.5)
    done = complete(ctx, name, winner="cool")
    assert done.status is LlmStatus.COMPLETED
    assert (done.winner, done.winner_forced) == (done.variant("cool").id, False)  # type: ignore[union-attr]
    (entry, *_) = list_audit(ctx, object_id=done.id)
    assert entry.action == "complete"
    assert entry.after is not None
    assert entry.after["forced"] is False
    assert entry.after["evidence"]["significantly_better"] is True
    assert entry.after["evidence"]["adjusted_p_value"] == pytest.approx(cool.adjusted_p_value)


def test_a_variant_without_evidence_is_refused_unless_forced_with_a_reason(ctx: Context) -> None:
    name = cooled(ctx)
    with pytest.raises(Conflict, match="'other' of 'tune' is not significantly better") as refused:
        complete(ctx, name, winner="other")
    assert refused.value.details["significantly_better"] is False
    with pytest.raises(ValidationError, match="takes a reason"):
        complete(ctx, name, winner="other", force=True)
    with pytest.raises(ValidationError, match="go with a winner"):
        complete(ctx, name, force=True, reason="no winner")
    assert llm.get_llm_experiment(ctx, name).status is LlmStatus.IDLE
    done = complete(ctx, name, winner="other", force=True, reason="m2 costs half as much")
    assert (done.status, done.winner_forced) == (LlmStatus.COMPLETED, True)
    (entry, *_) = list_audit(ctx, object_id=done.id)
    assert entry.after is not None
    assert (entry.after["forced"], entry.after["reason"]) == (True, "m2 costs half as much")
    assert entry.after["evidence"]["significant"] is False


def test_the_baseline_needs_no_evidence_and_a_worse_variant_is_called_worse(
    ctx: Context,
) -> None:
    name = experiment(ctx, 12, temperature=0.3)
    pipeline = CallableRunner(hot_loses(6))
    run_configuration(ctx, name, runner=pipeline)
    temperature_variant(ctx, name, "hot", 0.95)
    run_configuration(ctx, name, "hot", runner=pipeline)
    with pytest.raises(Conflict, match="is significantly worse than the baseline"):
        complete(ctx, name, winner="hot")
    with pytest.raises(NotFound, match="unknown variant 'ghost'"):
        complete(ctx, name, winner="ghost")
    done = complete(ctx, name, winner="baseline")
    assert (done.winner, done.winner_forced) == (BASELINE, False)
    with pytest.raises(InvalidTransition):
        complete(ctx, name, winner="baseline")


def test_a_variant_that_has_not_run_cannot_win(ctx: Context) -> None:
    name = experiment(ctx, 3)
    run_configuration(ctx, name, runner=CallableRunner(hot_loses(0)))
    temperature_variant(ctx, name, "later", 0.5)
    with pytest.raises(ValidationError, match="'later' has no results"):
        complete(ctx, name, winner="later", force=True, reason="trust me")
    assert llm.get_llm_experiment(ctx, name).status is LlmStatus.BASELINE_COMPLETE
