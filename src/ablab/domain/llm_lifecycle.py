"""The lifecycle of an LLM configuration experiment (seed 002's statuses).

Lifecycle (every other move raises InvalidTransition naming the allowed actions)::

    draft             ──select_tasks────────▶ baseline_pending
    baseline_pending  ──select_tasks────────▶ baseline_pending   (choose the tasks again)
    baseline_pending  ──start_baseline──────▶ running_baseline
    running_baseline  ──baseline_succeeded──▶ baseline_complete
    running_baseline  ──baseline_failed─────▶ baseline_failed
    baseline_failed   ──start_baseline──────▶ running_baseline   (the retry)
    baseline_complete ──start_variant───────▶ running_variant
    idle              ──start_variant───────▶ running_variant
    running_variant   ──variant_finished────▶ idle
    baseline_complete ──complete────────────▶ completed
    idle              ──complete────────────▶ completed
    any but archived  ──archive─────────────▶ archived

The task set and the steps in scope may change only in ``draft`` and ``baseline_pending``:
once the baseline has started, every variant must run under the same conditions.
"""

from __future__ import annotations

from enum import StrEnum

from ablab.domain.transitions import allowed_in, follow

__all__ = ["LlmAction", "LlmStatus", "allowed_actions", "next_status", "scope_locked"]


class LlmStatus(StrEnum):
    DRAFT = "draft"  # naming the experiment, choosing steps and tasks
    BASELINE_PENDING = "baseline_pending"  # tasks chosen; baseline to configure and run
    RUNNING_BASELINE = "running_baseline"
    BASELINE_COMPLETE = "baseline_complete"  # results in; variants may run
    BASELINE_FAILED = "baseline_failed"  # review the tasks and configuration, then retry
    RUNNING_VARIANT = "running_variant"
    IDLE = "idle"  # waiting for the next variant
    COMPLETED = "completed"  # testing done; pick a winner
    ARCHIVED = "archived"


class LlmAction(StrEnum):
    SELECT_TASKS = "select_tasks"
    START_BASELINE = "start_baseline"  # also the retry of a failed baseline
    BASELINE_SUCCEEDED = "baseline_succeeded"
    BASELINE_FAILED = "baseline_failed"
    START_VARIANT = "start_variant"
    VARIANT_FINISHED = "variant_finished"  # whatever its tasks' outcome
    COMPLETE = "complete"
    ARCHIVE = "archive"


_S, _A = LlmStatus, LlmAction
_TRANSITIONS: dict[tuple[LlmStatus, LlmAction], LlmStatus] = {
    (_S.DRAFT, _A.SELECT_TASKS): _S.BASELINE_PENDING,
    (_S.BASELINE_PENDING, _A.SELECT_TASKS): _S.BASELINE_PENDING,
    (_S.BASELINE_PENDING, _A.START_BASELINE): _S.RUNNING_BASELINE,
    (_S.BASELINE_FAILED, _A.START_BASELINE): _S.RUNNING_BASELINE,
    (_S.RUNNING_BASELINE, _A.BASELINE_SUCCEEDED): _S.BASELINE_COMPLETE,
    (_S.RUNNING_BASELINE, _A.BASELINE_FAILED): _S.BASELINE_FAILED,
    (_S.BASELINE_COMPLETE, _A.START_VARIANT): _S.RUNNING_VARIANT,
    (_S.IDLE, _A.START_VARIANT): _S.RUNNING_VARIANT,
    (_S.RUNNING_VARIANT, _A.VARIANT_FINISHED): _S.IDLE,
    (_S.BASELINE_COMPLETE, _A.COMPLETE): _S.COMPLETED,
    (_S.IDLE, _A.COMPLETE): _S.COMPLETED,
    # Not while a run goes on: its end would find the experiment gone from under it.
    **{
        (status, _A.ARCHIVE): _S.ARCHIVED
        for status in LlmStatus
        if status not in (_S.ARCHIVED, _S.RUNNING_BASELINE, _S.RUNNING_VARIANT)
    },
}

# Before the baseline starts nothing has run, so the tasks and steps may still change.
_SCOPE_OPEN = frozenset({LlmStatus.DRAFT, LlmStatus.BASELINE_PENDING})


def allowed_actions(status: LlmStatus) -> tuple[LlmAction, ...]:
    """The actions that ``status`` allows, in declaration order.

    Examples:
        >>> [a.value for a in allowed_actions(LlmStatus.IDLE)]
        ['start_variant', 'complete', 'archive']
    """
    return allowed_in(_TRANSITIONS, status, LlmAction)


def next_status(status: LlmStatus, action: LlmAction) -> LlmStatus:
    """The status that ``action`` leads to from ``status``.

    Raises:
        InvalidTransition: the action is not allowed from ``status``.

    Examples:
        >>> next_status(LlmStatus.BASELINE_FAILED, LlmAction.START_BASELINE).value
        'running_baseline'
        >>> next_status(LlmStatus.DRAFT, LlmAction.START_VARIANT)
        Traceback (most recent call last):
        ...
        ablab.errors.InvalidTransition: cannot start_variant an LLM experiment that is draft (...)
    """
    return follow(_TRANSITIONS, status, action, "an LLM experiment")


def scope_locked(status: LlmStatus) -> bool:
    """Whether the task set and the steps in scope are fixed (the baseline has started).

    Examples:
        >>> scope_locked(LlmStatus.BASELINE_PENDING), scope_locked(LlmStatus.BASELINE_FAILED)
        (False, True)
    """
    return status not in _SCOPE_OPEN
