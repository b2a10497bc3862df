"""The verdict of a shadow experiment: is the mirrored treatment safe to test live?

In shadow mode (seed 001, step 3) every unit is served the control and each request is
mirrored to the treatment, whose answer nobody sees. The treatment arm therefore never
gathers units of its own, and waiting for them would wait forever: a shadow experiment is
judged on its mirrored pairs instead, in this order:

1. Fewer than ``min_samples`` mirrored predictions (the count the minimum-samples rule uses
   in shadow mode): keep mirroring; after the maximum duration, stop for futility.
2. The shadow fails more often than the served model (the interval of the error-rate
   difference lies above 0): the check fails.
3. Labels show the shadow less accurate (the accuracy difference's interval lies below 0):
   the check fails.
4. The shadow is slower than a latency guardrail allows (served latency plus the lower end
   of the paired latency difference beyond the limit): the check fails.
5. Classifications diverge: the agreement interval lies wholly below ``agreement_floor``
   (seed 001's validation list asks for under 5% prediction divergence) and labels do not
   show the shadow more accurate: the check fails, the disagreements need a look.
6. Otherwise the check passes: the treatment is ready for a live A/B test.

Seed 001's shadow compares predictions "for consistency/debugging before live traffic
split": a passed check is not evidence of an improvement, so it never recommends a promotion
(``SHADOW_PASSED`` keeps the control; a live test or an explicit forced promotion follows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ablab.domain.decisions import Recommendation, RolloutDecision

__all__ = ["DEFAULT_AGREEMENT_FLOOR", "ShadowEvidence", "decide_shadow", "shadow_overall"]

DEFAULT_AGREEMENT_FLOOR = 0.95

Interval = tuple[float, float]
_UNKNOWN: Interval = (math.nan, math.nan)


@dataclass(frozen=True, slots=True)
class ShadowEvidence:
    """One treatment's mirrored answers beside the served ones.

    Differences are shadow minus served. Intervals with NaN bounds are unknown (no data
    for that comparison). ``latency_limit_ms`` is the most the shadow's mean latency may be
    (from a latency guardrail), None without one. ``numeric`` says the answers are numbers,
    for which exact agreement means little (the mean absolute difference is reported).
    """

    variant: str
    pairs: int
    min_samples: int
    agreement: float | None = None
    agreement_ci: Interval = _UNKNOWN
    numeric: bool = False
    error_difference_ci: Interval = _UNKNOWN
    served_error_rate: float | None = None
    shadow_error_rate: float | None = None
    labelled: int = 0
    served_accuracy: float | None = None
    shadow_accuracy: float | None = None
    accuracy_difference_ci: Interval = _UNKNOWN
    served_latency_ms: float | None = None
    latency_difference_ms: float | None = None
    latency_difference_ci: Interval = _UNKNOWN
    latency_limit_ms: float | None = None
    agreement_floor: float = DEFAULT_AGREEMENT_FLOOR
    days_run: float | None = None
    max_duration_days: int | None = None


def decide_shadow(evidence: ShadowEvidence) -> Recommendation:
    """The shadow check of one treatment (rules above), with its reason in plain words.

    Examples:
        >>> few = ShadowEvidence("b", pairs=40, min_samples=100)
        >>> decide_shadow(few).decision.value
        'extend_test'
    """
    name = evidence.variant
    if evidence.pairs < evidence.min_samples:
        shortfall = (
            f"only {evidence.pairs} mirrored predictions of {name}, below the minimum of "
            f"{evidence.min_samples} (in shadow mode the minimum counts mirrored predictions)"
        )
        limit, run = evidence.max_duration_days, evidence.days_run
        if limit is not None and run is not None and run >= limit:
            return Recommendation(
                RolloutDecision.STOP_FOR_FUTILITY,
                f"{shortfall} after {run:.1f} days, the maximum duration of {limit} days: "
                "stop for futility and keep the control",
                name,
            )
        return Recommendation(
            RolloutDecision.EXTEND_TEST, f"{shortfall}: keep mirroring traffic", name
        )
    if _above(evidence.error_difference_ci, 0.0):
        return _failed(
            evidence,
            f"{name} fails more often than the served model "
            f"({_share(evidence.shadow_error_rate)} vs {_share(evidence.served_error_rate)})",
        )
    if _below(evidence.accuracy_difference_ci, 0.0):
        return _failed(
            evidence,
            f"{name} is less accurate than the served model "
            f"({_share(evidence.shadow_accuracy)} vs {_share(evidence.served_accuracy)} on "
            f"{evidence.labelled} labels)",
        )
    if (
        evidence.latency_limit_ms is not None
        and evidence.served_latency_ms is not None
        and evidence.served_latency_ms + evidence.latency_difference_ci[0]
        > evidence.latency_limit_ms
    ):
        return _failed(
            evidence,
            f"{name} is slower than the latency guardrail allows ({_ms(evidence)} vs the "
            f"served model, limit {evidence.latency_limit_ms:g} ms)",
        )
    more_accurate = _above(evidence.accuracy_difference_ci, 0.0)
    if (
        not evidence.numeric
        and _below(evidence.agreement_ci, evidence.agreement_floor)
        and not more_accurate
    ):
        return _failed(
            evidence,
            f"{name} agrees with the served model on only {_agreement(evidence)}, below "
            f"{evidence.agreement_floor:.0%}, and no labels show it more accurate: review "
            "the disagreements before a live test",
        )
    return Recommendation(
        RolloutDecision.SHADOW_PASSED,
        f"{name} passed the shadow check on {evidence.pairs} mirrored predictions: "
        f"{_summary(evidence, more_accurate)}; next, test it live in an A/B experiment",
        name,
    )


def shadow_overall(recommendations: Sequence[Recommendation]) -> Recommendation:
    """One verdict for a shadow experiment from its treatments' checks.

    While any treatment still needs mirrored predictions, keep mirroring; then a futility
    stop if one ran out of time; then the first treatment that passed; otherwise the first
    failure.
    """
    if not recommendations:
        return Recommendation(RolloutDecision.EXTEND_TEST, "no treatment to mirror yet")
    for decision in (
        RolloutDecision.EXTEND_TEST,
        RolloutDecision.STOP_FOR_FUTILITY,
        RolloutDecision.SHADOW_PASSED,
    ):
        for recommendation in recommendations:
            if recommendation.decision is decision:
                return recommendation
    return recommendations[0]


def _failed(evidence: ShadowEvidence, finding: str) -> Recommendation:
    return Recommendation(
        RolloutDecision.SHADOW_FAILED,
        f"{finding}: keep the control and do not take {evidence.variant} live",
        evidence.variant,
    )


def _summary(evidence: ShadowEvidence, more_accurate: bool) -> str:
    parts = []
    if not evidence.numeric and evidence.agreement is not None:
        parts.append(f"agrees on {_agreement(evidence)}")
    if evidence.latency_difference_ms is not None:
        parts.append(f"latency {_ms(evidence)}")
    if evidence.labelled and evidence.shadow_accuracy is not None:
        verdict = "more accurate" if more_accurate else "not less accurate"
        parts.append(
            f"{verdict} ({_share(evidence.shadow_accuracy)} vs "
            f"{_share(evidence.served_accuracy)} on {evidence.labelled} labels)"
        )
    else:
        parts.append("accuracy not measured (no labels that are values)")
    return ", ".join(parts)


def _agreement(evidence: ShadowEvidence) -> str:
    low, high = evidence.agreement_ci
    band = f" [{low:.1%}, {high:.1%}]" if math.isfinite(low) and math.isfinite(high) else ""
    return f"{_share(evidence.agreement)}{band} of answers"


def _ms(evidence: ShadowEvidence) -> str:
    difference = evidence.latency_difference_ms
    if difference is None:
        return "unknown"
    low, high = evidence.latency_difference_ci
    band = f" [{low:+.1f}, {high:+.1f}]" if math.isfinite(low) and math.isfinite(high) else ""
    return f"{difference:+.1f} ms{band}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _above(interval: Interval, bound: float) -> bool:
    return math.isfinite(interval[0]) and interval[0] > bound


def _below(interval: Interval, bound: float) -> bool:
    return math.isfinite(interval[1]) and interval[1] < bound
