"""What ablab keeps of LLM configuration experiments: tasks, experiments and task runs.

The configuration rules (parameters, the variant tree, the lifecycle) are in
:mod:`ablab.domain.llm`; this module holds the records built on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ablab.domain.llm import LlmStatus, LlmVariant

__all__ = ["BASELINE", "LlmExperiment", "LlmRun", "LlmTask", "RunState"]

# The variant id of the baseline's runs (variants have ids of their own: ``llv_...``).
BASELINE = "baseline"


@dataclass(frozen=True, slots=True)
class LlmTask:
    """A test case: an input, what is expected (optional), and how to judge an output."""

    id: str
    project_id: str
    name: str
    input: Any
    created_at: datetime
    expected_output: Any = None
    evaluators: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class LlmExperiment:
    """A baseline configuration and its variant tree, over a fixed set of tasks.

    Attributes:
        steps: The inference steps in scope, by ``external_id``.
        task_ids: The task set (fixed once the baseline has started).
        baseline: The baseline's configuration, ``{step: {parameter: value}}``.
        trials: How many times each task runs per variant (flakiness needs more than one).
        webhook_url: The user's application, called once per task run (None: runs are given
            by an in-process callable of the Python client).
        webhook_secret: The HMAC key of the webhook's signatures (never shown back).
        running: The variant being run now (``baseline`` or a variant id), if any.
        run_owner: The process running it (a server instance, or a local client's run),
            which holds its lease.
        lease_expires_at: Until when the owner's lease holds; the owner renews it while
            it runs, and once it has expired anyone may end the run (its owner died).
            Both are None when nothing runs, and written only through the store's lease
            methods, never with the rest of the record.
    """

    id: str
    project_id: str
    name: str
    status: LlmStatus
    created_at: datetime
    updated_at: datetime
    description: str = ""
    steps: tuple[str, ...] = ()
    task_ids: tuple[str, ...] = ()
    baseline: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    variants: tuple[LlmVariant, ...] = ()
    trials: int = 1
    concurrency: int = 8
    webhook_url: str | None = None
    webhook_secret: str | None = None
    running: str | None = None
    revision: int = 1
    run_owner: str | None = None
    lease_expires_at: datetime | None = None

    def variant(self, ref: str) -> LlmVariant | None:
        """The variant with this id or name."""
        return next((v for v in self.variants if ref in (v.id, v.name)), None)

    @property
    def variants_by_id(self) -> dict[str, LlmVariant]:
        return {v.id: v for v in self.variants}


class RunState(StrEnum):
    PENDING = "pending"  # sent (or about to be), no answer yet
    PASSED = "passed"
    FAILED = "failed"  # answered, and an evaluator said no
    ERROR = "error"  # no usable answer: refused, timed out, or an error reply


@dataclass(frozen=True, slots=True)
class LlmRun:
    """One task run by one configuration (one trial of it)."""

    test_id: str
    project_id: str
    experiment_id: str
    variant_id: str
    task_id: str
    trial: int
    state: RunState
    created_at: datetime
    output: Any = None
    error: str | None = None
    verdicts: tuple[Mapping[str, Any], ...] = ()
    latency_ms: float | None = None
    attempts: int = 0
    completed_at: datetime | None = None
