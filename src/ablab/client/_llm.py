"""``client.llm``: LLM configuration experiments from Python (seed 002).

Against a server, runs go through the experiment's webhook in the server's background and
:meth:`Llm.run` waits for them; with the embedded store they run here, through the webhook
or through a Python callable given as ``runner`` (``fn(task_input, config) -> output``).
The options of :meth:`Llm.create`, :meth:`Llm.create_task` and :meth:`Llm.add_variant` are
their schemas' fields, typed as the schemas type them (``tests/client`` keeps them in step).
"""

from __future__ import annotations

import builtins
import time
from typing import Any

from ablab.client import _llm_api as api
from ablab.client._backend import Backend
from ablab.client._llm_api import Progress, TaskFunction
from ablab.client._options import UNSET, UnsetType, given
from ablab.contract.base import parse
from ablab.contract.fields import (
    Concurrency,
    ConfigObject,
    Identifier,
    Label,
    Location,
    Secret,
    StepConfigs,
    TaskValue,
    Text,
    Trials,
)
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
from ablab.domain.llm import Parameter
from ablab.errors import Unavailable

__all__ = ["Llm"]


class Llm:
    """LLM configuration experiments: tasks, a baseline, a variant tree, runs and results.

    Examples:
        >>> from ablab import Client
        >>> with Client(home=getfixture("tmp_path")) as client:
        ...     _ = client.llm.create_task("two-plus-two", input={"question": "2+2"},
        ...         expected_output="4", evaluators=[{"kind": "exact_match"}])
        ...     _ = client.llm.create("arithmetic", steps=["answerer"], tasks=["two-plus-two"],
        ...         baseline={"answerer": {"temperature": 0.2}})
        ...     _ = client.llm.run("arithmetic", runner=lambda task, config: "4")
        ...     client.llm.results("arithmetic").variants[0].pass_rate
        1.0
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def create_task(
        self,
        name: Label,
        *,
        input: TaskValue,
        expected_output: TaskValue = None,
        evaluators: builtins.list[ConfigObject] | UnsetType = UNSET,
    ) -> LlmTaskPublic:
        """A task: the ``input`` the application is given, the ``expected_output`` and the
        ``evaluators`` that judge its answer (``[{"kind": "exact_match"}, ...]``)."""
        return self._backend.call(api.create_task, parse(LlmTaskCreate, given(locals())))

    def tasks(self) -> builtins.list[LlmTaskPublic]:
        return self._backend.call(api.list_tasks)

    def create(
        self,
        name: Label,
        *,
        steps: builtins.list[Identifier],
        description: Text | UnsetType = UNSET,
        tasks: builtins.list[Identifier] | UnsetType = UNSET,
        baseline: StepConfigs | UnsetType = UNSET,
        trials: Trials | UnsetType = UNSET,
        concurrency: Concurrency | UnsetType = UNSET,
        webhook_url: Location | UnsetType | None = UNSET,
        webhook_secret: Secret | UnsetType | None = UNSET,
    ) -> LlmExperimentPublic:
        """An experiment over the inference ``steps``; the options are the fields of
        ``LlmExperimentCreate``, and one left out is not sent (the server's default applies:
        no tasks yet, an empty baseline, 1 trial, 8 at once, no webhook).

        Raises:
            ValidationError: a value the schema refuses, naming the field.
        """
        spec = parse(LlmExperimentCreate, given(locals()))
        return self._backend.call(api.create_experiment, spec)

    def get(self, ref: str) -> LlmExperimentPublic:
        return self._backend.call(api.get_experiment, ref)

    def list(self) -> builtins.list[LlmExperimentPublic]:
        return self._backend.call(api.list_experiments)

    def select_tasks(self, ref: str, tasks: builtins.list[str]) -> LlmExperimentPublic:
        spec = parse(LlmTasksSelect, {"tasks": tasks})
        return self._backend.call(api.select_tasks, ref, spec)

    def set_baseline(self, ref: str, config: dict[str, dict[str, Any]]) -> LlmExperimentPublic:
        spec = parse(LlmBaselineSet, {"config": config})
        return self._backend.call(api.set_baseline, ref, spec)

    def add_variant(
        self,
        ref: str,
        name: Label,
        *,
        step: Identifier,
        parameter: Parameter | str,
        value: TaskValue,
        parent: Identifier | None = None,
        hypothesis: Text = "",
    ) -> LlmExperimentPublic:
        """A variant changing ``parameter`` of ``step`` to ``value``, from the baseline or
        from the variant ``parent`` (whose overrides it keeps)."""
        spec = parse(LlmVariantCreate, given(locals(), leave=("ref",)))
        return self._backend.call(api.add_variant, ref, spec)

    def run(
        self,
        ref: str,
        variant: str | None = None,
        *,
        runner: TaskFunction | None = None,
        wait: bool = True,
        timeout: float = 3600.0,
        progress: Progress | None = None,
    ) -> LlmExperimentPublic:
        """Run the baseline (``variant`` None) or a variant over every task;
        ``progress(done, total)`` is told as task runs end.

        Raises:
            ValidationError: a ``runner`` given against a server (it calls the webhook).
            Unavailable: ``wait`` and the run did not end within ``timeout`` seconds.
        """
        spec = parse(LlmRunRequest, {"variant": variant})
        started = self._backend.call(api.run, ref, spec, runner=runner, progress=progress)
        if not wait or not started.status.value.startswith("running"):
            return started
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.2)
            found = self.get(ref)
            if progress is not None and found.progress.total:
                progress(found.progress.done, found.progress.total)
            if not found.status.value.startswith("running"):
                return found
        raise Unavailable(f"the run of {ref!r} did not end within {timeout:g} s")

    def complete(
        self, ref: str, winner: str | None = None, *, force: bool = False, reason: str = ""
    ) -> LlmExperimentPublic:
        """Mark the testing done, naming the ``winner`` if you like: ``"baseline"``, or a
        variant significantly better than the baseline (:class:`~ablab.errors.Conflict`
        otherwise, unless ``force`` with a ``reason``, both kept in the audit log)."""
        spec = parse(LlmCompleteRequest, {"winner": winner, "force": force, "reason": reason})
        return self._backend.call(api.complete_experiment, ref, spec)

    def archive(self, ref: str) -> LlmExperimentPublic:
        return self._backend.call(api.archive, ref)

    def results(self, ref: str) -> LlmResults:
        return self._backend.call(api.results, ref)

    def runs(self, ref: str, *, task: str | None = None) -> builtins.list[LlmRunPublic]:
        """Every task run (of ``task`` only, if given) with its output, verdicts and what
        the application reported it spent (``total_tokens``, ``cost_usd``, ...)."""
        return self._backend.call(api.runs, ref, task)
