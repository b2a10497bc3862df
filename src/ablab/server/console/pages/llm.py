"""The LLM experiments pages: the list, one experiment (a summary per configuration, then
the task x configuration matrix of outputs), and one task's outputs side by side with a
word diff against the baseline's (``/llm/{ref}/tasks/{task}``). The forms that create and
run experiments are :mod:`.llm_forms`'s, mounted on this router.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from ablab.contract.llm import LlmExperimentPublic, LlmResults, LlmVariantResult
from ablab.domain.llm_records import BASELINE, LlmRun, RunState, failure_reason
from ablab.errors import NotFound
from ablab.server.console.pages import llm_forms
from ablab.server.console.pages.llm_text import output_text, shortened, word_diff
from ablab.server.console.session import Viewer, ViewerDep
from ablab.server.console.templating import render
from ablab.services.llm import experiments as llm
from ablab.services.llm.matrix import TaskMatrix, task_matrix
from ablab.services.llm.results import llm_results
from ablab.services.llm.spend import run_latency

router = APIRouter(include_in_schema=False)
# /llm/new and the other forms before /llm/{ref}: the first match wins.
router.include_router(llm_forms.router)

# A page that shows a run going on reloads itself this often (seconds), without a script.
REFRESH_SECONDS = 2


def milliseconds(value: float | None) -> str:
    """``812 ms``, ``1.2 s``; a dash when unknown."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:,.0f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"


