"""The results of an LLM experiment: each configuration's pass rate beside the baseline's,
with the paired statistics the task set allows.

Every variant runs the baseline's tasks, so the comparison is paired by task. A task's
outcome for a configuration is its majority over the ``trials`` runs (passed in more than
half); the exact McNemar test then compares the variant with the baseline on the tasks where
the two disagree, with the Agresti-Min interval of the paired difference in pass rates
(:func:`ablab.stats.mcnemar_test`). The p-values of all variants are adjusted together with
Holm's method, since every variant is tested against the same baseline. The pass rate itself
counts runs (a flaky task counts by the share of its trials that passed); a task is flaky
when its trials disagree. Runs without an answer count as failures.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from ablab.contract.llm import (
    LlmEvaluatorDelta,
    LlmExperimentPublic,
    LlmMcNemar,
    LlmResults,
    LlmTaskOutcome,
    LlmVariantResult,
)
from ablab.domain.llm_records import BASELINE, LlmRun, RunState
from ablab.services.context import Context
from ablab.services.llm_experiments import progress_of, require_llm_experiment
from ablab.stats import adjust_p_values, mcnemar_test

__all__ = ["llm_results"]

ALPHA = 0.05


def llm_results(ctx: Context, ref: str, *, alpha: float = ALPHA) -> LlmResults:
    """The baseline's and every variant's results (variants that have not run have none).

    Raises:
        NotFound: no such experiment.
    """
    with ctx.store.session() as session:
        experiment = require_llm_experiment(session, ctx, ref)
        runs = session.list_llm_runs(experiment.id)
        tasks = {t: session.get_llm_task(ctx.project_id, t) for t in experiment.task_ids}
    by_variant: dict[str, list[LlmRun]] = defaultdict(list)
    for run in runs:
        by_variant[run.variant_id].append(run)
    baseline_runs = by_variant.get(BASELINE, [])
    baseline_tasks = _outcomes(baseline_runs)
    rows: list[tuple[str, str, str | None]] = [(BASELINE, "baseline", None)]
    rows += [(v.id, v.name, v.parent_id or BASELINE) for v in experiment.variants]
    results: list[LlmVariantResult] = []
    for variant_id, name, parent in rows:
        found = by_variant.get(variant_id)
        if not found:
            continue
        results.append(
            _variant_result(
                variant_id,
                name,
                parent,
                found,
                baseline_runs,
                baseline_tasks,
                {t: task.name for t, task in tasks.items() if task is not None},
                alpha,
            )
        )
    adjusted = iter(adjust_p_values([_p(r) for r in results if r.mcnemar is not None]))
    for result in results:
        if result.mcnemar is not None:
            p = next(adjusted)
            result.mcnemar.adjusted_p_value = None if math.isnan(p) else p
            result.mcnemar.significant = not math.isnan(p) and p < alpha
    return LlmResults(
        experiment=LlmExperimentPublic.from_domain(experiment, progress_of(ctx, experiment)),
        correction="holm",
        alpha=alpha,
        variants=results,
    )


def _p(result: LlmVariantResult) -> float:
    assert result.mcnemar is not None
    return result.mcnemar.p_value if result.mcnemar.p_value is not None else math.nan


def _outcomes(runs: Sequence[LlmRun]) -> dict[str, tuple[int, int, int]]:
    """(passed runs, runs, unanswered runs) by task, over answered and unanswered runs."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for run in runs:
        if run.state is RunState.PENDING:
            continue
        entry = counts[run.task_id]
        entry[0] += run.state is RunState.PASSED
        entry[1] += 1
        entry[2] += run.state is RunState.ERROR
    return {task: (p, n, e) for task, (p, n, e) in counts.items()}


def _majority(passes: int, trials: int) -> bool:
    return 2 * passes > trials


