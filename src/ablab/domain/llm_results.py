"""What an LLM experiment's runs show: each configuration's pass rate beside the baseline's.

``services.llm.results`` builds these (the statistics are described there); the wire's
``LlmResults`` reads them field by field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ablab.domain.llm_records import LlmExperiment

__all__ = [
    "LlmEvaluatorDelta",
    "LlmMcNemar",
    "LlmProgress",
    "LlmResults",
    "LlmTaskOutcome",
    "LlmVariantResult",
]

Interval = tuple[float | None, float | None]


@dataclass(frozen=True, slots=True)
class LlmProgress:
    """How far the configuration being run has got: ``running`` is baseline, a variant's
    id, or None; ``done`` of ``total`` runs."""

    running: str | None
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class LlmMcNemar:
    """McNemar's score test against the baseline over tasks, with Tango's interval.

    ``p_value`` and ``ci`` are this comparison's alone (at ``confidence``);
    ``adjusted_p_value`` and ``adjusted_ci`` Bonferroni-adjusted over the family (at
    ``adjusted_confidence``); ``significant`` is the adjusted verdict.
    """

    pairs: int
    only_baseline_passed: int
    only_variant_passed: int
    difference: float | None
    ci: Interval
    p_value: float | None
    adjusted_p_value: float | None
    significant: bool
    statistic: float | None = None
    confidence: float | None = None
    adjusted_ci: Interval = (None, None)
    adjusted_confidence: float | None = None
    method: str = "mcnemar_score_tango"


@dataclass(frozen=True, slots=True)
class LlmEvaluatorDelta:
    pass_rate: float | None
    baseline_pass_rate: float | None
    delta: float | None


@dataclass(frozen=True, slots=True)
class LlmTaskOutcome:
    """One task over its trials: ``passed`` in more than half, ``flaky`` when they disagree,
    ``reason`` why the first trial that did not pass did not."""

    task: str
    name: str
    passes: int
    trials: int
    errors: int
    passed: bool
    flaky: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class LlmVariantResult:
    """A configuration's runs (``variant`` is baseline or the variant's id) against the
    baseline: pass rates, task counts, the paired test and each evaluator's rates, and
    what its runs spent (latency, tokens, cost; None when unknown, never 0 in its place)."""

    variant: str
    name: str
    parent_id: str | None
    runs: int
    pending: int
    pass_rate: float | None
    pass_rate_vs_baseline: float | None
    relative_vs_baseline: float | None
    tasks_total: int
    tasks_passed: int
    tasks_failed: int
    errors: int
    flaky_tasks: int
    completed_at: datetime | None
    mcnemar: LlmMcNemar | None
    evaluators: Mapping[str, LlmEvaluatorDelta]
    tasks: Sequence[LlmTaskOutcome]
    latency_mean_ms: float | None = None
    latency_p50_ms: float | None = None
    latency_source: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    token_runs: int = 0
    cost_usd: float | None = None
    cost_runs: int = 0


@dataclass(frozen=True, slots=True)
class LlmResults:
    """The experiment (with the ``progress`` of what runs now) and every configuration's
    results; ``comparisons`` counts the variants in the Bonferroni family."""

    experiment: LlmExperiment
    progress: LlmProgress
    correction: str
    comparisons: int
    alpha: float
    variants: Sequence[LlmVariantResult]
