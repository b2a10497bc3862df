"""The SDK's operations on LLM configuration experiments (``/v1/llm``), each once.

As in ``_api.py``: each function is what the embedded store does, its decorator the route
that does the same on a server. A run is the one that differs in where it happens: the
embedded store runs it here to the end (through the webhook, or through a Python callable
given as ``runner``); a server starts it in its background and answers at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from ablab.client._operation import Local, LocalOnly, operation
from ablab.contract.llm import (
    LlmBaselineSet,
    LlmCompleteRequest,
    LlmExperimentCreate,
    LlmExperimentPublic,
    LlmResults,
    LlmRunPublic,
    LlmRunRequest,
    LlmTaskCreate,
    LlmTaskPublic,
    LlmTasksSelect,
    LlmVariantCreate,
)
from ablab.domain.llm import LlmAction
from ablab.domain.llm_records import LlmExperiment
from ablab.llm.runners import CallableRunner
from ablab.services.llm import experiments as llm
from ablab.services.llm.completion import complete
from ablab.services.llm.matrix import task_matrix
from ablab.services.llm.results import llm_results
from ablab.services.llm.runs import run_configuration

__all__ = ["Progress", "TaskFunction"]

TaskFunction = Callable[[Any, Mapping[str, Mapping[str, Any]]], Any]
"""A Python pipeline: ``fn(task_input, config) -> output``, ``config`` by step."""
Progress = Callable[[int, int], None]
"""Told ``(done, total)`` as task runs end."""

_RUNS_HERE = (
    "a Python runner runs with the embedded store; a server calls the experiment's webhook_url"
)


def _public(local: Local, experiment: LlmExperiment) -> LlmExperimentPublic:
    return LlmExperimentPublic.from_domain(experiment, llm.progress_of(local.ctx, experiment))


@operation("POST", "/v1/llm/tasks")
def create_task(local: Local, spec: LlmTaskCreate) -> LlmTaskPublic:
    return LlmTaskPublic.from_domain(llm.create_task(local.ctx, spec.to_spec()))


@operation("GET", "/v1/llm/tasks")
def list_tasks(local: Local) -> list[LlmTaskPublic]:
    return [LlmTaskPublic.from_domain(t) for t in llm.list_tasks(local.ctx)]


@operation("POST", "/v1/llm/experiments")
def create_experiment(local: Local, spec: LlmExperimentCreate) -> LlmExperimentPublic:
    return _public(local, llm.create_llm_experiment(local.ctx, spec.to_spec()))


@operation("GET", "/v1/llm/experiments/{ref}")
def get_experiment(local: Local, ref: str) -> LlmExperimentPublic:
    return _public(local, llm.get_llm_experiment(local.ctx, ref))


@operation("GET", "/v1/llm/experiments")
def list_experiments(local: Local) -> list[LlmExperimentPublic]:
    return [_public(local, e) for e in llm.list_llm_experiments(local.ctx)]


@operation("PUT", "/v1/llm/experiments/{ref}/tasks")
def select_tasks(local: Local, ref: str, spec: LlmTasksSelect) -> LlmExperimentPublic:
    return _public(local, llm.select_tasks(local.ctx, ref, spec.tasks))


@operation("PUT", "/v1/llm/experiments/{ref}/baseline")
def set_baseline(local: Local, ref: str, spec: LlmBaselineSet) -> LlmExperimentPublic:
    return _public(local, llm.set_baseline(local.ctx, ref, spec.config))


@operation("POST", "/v1/llm/experiments/{ref}/variants")
def add_variant(local: Local, ref: str, spec: LlmVariantCreate) -> LlmExperimentPublic:
    return _public(local, llm.add_variant(local.ctx, ref, spec.to_spec()))


@operation("POST", "/v1/llm/experiments/{ref}/run")
def run(
    local: Local,
    ref: str,
    spec: LlmRunRequest,
    runner: Annotated[TaskFunction | None, LocalOnly(_RUNS_HERE)] = None,
    progress: Annotated[Progress | None, LocalOnly()] = None,
) -> LlmExperimentPublic:
    """Run to the end here; a server answers once the run has started (``progress`` is
    left out: ``client.llm.run`` reports it as it polls)."""
    chosen = CallableRunner(runner) if runner is not None else None
    done = run_configuration(local.ctx, ref, spec.variant, runner=chosen, progress=progress)
    return _public(local, done)


@operation("POST", "/v1/llm/experiments/{ref}/complete")
def complete_experiment(local: Local, ref: str, spec: LlmCompleteRequest) -> LlmExperimentPublic:
    done = complete(local.ctx, ref, winner=spec.winner, force=spec.force, reason=spec.reason)
    return _public(local, done)


@operation("POST", "/v1/llm/experiments/{ref}/archive")
def archive(local: Local, ref: str) -> LlmExperimentPublic:
    return _public(local, llm.act(local.ctx, ref, LlmAction.ARCHIVE))


@operation("GET", "/v1/llm/experiments/{ref}/results")
def results(local: Local, ref: str) -> LlmResults:
    return LlmResults.from_domain(llm_results(local.ctx, ref))


@operation("GET", "/v1/llm/experiments/{ref}/runs")
def runs(local: Local, ref: str, task: str | None = None) -> list[LlmRunPublic]:
    found = task_matrix(local.ctx, ref)
    return [LlmRunPublic.from_domain(*row) for row in found.listed(task)]
