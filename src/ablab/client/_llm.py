"""``client.llm``: LLM configuration experiments from Python (seed 002).

Against a server, runs go through the experiment's webhook in the server's background and
:meth:`Llm.run` waits for them; with the embedded store they run here, through the webhook
or through a Python callable given as ``runner`` (``fn(task_input, config) -> output``).
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ablab.contract.base import parse
from ablab.contract.llm import (
    LlmBaselineSet,
    LlmCompleteRequest,
    LlmExperimentCreate,
    LlmExperimentPublic,
    LlmResults,
    LlmRunRequest,
    LlmTaskCreate,
    LlmTaskPublic,
    LlmTasksSelect,
    LlmVariantCreate,
)
from ablab.domain.llm import LlmAction
from ablab.errors import Unavailable, ValidationError

if TYPE_CHECKING:
    from ablab.client._http import HttpBackend

__all__ = ["HttpLlm", "Llm", "LlmBackend"]

TaskFunction = Callable[[Any, Mapping[str, Mapping[str, Any]]], Any]
Progress = Callable[[int, int], None]


class LlmBackend(Protocol):
    def create_task(self, spec: LlmTaskCreate) -> LlmTaskPublic: ...
    def list_tasks(self) -> list[LlmTaskPublic]: ...
    def create(self, spec: LlmExperimentCreate) -> LlmExperimentPublic: ...
    def get(self, ref: str) -> LlmExperimentPublic: ...
    def list(self) -> list[LlmExperimentPublic]: ...
    def select_tasks(self, ref: str, spec: LlmTasksSelect) -> LlmExperimentPublic: ...
    def set_baseline(self, ref: str, spec: LlmBaselineSet) -> LlmExperimentPublic: ...
    def add_variant(self, ref: str, spec: LlmVariantCreate) -> LlmExperimentPublic: ...
    def run(
        self,
        ref: str,
        variant: str | None,
        runner: TaskFunction | None,
        progress: Progress | None = None,
    ) -> LlmExperimentPublic:
        """Start the run (a server) or run it to the end (the embedded store)."""
        ...

    def act(self, ref: str, action: LlmAction) -> LlmExperimentPublic: ...
    def complete(self, ref: str, spec: LlmCompleteRequest) -> LlmExperimentPublic: ...
    def results(self, ref: str) -> LlmResults: ...


class HttpLlm:
    """``/v1/llm`` of an ablab server."""

    def __init__(self, remote: HttpBackend) -> None:
        self._remote = remote

    def create_task(self, spec: LlmTaskCreate) -> LlmTaskPublic:
        return self._remote._one(LlmTaskPublic, "POST", "/v1/llm/tasks", json=_json(spec))

    def list_tasks(self) -> builtins.list[LlmTaskPublic]:
        return self._remote._many(LlmTaskPublic, "GET", "/v1/llm/tasks")

    def create(self, spec: LlmExperimentCreate) -> LlmExperimentPublic:
        return self._remote._one(
            LlmExperimentPublic, "POST", "/v1/llm/experiments", json=_json(spec)
        )

    def get(self, ref: str) -> LlmExperimentPublic:
        return self._remote._one(LlmExperimentPublic, "GET", f"/v1/llm/experiments/{ref}")

    def list(self) -> builtins.list[LlmExperimentPublic]:
        return self._remote._many(LlmExperimentPublic, "GET", "/v1/llm/experiments")

    def select_tasks(self, ref: str, spec: LlmTasksSelect) -> LlmExperimentPublic:
        return self._put(f"/v1/llm/experiments/{ref}/tasks", spec)

    def set_baseline(self, ref: str, spec: LlmBaselineSet) -> LlmExperimentPublic:
        return self._put(f"/v1/llm/experiments/{ref}/baseline", spec)

    def add_variant(self, ref: str, spec: LlmVariantCreate) -> LlmExperimentPublic:
        return self._remote._one(
            LlmExperimentPublic, "POST", f"/v1/llm/experiments/{ref}/variants", json=_json(spec)
        )

    def run(
        self,
        ref: str,
        variant: str | None,
        runner: TaskFunction | None,
        progress: Progress | None = None,
    ) -> LlmExperimentPublic:
        del progress  # the server runs it; Llm.run reports progress as it polls
        if runner is not None:
            raise ValidationError(
                "a Python runner runs with the embedded store; a server calls the "
                "experiment's webhook_url"
            )
        body = _json(LlmRunRequest(variant=variant))
        return self._remote._one(
            LlmExperimentPublic, "POST", f"/v1/llm/experiments/{ref}/run", json=body
        )

    def act(self, ref: str, action: LlmAction) -> LlmExperimentPublic:
        return self._remote._one(
            LlmExperimentPublic, "POST", f"/v1/llm/experiments/{ref}/{action.value}"
        )

    def complete(self, ref: str, spec: LlmCompleteRequest) -> LlmExperimentPublic:
        return self._remote._one(
            LlmExperimentPublic, "POST", f"/v1/llm/experiments/{ref}/complete", json=_json(spec)
        )

    def results(self, ref: str) -> LlmResults:
        return self._remote._one(LlmResults, "GET", f"/v1/llm/experiments/{ref}/results")

    def _put(self, path: str, spec: Any) -> LlmExperimentPublic:
        return self._remote._one(LlmExperimentPublic, "PUT", path, json=_json(spec))


def _json(spec: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = spec.model_dump(mode="json")
    return dumped


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

    def __init__(self, backend: LlmBackend) -> None:
        self._backend = backend

    def create_task(
        self,
        name: str,
        *,
        input: Any,
        expected_output: Any = None,
        evaluators: builtins.list[dict[str, Any]],
    ) -> LlmTaskPublic:
        spec = {"name": name, "input": input, "expected_output": expected_output}
        return self._backend.create_task(parse(LlmTaskCreate, spec | {"evaluators": evaluators}))

    def tasks(self) -> builtins.list[LlmTaskPublic]:
        return self._backend.list_tasks()

    def create(
        self, name: str, *, steps: builtins.list[str], **options: Any
    ) -> LlmExperimentPublic:
        """An experiment over ``steps``; ``options``: description, tasks, baseline, trials,
        concurrency, webhook_url, webhook_secret."""
        return self._backend.create(
            parse(LlmExperimentCreate, {"name": name, "steps": steps, **options})
        )

    def get(self, ref: str) -> LlmExperimentPublic:
        return self._backend.get(ref)

    def list(self) -> builtins.list[LlmExperimentPublic]:
        return self._backend.list()

    def select_tasks(self, ref: str, tasks: builtins.list[str]) -> LlmExperimentPublic:
        return self._backend.select_tasks(ref, parse(LlmTasksSelect, {"tasks": tasks}))

    def set_baseline(self, ref: str, config: dict[str, dict[str, Any]]) -> LlmExperimentPublic:
        return self._backend.set_baseline(ref, parse(LlmBaselineSet, {"config": config}))

    def add_variant(
        self,
        ref: str,
        name: str,
        *,
        step: str,
        parameter: str,
        value: Any,
        parent: str | None = None,
        hypothesis: str = "",
    ) -> LlmExperimentPublic:
        """A variant changing ``parameter`` of ``step`` to ``value``, from the baseline or
        from the variant ``parent`` (whose overrides it keeps)."""
        spec = {"name": name, "step": step, "parameter": parameter, "value": value}
        spec |= {"parent": parent, "hypothesis": hypothesis}
        return self._backend.add_variant(ref, parse(LlmVariantCreate, spec))

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
            Unavailable: ``wait`` and the run did not end within ``timeout`` seconds.
        """
        started = self._backend.run(ref, variant, runner, progress)
        if not wait or not started.status.value.startswith("running"):
            return started
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.2)
            found = self._backend.get(ref)
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
        spec = LlmCompleteRequest(winner=winner, force=force, reason=reason)
        return self._backend.complete(ref, spec)

    def archive(self, ref: str) -> LlmExperimentPublic:
        return self._backend.act(ref, LlmAction.ARCHIVE)

    def results(self, ref: str) -> LlmResults:
        return self._backend.results(ref)
