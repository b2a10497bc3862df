"""An experiment's results: from stored events to the results and a verdict.

events (store) -> per-unit, then per-variant sums in SQL -> stats -> report -> decision.

- Each metric gets the test of its kind (``metric_tests``), CUPED-adjusted when asked.
- Multiplicity: the primary metric's p-values are Holm-adjusted across treatments (the
  family the decision rests on); the secondary metrics' are Benjamini-Hochberg-adjusted
  together across treatments and metrics (exploratory, so the false discovery rate is
  controlled rather than the family-wise error). Secondary metrics never cost the primary
  decision power. The always-valid p-values are Bonferroni-adjusted in the same families
  instead, each test running at its share of alpha, so that the adjusted p-value and the
  confidence sequence shown beside it always agree (``sequential_looks``).
- Every results computation is a look: the always-valid tests are carried over the looks
  in the metadata store (``sequential_looks.record_looks``).
- SRM judges the units first seen in each allocation period against that period's
  weights, with each arm's exact count distribution (``stats.exact_sample_ratio_mismatch``).
- Guardrails: absolute thresholds, and non-inferiority margins judged by one-sided
  always-valid tests carried over the looks like the comparisons' (``guardrails``).
- Novelty and primacy: the primary metric's lift, day by day from each day's events, is
  tested for a trend (``novelty``); each primary comparison carries the check.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ablab.domain.allocations import AllocationPeriod, AllocationReason
from ablab.domain.experiments import Experiment
from ablab.domain.metrics import BUILTIN_METRICS, TESTED_METRICS, MetricKind
from ablab.domain.results.checks import SrmCheck
from ablab.domain.results.experiment import ExperimentResults
from ablab.domain.results.variants import BanditArm, MetricValue, VariantResults
from ablab.services.analysis.comparisons import (
    Arm,
    comparison_row,
    finite,
    is_significant,
)
from ablab.services.analysis.decision import rule_count, verdict_of, with_unit_counts
from ablab.services.analysis.guardrails import evaluate_guardrails, margin_tests
from ablab.services.analysis.metric_request import AnalysisSetup, Definition, analysis_setup
from ablab.services.analysis.metric_tests import (
    compare_variants,
    metric_sums,
    metric_value,
    variant_sums,
)
from ablab.services.analysis.novelty import novelty_checks, with_novelty
from ablab.services.analysis.segments import segment_breakdown
from ablab.services.analysis.sequential_looks import adjusted_always_valid, record_looks
from ablab.services.analysis.shadow_report import shadow_reports
from ablab.services.analysis.srm_periods import srm_periods
from ablab.services.analysis.successes import successes_and_failures
from ablab.services.context import Context
from ablab.services.experiments.allocation_periods import allocation_periods
from ablab.services.ports import EventStore, VariantSums
from ablab.stats import adjust_p_values, exact_sample_ratio_mismatch
from ablab.stats.multiplicity import MultiplicityMethod
from ablab.stats.priors import DEFAULT_PRIOR, Prior

__all__ = [
    "compared_metrics",
    "experiment_results",
    "variant_results",
    "weight_periods",
]


def experiment_results(
    ctx: Context,
    events: EventStore,
    ref: str,
    *,
    segment: str | None = None,
    prior: Prior | None = None,
) -> ExperimentResults:
    """The results of experiment ``ref`` as of now, broken down by ``segment`` if given.

    ``prior`` is the Bayesian prior of this analysis (``stats.parse_prior``; Jeffreys' Beta
    for proportions and a flat prior on the relative effect when None). It sets the chance
    to win, credible interval and expected losses of every comparison row, which state it.

    Raises:
        NotFound: no such experiment, or a custom metric it names is not defined.
        ValidationError: the experiment has no variants yet, or a malformed segment name.
    """
    segmented = analysis_setup(ctx, ref, segment=segment)
    experiment = segmented.experiment
    periods = weight_periods(ctx, experiment)
    boundaries = tuple(period.started_at for period in periods[1:])
    request = replace(segmented.request, segment=None, period_boundaries=boundaries)
    setup = replace(segmented, request=request)
    per_variant = variant_sums(experiment, events.metric_sums(request))
    chosen = prior or DEFAULT_PRIOR
    compared = compared_metrics(experiment, setup.definitions)
    tests = {
        (t.name, m): compare_variants(
            setup, m, per_variant[experiment.control.name], per_variant[t.name], prior=chosen
        )
        for t in experiment.treatments
        for m in compared
    }
    margins = margin_tests(setup, per_variant)
    looked = record_looks(ctx, experiment, tests | margins)
    tests = {pair: looked[pair] for pair in tests}
    reported = [experiment.primary_metric, *experiment.secondary_metrics]
    pairs = [(t.name, m) for m in reported for t in experiment.treatments]
    fixed, valid, corrections = _adjusted(experiment, pairs, [tests[p].arm for p in pairs])
    significance = {
        pair: is_significant(
            tests[pair].arm, experiment.analysis_method, fixed_adjusted=f, valid_adjusted=v
        )
        for pair, f, v in zip(pairs, fixed, valid, strict=True)
    }
    comparisons = [
        comparison_row(
            t,
            m,
            tests[(t, m)].arm,
            fixed_adjusted=f,
            valid_adjusted=v,
            significant=significance[(t, m)],
            cuped=tests[(t, m)].cuped,
            correction=c,
        )
        for (t, m), f, v, c in zip(pairs, fixed, valid, corrections, strict=True)
    ]
    primary_novelty = novelty_checks(ctx, events, setup)
    comparisons = with_novelty(comparisons, experiment.primary_metric, primary_novelty)
    variants = [variant_results(setup, v.name, per_variant[v.name]) for v in experiment.variants]
    srm = _srm(experiment, periods, per_variant)
    if experiment.shadow:
        # Everyone is served the control in shadow mode: the split does not apply.
        srm = replace(srm, p_value=None, mismatch=False)
    guardrails = evaluate_guardrails(
        experiment, variants, {pair: looked[pair].arm for pair in margins}
    )
    primary = experiment.primary_metric
    definition = setup.definitions[primary]
    shadow = shadow_reports(ctx, events, experiment.id) if experiment.shadow else None
    verdict = verdict_of(
        experiment,
        {t.name: tests[(t.name, primary)].arm for t in experiment.treatments},
        {t.name: significance[(t.name, primary)] for t in experiment.treatments},
        higher_is_better=definition.higher_is_better,
        counts=rule_count(experiment, definition),
        variants=variants,
        srm_mismatch=srm.mismatch,
        guardrails=guardrails,
        shadow=shadow,
        now=ctx.clock(),
    )
    breakdown = None
    if segment is not None:
        breakdown = segment_breakdown(segmented, segment, events.metric_sums(segmented.request))
    return ExperimentResults(
        experiment=experiment,
        primary_metric=primary,
        variants=tuple(variants),
        comparisons=tuple(comparisons),
        srm=srm,
        guardrails=tuple(guardrails),
        is_significant=any(significance[(t.name, primary)] for t in experiment.treatments),
        min_samples_reached=verdict.min_samples_rule.reached,
        recommendation=verdict.recommendation,
        segments=breakdown,
        shadow=tuple(shadow) if shadow is not None else None,
        min_samples_rule=verdict.min_samples_rule,
        duration=verdict.duration,
        decisions=verdict.decisions,
        bandit=_bandit_arms(setup, per_variant) if experiment.bandit else None,
    )


def _bandit_arms(
    setup: AnalysisSetup, per_variant: dict[str, VariantSums]
) -> tuple[BanditArm, ...]:
    """Each arm's Beta posterior from the primary metric (the bandit's own counts)."""
    counts = successes_and_failures(setup, per_variant)
    if counts is None:
        return ()
    return tuple(
        BanditArm(variant=v.name, alpha=counts[v.name][0] + 1.0, beta=counts[v.name][1] + 1.0,
                  weight=v.weight)
        for v in setup.experiment.variants
    )  # fmt: skip


def compared_metrics(experiment: Experiment, definitions: dict[str, Definition]) -> list[str]:
    """The primary and secondary metrics, then the guardrails' metrics that can be tested."""
    names = [experiment.primary_metric, *experiment.secondary_metrics]
    names += [
        g.metric
        for g in experiment.guardrails
        if definitions[g.metric].kind is not MetricKind.QUANTILE
    ]
    return list(dict.fromkeys(names))