def tokens(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def dollars(value: float | None) -> str:
    """``$0.0031``, ``$12.40``: small costs keep three significant digits."""
    if value is None or not math.isfinite(value):
        return "–"
    if value == 0 or value >= 1:
        return f"${value:,.2f}"
    return f"${value:.3g}"


_FORMATS = {"milliseconds": milliseconds, "tokens": tokens, "dollars": dollars}


@router.get("/llm")
def llm_page(request: Request, viewer: ViewerDep) -> Response:
    found = [
        LlmExperimentPublic.from_domain(e, llm.progress_of(viewer.ctx, e))
        for e in llm.list_llm_experiments(viewer.ctx)
    ]
    return render(request, "llm.html", {"viewer": viewer, "experiments": found})


@dataclass(frozen=True, slots=True)
class Cell:
    """One task under one configuration, as the matrix shows it."""

    state: str  # passed, failed, error, pending, flaky, not run
    passes: int
    trials: int
    short: str
    full: str
    more: bool
    reason: str | None


def _cell(runs: tuple[LlmRun, ...]) -> Cell:
    if not runs:
        return Cell("not run", 0, 0, "", "", False, None)
    done = [r for r in runs if r.state is not RunState.PENDING]
    passes = sum(r.state is RunState.PASSED for r in done)
    if not done:
        state = "pending"
    elif 0 < passes < len(done):
        state = "flaky"
    elif passes:
        state = "passed"
    elif all(r.state is RunState.ERROR for r in done):
        state = "error"
    else:
        state = "failed"
    # The first trial with an output speaks for the cell; the compare view has them all.
    shown = next((r for r in runs if r.output is not None), runs[0])
    full = output_text(shown.output)
    short, more = shortened(full, 60)
    reason = next((failure_reason(r) for r in runs if failure_reason(r)), None)
    return Cell(state, passes, len(done), short, full, more, reason)


def _tree(experiment: LlmExperimentPublic) -> list[tuple[int, str]]:
    """The variant tree, depth first from the baseline: (depth, variant id) in order."""
    children: dict[str | None, list[str]] = {}
    for v in experiment.variants:
        children.setdefault(v.parent_id, []).append(v.id)
    order: list[tuple[int, str]] = []

    def walk(parent: str | None, depth: int) -> None:
        for child in children.get(parent, []):
            order.append((depth, child))
            walk(child, depth + 1)

    walk(None, 1)
    return order


def _missing(request: Request, viewer: Viewer, exc: NotFound) -> Response:
    return render(request, "message.html", {"viewer": viewer, "message": exc.message}, 404)


@router.get("/llm/{ref}")
def llm_experiment_page(
    request: Request, viewer: ViewerDep, ref: str, compare: str = ""
) -> Response:
    if compare:
        return llm_task_page(request, viewer, ref, compare)
    try:
        results = LlmResults.from_domain(llm_results(viewer.ctx, ref))
        matrix = task_matrix(viewer.ctx, ref)
    except NotFound as exc:
        return _missing(request, viewer, exc)
    experiment = results.experiment
    by_variant: dict[str, LlmVariantResult] = {r.variant: r for r in results.variants}
    cells = {
        (task.id, column.variant): _cell(matrix.cell(task.id, column.variant))
        for task in matrix.tasks
        for column in matrix.columns
    }
    evaluators = sorted({name for r in results.variants for name in r.evaluators})
    return render(
        request,
        "llm_experiment.html",
        {
            "viewer": viewer,
            "experiment": experiment,
            "results": results,
            "by_variant": by_variant,
            "variants": {v.id: v for v in experiment.variants},
            "tree": _tree(experiment),
            # The adjusted intervals' confidence, Bonferroni over the variants compared.
            "confidence": 1 - results.alpha / max(results.comparisons, 1),
            "matrix": matrix,
            "cells": cells,
            "evaluators": evaluators,
            "chosen_task_names": {t.name for t in matrix.tasks},
            "refresh": REFRESH_SECONDS if experiment.progress.running else None,
            **llm_forms.actions(viewer, experiment, set(by_variant)),
            **_FORMATS,
        },
    )


@dataclass(frozen=True, slots=True)
class Trial:
    """One run of the compared task, with its output marked against the baseline's."""

    run: LlmRun
    text: str
    diff: Markup | None  # None for the baseline itself, or when the baseline has no output
    same: bool
    reason: str | None
    latency_ms: float | None


def _trials(matrix: TaskMatrix, task_id: str, variant: str) -> list[Trial]:
    baseline = {r.trial: r for r in matrix.cell(task_id, BASELINE)}
    shown = []
    for run in matrix.cell(task_id, variant):
        text = output_text(run.output)
        against = baseline.get(run.trial) or baseline.get(0)
        diff = None
        same = False
        if variant != BASELINE and against is not None and against.output is not None:
            old = output_text(against.output)
            same = old == text
            diff = word_diff(old, text)
        shown.append(Trial(run, text, diff, same, failure_reason(run), run_latency(run)))
    return shown


@router.get("/llm/{ref}/tasks/{task}")
def llm_task_page(request: Request, viewer: ViewerDep, ref: str, task: str) -> Response:
    try:
        matrix = task_matrix(viewer.ctx, ref)
        chosen = matrix.task(task)
    except NotFound as exc:
        return _missing(request, viewer, exc)
    experiment = matrix.experiment
    variants = {v.id: v for v in experiment.variants}
    columns: list[dict[str, Any]] = []
    for column in matrix.columns:
        variant = variants.get(column.variant)
        change = f"{variant.step}.{variant.parameter.value} = " if variant else ""
        columns.append(
            {
                "variant": column.variant,
                "name": column.name,
                "change": change,
                "value": variant.value if variant else None,
                "trials": _trials(matrix, chosen.id, column.variant),
            }
        )
    position = [t.id for t in matrix.tasks].index(chosen.id)
    neighbours = {
        "previous": matrix.tasks[position - 1].name if position > 0 else None,
        "next": matrix.tasks[position + 1].name if position + 1 < len(matrix.tasks) else None,
    }
    return render(
        request,
        "llm_task.html",
        {
            "viewer": viewer,
            "experiment": experiment,
            "task": chosen,
            "task_input": output_text(chosen.input),
            "expected": output_text(chosen.expected_output),
            "columns": columns,
            "has_baseline": any(c["variant"] == BASELINE for c in columns),
            "neighbours": neighbours,
            "refresh": REFRESH_SECONDS if experiment.running else None,
            **_FORMATS,
        },
    )