def _evaluator_rates(runs: Sequence[LlmRun]) -> dict[str, float]:
    """Each evaluator's pass rate over the runs that were judged (answered)."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for run in runs:
        for verdict in run.verdicts:
            entry = tally[str(verdict["evaluator"])]
            entry[0] += bool(verdict["passed"])
            entry[1] += 1
    return {name: passed / total for name, (passed, total) in tally.items() if total}


def _variant_result(  # noqa: PLR0917 - one row of the table: its id, name, parent, runs
    variant_id: str,
    name: str,
    parent: str | None,
    runs: Sequence[LlmRun],
    baseline_runs: Sequence[LlmRun],
    baseline_tasks: dict[str, tuple[int, int, int]],
    task_names: dict[str, str],
    alpha: float,
) -> LlmVariantResult:
    outcomes = _outcomes(runs)
    done = [r for r in runs if r.state is not RunState.PENDING]
    pending = len(runs) - len(done)
    passed_runs = sum(r.state is RunState.PASSED for r in done)
    pass_rate = passed_runs / len(done) if done else None
    base_done = [r for r in baseline_runs if r.state is not RunState.PENDING]
    base_rate = (
        sum(r.state is RunState.PASSED for r in base_done) / len(base_done) if base_done else None
    )
    is_baseline = variant_id == BASELINE
    vs = None if is_baseline or pass_rate is None or base_rate is None else pass_rate - base_rate
    relative = vs / base_rate if vs is not None and base_rate else None
    task_rows = [
        LlmTaskOutcome(
            task=task,
            name=task_names.get(task, task),
            passes=p,
            trials=n,
            errors=e,
            passed=_majority(p, n),
            flaky=0 < p < n,
        )
        for task, (p, n, e) in sorted(outcomes.items(), key=lambda i: task_names.get(i[0], i[0]))
    ]
    mcnemar = None if is_baseline or pending else _mcnemar(outcomes, baseline_tasks, alpha)
    own, base = _evaluator_rates(done), _evaluator_rates(base_done)
    evaluators = {
        evaluator: LlmEvaluatorDelta(
            pass_rate=own.get(evaluator),
            baseline_pass_rate=base.get(evaluator),
            delta=(
                own[evaluator] - base[evaluator]
                if evaluator in own and evaluator in base and not is_baseline
                else None
            ),
        )
        for evaluator in sorted(set(own) | set(base))
    }
    completed: datetime | None = None
    if done and not pending:
        completed = max((r.completed_at for r in done if r.completed_at), default=None)
    return LlmVariantResult(
        variant=variant_id,
        name=name,
        parent_id=parent,
        runs=len(runs),
        pending=pending,
        pass_rate=pass_rate,
        pass_rate_vs_baseline=vs,
        relative_vs_baseline=relative,
        tasks_total=len(task_rows),
        tasks_passed=sum(t.passed for t in task_rows),
        tasks_failed=sum(not t.passed for t in task_rows),
        errors=sum(t.errors for t in task_rows),
        flaky_tasks=sum(t.flaky for t in task_rows),
        completed_at=completed,
        mcnemar=mcnemar,
        evaluators=evaluators,
        tasks=task_rows,
    )


def _mcnemar(
    outcomes: dict[str, tuple[int, int, int]],
    baseline: dict[str, tuple[int, int, int]],
    alpha: float,
) -> LlmMcNemar:
    shared = sorted(set(outcomes) & set(baseline))
    only_baseline = only_variant = 0
    for task in shared:
        mine = _majority(*outcomes[task][:2])
        theirs = _majority(*baseline[task][:2])
        only_baseline += theirs and not mine
        only_variant += mine and not theirs
    test = mcnemar_test(only_baseline, only_variant, len(shared), alpha=alpha)
    finite = not math.isnan(test.p_value)
    return LlmMcNemar(
        pairs=len(shared),
        only_baseline_passed=only_baseline,
        only_variant_passed=only_variant,
        difference=test.difference if finite else None,
        ci=(test.difference_ci[0], test.difference_ci[1]) if finite else (None, None),
        p_value=test.p_value if finite else None,
        adjusted_p_value=None,
        significant=False,
    )