def _adjusted(
    experiment: Experiment, pairs: list[tuple[str, str]], arms: list[Arm]
) -> tuple[list[float], list[float], list[str]]:
    """Adjusted fixed and always-valid p-values and the correction of each pair.

    Holm across treatments for the primary metric; Benjamini-Hochberg across treatments
    and metrics for the secondary ones.
    """
    fixed = [math.nan] * len(arms)
    valid = [math.nan] * len(arms)
    corrections = [""] * len(arms)
    primary = [i for i, (_, m) in enumerate(pairs) if m == experiment.primary_metric]
    secondary = [i for i, (_, m) in enumerate(pairs) if m != experiment.primary_metric]
    families: tuple[tuple[list[int], MultiplicityMethod], ...] = (
        (primary, "holm"),
        (secondary, "benjamini_hochberg"),
    )
    for members, method in families:
        if not members:
            continue
        adjusted_fixed = adjust_p_values([arms[i].comparison.p_value for i in members], method)
        adjusted_valid = adjusted_always_valid([arms[i] for i in members])
        for i, f, v in zip(members, adjusted_fixed, adjusted_valid, strict=True):
            fixed[i], valid[i], corrections[i] = f, v, method
    return fixed, valid, corrections


def variant_results(setup: AnalysisSetup, name: str, sums: VariantSums) -> VariantResults:
    experiment = setup.experiment
    metrics: dict[str, MetricValue] = {}
    shown = [*TESTED_METRICS, *(m for m in setup.definitions if m not in BUILTIN_METRICS)]
    for metric in shown:
        definition = setup.definitions.get(metric, BUILTIN_METRICS.get(metric))
        assert definition is not None
        moments = metric_sums(sums, metric)
        value, ci = metric_value(definition, moments, experiment.alpha)
        metrics[metric] = MetricValue(value=value, n=moments.n, ci=ci)
    metrics["latency_p95_ms"] = MetricValue(
        value=finite(sums.latency_p95_ms), n=sums.predictions, ci=(None, None)
    )
    variant = experiment.variant(name)
    row = VariantResults(
        name=name,
        model_version=variant.model_version,
        weight=variant.weight,
        units=sums.seen,
        predictions=sums.predictions,
        metrics=metrics,
    )
    return with_unit_counts(row, setup.definitions.get(experiment.primary_metric), sums)


