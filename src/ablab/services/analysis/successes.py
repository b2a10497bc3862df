"""The primary metric as successes and failures per arm: what a Beta posterior counts.

Read by the bandit (Thompson sampling's weights) and by the results (each arm's posterior
beside the bandit's state). Accuracy and error rate count labelled predictions; a custom
proportion counts units; a metric of another kind has no such counts.
"""

from __future__ import annotations

from collections.abc import Mapping

from ablab.domain.metrics import CustomMetric, MetricKind
from ablab.services.analysis.metric_request import AnalysisSetup
from ablab.services.ports import VariantSums

__all__ = ["successes_and_failures"]


def successes_and_failures(
    setup: AnalysisSetup, sums: Mapping[str, VariantSums]
) -> dict[str, tuple[int, int]] | None:
    """Each variant's successes and failures on the primary metric (None: not a
    success/failure metric)."""
    metric = setup.experiment.primary_metric
    definition = setup.definitions[metric]
    counts: dict[str, tuple[int, int]] = {}
    for variant in setup.experiment.variants:
        moments = sums[variant.name].metrics.get(metric)
        if metric in ("accuracy", "error_rate"):
            hits = round(moments.numerator_sum) if moments else 0
            total = round(moments.denominator_sum) if moments else 0
        elif isinstance(definition, CustomMetric) and definition.kind is MetricKind.PROPORTION:
            hits, total = (round(moments.numerator_sum), moments.n) if moments else (0, 0)
        else:
            return None
        if not definition.higher_is_better:
            hits = total - hits  # fewer errors is the success
        counts[variant.name] = (hits, total - hits)
    return counts
