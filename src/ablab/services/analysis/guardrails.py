"""Each treatment against each guardrail: pass, fail or inconclusive, and whether to stop.

- An absolute guardrail (``error_rate<=0.01``) judges the treatment's own interval of the
  metric (the point estimate for p95 latency, which has none).
- A relative guardrail (``latency_ms<=+10%``) is a non-inferiority margin against the
  control. With ``k = 1 + threshold`` (1.1 here) it is the contrast
  ``d = treatment - k * control``, whose null is 0 whatever the control's value, so the
  margin is fixed before the data (no plug-in of the control's mean). Two one-sided mSPRTs
  of ``d``, each at the experiment's alpha and carried over the looks like every
  always-valid test (``sequential_looks``, under the keys of :func:`margin_key`):

  * *harm* (``d > 0`` for ``<=``, ``d < 0`` for ``>=``): ``fail`` once its confidence
    sequence excludes 0 on the harmful side;
  * *safe*, the non-inferiority test (the other side): ``pass`` once its confidence
    sequence excludes 0 on the safe side.

  A one-sided test spends all of alpha on the side that matters, so a breach is found
  sooner than by the two-sided interval's alpha / 2, and watching the guardrail on every
  analysis and in the background monitor does not inflate false alarms (Johari et al.
  2022). ``k * control`` is tested by scaling the control's per-unit sums
  (``Moments.scaled``, ``RatioMoments.scaled_numerator``), which gives the delta method's
  ``se**2 = se_t**2 + k**2 se_c**2``. p95 latency, without an interval, compares point
  estimates.

A guardrail is ``violated`` only on a confident breach once the treatment has
``min_samples`` units, so one early failed prediction cannot stop an experiment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ablab.domain.experiments import Experiment
from ablab.domain.guardrails import Bound, Guardrail
from ablab.domain.metrics import MetricKind
from ablab.domain.results.checks import GuardrailResult, GuardrailState, describe
from ablab.domain.results.variants import VariantResults
from ablab.services.analysis.comparisons import Arm, evaluate, finite
from ablab.services.analysis.metric_request import AnalysisSetup, Definition
from ablab.services.analysis.metric_tests import MetricTest, is_ratio, metric_sums
from ablab.services.ports import VariantSums
from ablab.stats import (
    Alternative,
    ComparisonResult,
    Moments,
    RatioCovariateMoments,
    SequentialResult,
    Status,
    ratio_test,
    welch_t_test,
)

__all__ = [
    "broken_guardrails",
    "evaluate_guardrails",
    "margin_key",
    "margin_tests",
]

HARM, SAFE = "harm", "safe"


def margin_key(guardrail: Guardrail, side: str) -> str:
    """The name a relative guardrail's one-sided test is kept under: ``latency_ms<=+10%:harm``."""
    return f"{guardrail}:{side}"


def _sides(guardrail: Guardrail) -> tuple[tuple[str, Alternative], tuple[str, Alternative]]:
    """(harm, its alternative), (safe, its alternative) for ``d = treatment - k * control``."""
    if guardrail.bound is Bound.AT_MOST:
        return (HARM, "greater"), (SAFE, "less")
    return (HARM, "less"), (SAFE, "greater")


def _margin_comparison(
    definition: Definition,
    control: RatioCovariateMoments,
    treatment: RatioCovariateMoments,
    factor: float,
    *,
    alpha: float,
    alternative: Alternative,
) -> ComparisonResult:
    """``treatment - factor * control`` against 0: the delta method for a ratio, else Welch.

    A proportion gets Welch's unpooled variance too: scaled 0/1 values are no longer
    Bernoulli, and the pooled z test's variance assumes equal proportions.
    """
    if is_ratio(definition):
        return ratio_test(
            control.metric.scaled_numerator(factor),
            treatment.metric,
            alpha=alpha,
            alternative=alternative,
        )
    scaled = Moments(control.n, control.numerator_sum, control.numerator_sum_sq).scaled(factor)
    values = Moments(treatment.n, treatment.numerator_sum, treatment.numerator_sum_sq)
    return welch_t_test(scaled, values, alpha=alpha, alternative=alternative)