def weight_periods(ctx: Context, experiment: Experiment) -> list[AllocationPeriod]:
    """The allocation periods since launch, oldest first, from their table.

    The first starts at launch. A split change applies to units not assigned before, so
    each period's weights judge the units first seen in it. A draft (analysed on events
    sent before launch) is judged against its current weights since its creation.
    """
    history = allocation_periods(ctx, experiment)
    if not history:
        weights = {v.name: v.weight for v in experiment.variants}
        history.append(
            AllocationPeriod(
                experiment.id,
                experiment.created_at,
                weights,
                experiment.coverage,
                AllocationReason.LAUNCH,
                actor="",
            )
        )
    return history


def _srm(
    experiment: Experiment,
    periods: list[AllocationPeriod],
    per_variant: dict[str, VariantSums],
) -> SrmCheck:
    names = [v.name for v in experiment.variants]

    def seen_in(period: int, name: str) -> int:
        counts = per_variant[name].units_by_period
        return counts[period] if period < len(counts) else 0

    result = exact_sample_ratio_mismatch(
        [
            ([seen_in(i, n) for n in names], [period.weights.get(n, 0.0) for n in names])
            for i, period in enumerate(periods)
        ]
    )
    return SrmCheck(
        p_value=finite(result.p_value),
        mismatch=result.mismatch,
        observed=dict(zip(names, result.observed, strict=True)),
        expected=dict(zip(names, result.expected, strict=True)),
        threshold=result.threshold,
        # A draft has no allocation history to show, only the weights it would launch with.
        periods=tuple(srm_periods(names, periods, per_variant, threshold=result.threshold))
        if experiment.started_at is not None
        else (),
    )
