"""A shadow treatment's mirrored answers beside the served ones (same prediction ids)."""

from __future__ import annotations

from dataclasses import dataclass

from ablab.domain.decisions import Recommendation
from ablab.domain.results.comparisons import Interval

__all__ = ["ShadowReport", "ShadowValue"]


@dataclass(frozen=True, slots=True)
class ShadowValue:
    value: float | None
    ci: Interval


@dataclass(frozen=True, slots=True)
class ShadowReport:
    """``agreement_rate`` is over pairs where both answered; ``mean_absolute_difference``
    over numeric answers (None for classes); latencies in ms, the difference is shadow
    minus served; accuracy over labels that are values. ``verdict`` is the shadow check of
    this treatment (:func:`ablab.domain.shadow_verdict.decide_shadow`).
    """

    variant: str
    pairs: int
    answered: int
    agreement_rate: ShadowValue
    mean_absolute_difference: ShadowValue | None
    served_latency_ms: float | None
    shadow_latency_ms: float | None
    latency_difference_ms: ShadowValue
    served_error_rate: float | None
    shadow_error_rate: float | None
    labelled: int
    served_accuracy: float | None
    shadow_accuracy: float | None
    verdict: Recommendation | None = None
