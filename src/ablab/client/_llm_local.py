"""``client.llm`` on the embedded store: the services called here, runs run here."""

from __future__ import annotations

import builtins

from ablab.client._llm import Progress, TaskFunction
from ablab.contract.llm import (
    LlmBaselineSet,
    LlmCompleteRequest,
    LlmExperimentCreate,
    LlmExperimentPublic,
    LlmResults,
    LlmTaskCreate,
    LlmTaskPublic,
    LlmTasksSelect,
    LlmVariantCreate,
)
from ablab.domain.llm import LlmAction
from ablab.domain.llm_records import LlmExperiment
from ablab.llm.runners import CallableRunner
from ablab.services.context import Context
from ablab.services.llm import experiments as llm
from ablab.services.llm.completion import complete
from ablab.services.llm.results import llm_results
from ablab.services.llm.runs import run_configuration

__all__ = ["LocalLlm"]


class LocalLlm:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def _public(self, experiment: LlmExperiment) -> LlmExperimentPublic:
        return LlmExperimentPublic.from_domain(experiment, llm.progress_of(self._ctx, experiment))

    def create_task(self, spec: LlmTaskCreate) -> LlmTaskPublic:
        return LlmTaskPublic.from_domain(llm.create_task(self._ctx, spec))

    def list_tasks(self) -> builtins.list[LlmTaskPublic]:
        return [LlmTaskPublic.from_domain(t) for t in llm.list_tasks(self._ctx)]

    def create(self, spec: LlmExperimentCreate) -> LlmExperimentPublic:
        return self._public(llm.create_llm_experiment(self._ctx, spec))

    def get(self, ref: str) -> LlmExperimentPublic:
        return self._public(llm.get_llm_experiment(self._ctx, ref))

    def list(self) -> builtins.list[LlmExperimentPublic]:
        return [self._public(e) for e in llm.list_llm_experiments(self._ctx)]

    def select_tasks(self, ref: str, spec: LlmTasksSelect) -> LlmExperimentPublic:
        return self._public(llm.select_tasks(self._ctx, ref, spec.tasks))

    def set_baseline(self, ref: str, spec: LlmBaselineSet) -> LlmExperimentPublic:
        return self._public(llm.set_baseline(self._ctx, ref, spec.config))

    def add_variant(self, ref: str, spec: LlmVariantCreate) -> LlmExperimentPublic:
        return self._public(llm.add_variant(self._ctx, ref, spec))

    def run(
        self,
        ref: str,
        variant: str | None,
        runner: TaskFunction | None,
        progress: Progress | None = None,
    ) -> LlmExperimentPublic:
        chosen = CallableRunner(runner) if runner is not None else None
        done = run_configuration(self._ctx, ref, variant, runner=chosen, progress=progress)
        return self._public(done)

    def act(self, ref: str, action: LlmAction) -> LlmExperimentPublic:
        return self._public(llm.act(self._ctx, ref, action))

    def complete(self, ref: str, spec: LlmCompleteRequest) -> LlmExperimentPublic:
        done = complete(self._ctx, ref, winner=spec.winner, force=spec.force, reason=spec.reason)
        return self._public(done)

    def results(self, ref: str) -> LlmResults:
        return llm_results(self._ctx, ref)
