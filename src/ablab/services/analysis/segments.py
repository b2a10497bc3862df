"""The primary metric by a unit attribute, with Benjamini-Hochberg across segments.

Looking at many segments finds differences by chance, so the p-values of every (segment,
treatment) pair are adjusted together for the false discovery rate (Benjamini and Hochberg
1995). The largest segments by units are shown; the rest are merged into ``(other)``, and
units whose first exposure carried no such attribute form ``(none)``. Sums are additive, so
merging segments adds their sums.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import reduce

from ablab.domain.results.segments import (
    SegmentBreakdown,
    SegmentComparison,
    SegmentResult,
    SegmentVariant,
)
from ablab.services.analysis.comparisons import finite, interval
from ablab.services.analysis.metric_request import AnalysisSetup
from ablab.services.analysis.metric_tests import (
    MetricTest,
    compare_variants,
    metric_sums,
    metric_value,
)
from ablab.services.ports import VariantSums
from ablab.stats import RatioCovariateMoments, adjust_p_values

__all__ = ["MAX_SEGMENTS", "OTHER", "segment_breakdown"]

MAX_SEGMENTS = 20
OTHER = "(other)"


def _merge(sums: Sequence[VariantSums], segment: str) -> VariantSums:
    names = {name for s in sums for name in s.metrics}
    metrics = {
        name: reduce(
            lambda a, b: a + b,
            (s.metrics.get(name, RatioCovariateMoments.empty()) for s in sums),
            RatioCovariateMoments.empty(),
        )
        for name in names
    }
    return VariantSums(
        sums[0].variant,
        segment,
        sum(s.units for s in sums),
        sum(s.predictions for s in sums),
        None,  # a quantile does not merge
        metrics,
    )


def _grouped(
    setup: AnalysisSetup, found: Sequence[VariantSums]
) -> dict[str, dict[str, VariantSums]]:
    """Sums by segment then variant, the smaller segments merged into (other)."""
    metric = setup.experiment.primary_metric
    by_segment: dict[str, dict[str, VariantSums]] = defaultdict(dict)
    for sums in found:
        by_segment[sums.segment or "(none)"][sums.variant] = sums
    sizes = {
        segment: sum(metric_sums(s, metric).n for s in variants.values())
        for segment, variants in by_segment.items()
    }
    kept = sorted(sizes, key=lambda segment: (-sizes[segment], segment))[:MAX_SEGMENTS]
    rest = [segment for segment in sizes if segment not in kept]
    grouped = {segment: by_segment[segment] for segment in kept}
    if rest:
        merged: dict[str, list[VariantSums]] = defaultdict(list)
        for segment in rest:
            for variant, sums in by_segment[segment].items():
                merged[variant].append(sums)
        grouped[OTHER] = {variant: _merge(sums, OTHER) for variant, sums in merged.items()}
    return grouped


def segment_breakdown(
    setup: AnalysisSetup, attribute: str, found: Sequence[VariantSums]
) -> SegmentBreakdown:
    """The primary metric per segment and variant, and each treatment against the control."""
    experiment = setup.experiment
    metric = experiment.primary_metric
    definition = setup.definitions[metric]
    control = experiment.control.name
    rows: list[tuple[str, list[SegmentVariant], list[tuple[str, MetricTest]]]] = []
    tests: list[MetricTest] = []
    for segment, variants in _grouped(setup, found).items():
        empty = VariantSums(control, segment, 0, 0, None, {})
        shown = []
        for variant in experiment.variants:
            moments = metric_sums(variants.get(variant.name, empty), metric)
            value, _ = metric_value(definition, moments, experiment.alpha)
            shown.append(SegmentVariant(name=variant.name, units=moments.n, value=value))
        pairs = []
        for treatment in experiment.treatments:
            test = compare_variants(
                setup,
                metric,
                variants.get(control, empty),
                variants.get(treatment.name, empty),
            )
            tests.append(test)
            pairs.append((treatment.name, test))
        rows.append((segment, shown, pairs))
    adjusted = iter(
        adjust_p_values([t.arm.comparison.p_value for t in tests], "benjamini_hochberg")
    )
    segments = []
    for segment, shown, pairs in rows:
        comparisons = []
        for treatment_name, test in pairs:
            comparison = test.arm.comparison
            p_adjusted = next(adjusted)
            comparisons.append(
                SegmentComparison(
                    variant=treatment_name,
                    relative_lift=finite(comparison.relative_lift),
                    relative_ci=interval(comparison.relative_ci),
                    p_value=finite(comparison.p_value),
                    adjusted_p_value=finite(p_adjusted),
                    significant=comparison.status == "ok" and p_adjusted < experiment.alpha,
                )
            )
        segments.append(
            SegmentResult(value=segment, variants=tuple(shown), comparisons=tuple(comparisons))
        )
    return SegmentBreakdown(
        attribute=attribute,
        metric=metric,
        correction="benjamini_hochberg",
        segments=tuple(segments),
    )
