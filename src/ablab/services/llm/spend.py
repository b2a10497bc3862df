"""What a configuration's runs spent: latency, tokens and cost, summed or summarised over
its answered runs.

Latency is known for every answered run: the application's own figure when it reported
one, ablab's measure of the round trip otherwise (``latency_source`` says which were used).
Tokens and cost are known only as reported: a configuration whose application reported
none has None, never 0, and ``token_runs`` / ``cost_runs`` say over how many runs the sums
are, so a partial report is visible as such.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ablab.domain.llm_records import LlmRun, RunState

__all__ = ["Spend", "run_latency", "spend_of"]

_ANSWERED = (RunState.PASSED, RunState.FAILED)


@dataclass(frozen=True, slots=True)
class Spend:
    """A configuration's spend over its answered runs (each None when nothing is known)."""

    latency_mean_ms: float | None = None
    latency_p50_ms: float | None = None
    latency_source: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    token_runs: int = 0
    cost_usd: float | None = None
    cost_runs: int = 0


def run_latency(run: LlmRun) -> float | None:
    """The run's latency as the results use it: the application's own, else ablab's."""
    return run.reported_latency_ms if run.reported_latency_ms is not None else run.latency_ms


def spend_of(runs: Sequence[LlmRun]) -> Spend:
    """The spend of ``runs`` (pending ones and those without an answer are left out of the
    latency; tokens and cost count every run that reported them, a failed one included).

    Examples:
        >>> from datetime import UTC, datetime
        >>> at = datetime(2027, 1, 1, tzinfo=UTC)
        >>> def run(ms, tokens=None, cost=None):
        ...     return LlmRun("t", "p", "e", "baseline", "task", 0, RunState.PASSED, at,
        ...                   latency_ms=ms, total_tokens=tokens, cost_usd=cost)
        >>> found = spend_of([run(100.0, 10, 0.5), run(300.0, 20), run(200.0)])
        >>> found.latency_p50_ms, found.total_tokens, found.token_runs, found.cost_usd
        (200.0, 30, 2, 0.5)
        >>> spend_of([run(100.0)]).cost_usd is None
        True
    """
    answered = [r for r in runs if r.state in _ANSWERED]
    latencies = [ms for ms in (run_latency(r) for r in answered) if ms is not None]
    reported = sum(r.reported_latency_ms is not None for r in answered)
    source = None
    if latencies:
        source = (
            "reported" if reported == len(answered) else "measured" if not reported else "mixed"
        )
    done = [r for r in runs if r.state is not RunState.PENDING]
    with_tokens = [r for r in done if r.total_tokens is not None or r.input_tokens is not None]
    with_cost = [r for r in done if r.cost_usd is not None]
    return Spend(
        latency_mean_ms=statistics.fmean(latencies) if latencies else None,
        latency_p50_ms=statistics.median(latencies) if latencies else None,
        latency_source=source,
        input_tokens=_sum([r.input_tokens for r in with_tokens]),
        output_tokens=_sum([r.output_tokens for r in with_tokens]),
        total_tokens=_sum([r.total_tokens for r in with_tokens]),
        token_runs=len(with_tokens),
        cost_usd=sum(r.cost_usd or 0.0 for r in with_cost) if with_cost else None,
        cost_runs=len(with_cost),
    )


def _sum(values: Sequence[int | None]) -> int | None:
    """The sum when at least one value is known (unknown ones are left out, not zeros)."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None
