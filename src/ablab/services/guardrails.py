"""Each treatment against each guardrail: pass, fail or inconclusive, and whether to stop.

- An absolute guardrail (``error_rate<=0.01``) judges the treatment's own interval of the
  metric (the point estimate for p95 latency, which has none).
- A relative guardrail (``latency_ms<=+10%``) is a non-inferiority margin against the
  control: it judges the always-valid confidence sequence of the difference against the
  margin ``control * threshold``, so checking it on every analysis and in the background
  monitor does not inflate false alarms (Johari et al. 2017). p95 latency, without an
  interval, compares point estimates.

A guardrail is ``violated`` only on a confident breach (the whole interval beyond the
bound) once the treatment has ``min_samples`` units, so one early failed prediction cannot
stop an experiment.
"""

from __future__ import annotations

from collections.abc import Mapping

from ablab.contract.results import GuardrailResult, VariantResults
from ablab.domain.experiments import Experiment
from ablab.domain.guardrails import Bound, Guardrail
from ablab.services.comparisons import Arm, finite

__all__ = ["broken_guardrails", "describe", "evaluate_guardrails"]


def _state(bound: Bound, low: float | None, high: float | None, limit: float) -> str:
    """``fail`` when [low, high] lies wholly beyond ``limit``, ``pass`` when wholly within."""
    if low is None or high is None:
        return "inconclusive"
    if bound is Bound.AT_MOST:
        return "fail" if low > limit else "pass" if high <= limit else "inconclusive"
    return "fail" if high < limit else "pass" if low >= limit else "inconclusive"


def _judge(
    guardrail: Guardrail,
    treatment: VariantResults,
    control: VariantResults,
    arm: Arm | None,
) -> tuple[float | None, float | None, float | None, str]:
    """(limit, value, control value, state) of one treatment."""
    measured = treatment.metrics.get(guardrail.metric)
    baseline = control.metrics.get(guardrail.metric)
    value = measured.value if measured is not None else None
    control_value = baseline.value if baseline is not None else None
    limit = guardrail.limit(control_value)
    if measured is None or value is None or limit is None:
        return limit, value, control_value, "no_data"
    if not guardrail.relative or arm is None or arm.comparison.status != "ok":
        low, high = measured.ci
        if low is None or high is None:
            low = high = value
        return limit, value, control_value, _state(guardrail.bound, low, high, limit)
    assert control_value is not None
    margin = control_value * guardrail.threshold
    low, high = arm.sequential.confidence_sequence
    state = _state(guardrail.bound, finite(low), finite(high), margin)
    return limit, value, control_value, state


def evaluate_guardrails(
    experiment: Experiment,
    variants: list[VariantResults],
    arms: Mapping[tuple[str, str], Arm],
) -> list[GuardrailResult]:
    """Every guardrail for every treatment; ``arms`` holds (treatment, metric) comparisons."""
    by_name = {v.name: v for v in variants}
    control = by_name[experiment.control.name]
    results = []
    for guardrail in experiment.guardrails:
        for variant in experiment.treatments:
            treatment = by_name[variant.name]
            limit, value, control_value, state = _judge(
                guardrail, treatment, control, arms.get((variant.name, guardrail.metric))
            )
            results.append(
                GuardrailResult(
                    metric=guardrail.metric,
                    variant=variant.name,
                    bound=guardrail.bound.value,
                    threshold=guardrail.threshold,
                    relative=guardrail.relative,
                    limit=finite(limit),
                    value=value,
                    control_value=control_value,
                    state=state,
                    violated=state == "fail" and treatment.units >= experiment.min_samples,
                )
            )
    return results


def broken_guardrails(guardrails: list[GuardrailResult], variant: str) -> tuple[str, ...]:
    """One line per guardrail ``variant`` breaks, for the recommendation's reason."""
    return tuple(
        f"{describe(g)} (observed {g.value:.4g})"
        for g in guardrails
        if g.violated and g.variant == variant and g.value is not None
    )


def describe(guardrail: GuardrailResult) -> str:
    """``error_rate<=0.01`` or ``latency_ms<=+10% of control``."""
    if guardrail.relative:
        return f"{guardrail.metric}{guardrail.bound}{guardrail.threshold * 100:+g}% of control"
    return f"{guardrail.metric}{guardrail.bound}{guardrail.threshold:g}"