def margin_tests(
    setup: AnalysisSetup,
    per_variant: Mapping[str, VariantSums],
    treatments: Iterable[str] | None = None,
) -> dict[tuple[str, str], MetricTest]:
    """This look's harm and safe tests of every relative guardrail, by (treatment, key).

    ``treatments`` defaults to the experiment's. Guardrails on a quantile (no interval)
    get no test; the caller carries the tests over the looks (``record_looks``).
    """
    experiment = setup.experiment
    names = [t.name for t in experiment.treatments] if treatments is None else list(treatments)
    control = per_variant[experiment.control.name]
    tests: dict[tuple[str, str], MetricTest] = {}
    for guardrail in experiment.guardrails:
        definition = setup.definitions.get(guardrail.metric)
        if not guardrail.relative or definition is None or definition.kind is MetricKind.QUANTILE:
            continue
        for name in names:
            for side, alternative in _sides(guardrail):
                comparison = _margin_comparison(
                    definition,
                    metric_sums(control, guardrail.metric),
                    metric_sums(per_variant[name], guardrail.metric),
                    1.0 + guardrail.threshold,
                    alpha=experiment.alpha,
                    alternative=alternative,
                )
                tests[(name, margin_key(guardrail, side))] = MetricTest(evaluate(comparison), None)
    return tests


def _state(bound: Bound, low: float | None, high: float | None, limit: float) -> GuardrailState:
    """``fail`` when [low, high] lies wholly beyond ``limit``, ``pass`` when wholly within."""
    if low is None or high is None:
        return GuardrailState.INCONCLUSIVE
    if bound is Bound.AT_MOST:
        if low > limit:
            return GuardrailState.FAIL
        return GuardrailState.PASS if high <= limit else GuardrailState.INCONCLUSIVE
    if high < limit:
        return GuardrailState.FAIL
    return GuardrailState.PASS if low >= limit else GuardrailState.INCONCLUSIVE


def _excludes_zero(result: SequentialResult) -> bool:
    """Whether the running one-sided confidence sequence has left 0 behind (NaN: not yet)."""
    low, high = result.confidence_sequence
    return low > 0.0 or high < 0.0


def _tested(arm: Arm | None) -> bool:
    return arm is not None and (arm.sequential.status == Status.OK or arm.looks > 0)


def _judge(
    guardrail: Guardrail,
    treatment: VariantResults,
    control: VariantResults,
    margins: Mapping[str, Arm],
) -> tuple[float | None, float | None, float | None, GuardrailState]:
    """(limit, value, control value, state) of one treatment; ``margins`` by side."""
    measured = treatment.metrics.get(guardrail.metric)
    baseline = control.metrics.get(guardrail.metric)
    value = measured.value if measured is not None else None
    control_value = baseline.value if baseline is not None else None
    limit = guardrail.limit(control_value)
    if measured is None or value is None or limit is None:
        return limit, value, control_value, GuardrailState.NO_DATA
    harm, safe = margins.get(HARM), margins.get(SAFE)
    if guardrail.relative and harm is not None and safe is not None and _tested(harm):
        # Safety first: a confident breach outranks the non-inferiority test.
        if _excludes_zero(harm.sequential):
            return limit, value, control_value, GuardrailState.FAIL
        state = (
            GuardrailState.PASS if _excludes_zero(safe.sequential) else GuardrailState.INCONCLUSIVE
        )
        return limit, value, control_value, state
    # An absolute bound, a quantile, or nothing to test yet (no variance in either arm).
    low, high = measured.ci
    if low is None or high is None:
        low = high = value
    return limit, value, control_value, _state(guardrail.bound, low, high, limit)


def evaluate_guardrails(
    experiment: Experiment,
    variants: list[VariantResults],
    margins: Mapping[tuple[str, str], Arm],
) -> list[GuardrailResult]:
    """Every guardrail for every treatment.

    ``margins`` holds the relative guardrails' tests carried over the looks, by
    (treatment, :func:`margin_key`) as :func:`margin_tests` names them.
    """
    by_name = {v.name: v for v in variants}
    control = by_name[experiment.control.name]
    results = []
    for guardrail in experiment.guardrails:
        for variant in experiment.treatments:
            treatment = by_name[variant.name]
            sides = {
                side: arm
                for side in (HARM, SAFE)
                if (arm := margins.get((variant.name, margin_key(guardrail, side)))) is not None
            }
            limit, value, control_value, state = _judge(guardrail, treatment, control, sides)
            results.append(
                GuardrailResult(
                    metric=guardrail.metric,
                    variant=variant.name,
                    bound=guardrail.bound,
                    threshold=guardrail.threshold,
                    relative=guardrail.relative,
                    limit=finite(limit),
                    value=value,
                    control_value=control_value,
                    state=state,
                    violated=state is GuardrailState.FAIL
                    and treatment.units >= experiment.min_samples,
                )
            )
    return results


def broken_guardrails(guardrails: Iterable[GuardrailResult], variant: str) -> tuple[str, ...]:
    """One line per guardrail ``variant`` breaks, for the recommendation's reason."""
    return tuple(
        f"{describe(g)} (observed {g.value:.4g})"
        for g in guardrails
        if g.violated and g.variant == variant and g.value is not None
    )
