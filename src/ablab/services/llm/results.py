"""The results of an LLM experiment: each configuration's pass rate beside the baseline's,
with the paired statistics the task set allows.

Every variant runs the baseline's tasks, so the comparison is paired by task. A task's
outcome for a configuration is its majority over the ``trials`` runs (passed in more than
half); McNemar's test then compares the variant with the baseline on the tasks where the two
disagree, as a score test with Tango's interval of the paired difference in pass rates,
which inverts it (:func:`ablab.stats.mcnemar_score_test`): a p-value and the interval shown
beside it cannot disagree. Every variant is tested against the same baseline, so the family
is adjusted with Bonferroni, p-values (times the number of comparisons ``m``) and intervals
(confidence ``1 - alpha / m``) alike; Holm's step-down has no interval that agrees with its
verdicts in this simple way, which is why it is not used here. The pass rate itself counts
runs (a flaky task counts by the share of its trials that passed); a task is flaky when its
trials disagree. Runs without an answer count as failures, and each task that did not pass
every trial says why (:func:`ablab.domain.llm_records.failure_reason`). What the runs
spent (latency, tokens, cost) is :mod:`ablab.services.llm.spend`'s.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime

from ablab.domain.llm_records import BASELINE, LlmRun, RunState, failure_reason
from ablab.domain.llm_results import (
    LlmEvaluatorDelta,
    LlmMcNemar,
    LlmResults,
    LlmTaskOutcome,
    LlmVariantResult,
)
from ablab.services.context import Context
from ablab.services.llm.experiments import progress_of, require_llm_experiment
from ablab.services.llm.spend import spend_of
from ablab.stats import mcnemar_score_test

__all__ = ["ALPHA", "compare_with_baseline", "llm_results"]

ALPHA = 0.05


def llm_results(ctx: Context, ref: str, *, alpha: float = ALPHA) -> LlmResults:
    """The baseline's and every variant's results (variants that have not run have none).

    Raises:
        NotFound: no such experiment.
    """
    with ctx.store.session(read_only=True) as session:
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
            )
        )
    compared = [r for r in results if r.mcnemar is not None]
    tables = [(r.mcnemar.only_baseline_passed, r.mcnemar.only_variant_passed, r.mcnemar.pairs)
              for r in compared if r.mcnemar is not None]  # fmt: skip
    verdicts = dict(
        zip((r.variant for r in compared), compare_with_baseline(tables, alpha), strict=True)
    )
    return LlmResults(
        experiment=experiment,
        progress=progress_of(ctx, experiment),
        correction="bonferroni",
        comparisons=len(compared),
        alpha=alpha,
        variants=tuple(
            replace(r, mcnemar=verdicts[r.variant]) if r.variant in verdicts else r for r in results
        ),
    )


def compare_with_baseline(
    tables: Sequence[tuple[int, int, int]], alpha: float = ALPHA
) -> list[LlmMcNemar]:
    """McNemar's score test and Tango's interval for each variant against the baseline,
    alone and Bonferroni-adjusted over the family.

    Args:
        tables: One ``(only_baseline_passed, only_variant_passed, pairs)`` per variant.
        alpha: The family-wise significance level.

    Returns:
        One comparison per table, in order. ``significant`` is the adjusted verdict: the
        adjusted p-value ``min(1, m p)`` is below ``alpha`` exactly when the interval at
        confidence ``1 - alpha / m`` leaves out 0.

    References:
        Dunn, O. J. (1961). Multiple comparisons among means. Journal of the American
        Statistical Association 56(293), 52-64 (Bonferroni intervals).

    Examples:
        >>> (found,) = compare_with_baseline([(5, 0, 10)])
        >>> round(found.p_value, 4), found.significant
        (0.0253, True)
        >>> found, _, _ = compare_with_baseline([(5, 0, 10)] * 3)
        >>> round(found.adjusted_p_value, 4), found.significant, found.adjusted_ci[1] > 0
        (0.076, False, True)
    """
    family = sum(pairs > 0 for _, _, pairs in tables)
    compared = []
    for only_baseline, only_variant, pairs in tables:
        alone = mcnemar_score_test(only_baseline, only_variant, pairs, alpha=alpha)
        if math.isnan(alone.p_value):
            compared.append(_untested(pairs, only_baseline, only_variant))
            continue
        adjusted = mcnemar_score_test(only_baseline, only_variant, pairs, alpha=alpha / family)
        compared.append(
            LlmMcNemar(
                pairs=pairs,
                only_baseline_passed=only_baseline,
                only_variant_passed=only_variant,
                difference=alone.difference,
                statistic=alone.statistic,
                ci=alone.difference_ci,
                p_value=alone.p_value,
                confidence=1.0 - alpha,
                adjusted_p_value=min(1.0, family * alone.p_value),
                adjusted_ci=adjusted.difference_ci,
                adjusted_confidence=1.0 - alpha / family,
                significant=adjusted.significant,
            )
        )
    return compared


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


def _reasons(runs: Sequence[LlmRun]) -> dict[str, str]:
    """Each task's reason for its first trial (in trial order) that did not pass."""
    reasons: dict[str, str] = {}
    for run in sorted(runs, key=lambda r: r.trial):
        reason = failure_reason(run)
        if reason is not None:
            reasons.setdefault(run.task_id, reason)
    return reasons


def _variant_result(  # noqa: PLR0917 - one row of the table: its id, name, parent, runs
    variant_id: str,
    name: str,
    parent: str | None,
    runs: Sequence[LlmRun],
    baseline_runs: Sequence[LlmRun],
    baseline_tasks: dict[str, tuple[int, int, int]],
    task_names: dict[str, str],
) -> LlmVariantResult:
    outcomes = _outcomes(runs)
    reasons = _reasons(runs)
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
            reason=reasons.get(task),
        )
        for task, (p, n, e) in sorted(outcomes.items(), key=lambda i: task_names.get(i[0], i[0]))
    ]
    mcnemar = None if is_baseline or pending else _paired_table(outcomes, baseline_tasks)
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
        tasks=tuple(task_rows),
        **asdict(spend_of(runs)),  # the result carries the spend's fields by their names
    )


def _paired_table(
    outcomes: dict[str, tuple[int, int, int]], baseline: dict[str, tuple[int, int, int]]
) -> LlmMcNemar:
    """The discordant tasks only; :func:`compare_with_baseline` fills in the statistics
    once the whole family is known."""
    shared = sorted(set(outcomes) & set(baseline))
    only_baseline = only_variant = 0
    for task in shared:
        mine = _majority(*outcomes[task][:2])
        theirs = _majority(*baseline[task][:2])
        only_baseline += theirs and not mine
        only_variant += mine and not theirs
    return _untested(len(shared), only_baseline, only_variant)


def _untested(pairs: int, only_baseline: int, only_variant: int) -> LlmMcNemar:
    """The counts of a comparison that has no test (no discordant pair, or no pair)."""
    return LlmMcNemar(
        pairs=pairs,
        only_baseline_passed=only_baseline,
        only_variant_passed=only_variant,
        difference=None,
        ci=(None, None),
        p_value=None,
        adjusted_p_value=None,
        significant=False,
    )
