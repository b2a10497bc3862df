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

from ablab.domain.limits import MAX_TEXT_LENGTH
from ablab.domain.llm import LlmStatus, LlmVariant

__all__ = [
    "BASELINE",
    "LlmExperiment",
    "LlmRun",
    "LlmTask",
    "RunState",
    "bounded_reason",
    "failure_reason",
]

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
        winner: The configuration named the winner when the experiment was completed
            (``baseline`` or a variant's id); None until then, or when none was named.
        winner_forced: Whether the winner was named without the evidence the rule asks
            for (a variant not significantly better than the baseline), on purpose.
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
    winner: str | None = None
    winner_forced: bool = False

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
    """One task run by one configuration (one trial of it).

    ``latency_ms`` is ablab's measure of the run (sending it to its answer); the rest of
    the last group is what the application reported it spent, each None when it did not
    (never 0 in its place): its own ``reported_latency_ms``, tokens and ``cost_usd``.
    """

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
    reported_latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None


_CLIPPED = " [...]"


def bounded_reason(text: str) -> str:
    """``text`` as ablab stores a reason it did not write (an application's error, an
    evaluator's detail): at most ``MAX_TEXT_LENGTH`` characters, clipped with a marker, and
    NUL replaced (PostgreSQL cannot store it), so no answer can make a run's record
    unwritable or unbounded.

    Examples:
        >>> bounded_reason("timed out")
        'timed out'
        >>> len(bounded_reason("x" * 10_000)) == MAX_TEXT_LENGTH
        True
        >>> bounded_reason("bad\\x00byte") == "bad\\ufffdbyte"
        True
    """
    cleaned = text.replace("\x00", "\ufffd")
    if len(cleaned) <= MAX_TEXT_LENGTH:
        return cleaned
    return cleaned[: MAX_TEXT_LENGTH - len(_CLIPPED)] + _CLIPPED


def failure_reason(run: LlmRun) -> str | None:
    """Why ``run`` did not pass, in one line: the error of a run that got no usable answer,
    or each failing evaluator's verdict (``name: detail``) of one that was judged and
    failed; None for a run that passed or is pending.

    Examples:
        >>> from datetime import UTC, datetime
        >>> run = LlmRun("t", "p", "e", "baseline", "task", 0, RunState.FAILED,
        ...     datetime(2027, 1, 1, tzinfo=UTC),
        ...     verdicts=({"evaluator": "exact_match", "passed": False,
        ...                "detail": "expected '4', got '5'"},))
        >>> failure_reason(run)
        "exact_match: expected '4', got '5'"
    """
    if run.state is RunState.ERROR:
        return bounded_reason(run.error or "no usable answer")
    if run.state is not RunState.FAILED:
        return None
    failing = [
        f"{verdict['evaluator']}: {verdict.get('detail') or 'failed'}"
        for verdict in run.verdicts
        if not verdict.get("passed")
    ]
    return bounded_reason("; ".join(failing) or "an evaluator failed it")
