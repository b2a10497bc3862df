"""An experiment's metric over time, cumulatively: what an analysis at each minute, hour or day saw.

The store returns each bucket's change of the per-variant sums (``TimeBucket``); adding
them in time order gives the sums at the end of each bucket, from which each point is
computed as the results are. The lift's band is the mSPRT confidence sequence, valid at
every point at once (Johari et al. 2017), so a chart of it can be watched as it grows.
Points use no CUPED: the adjustment needs the pre-period of the units seen so far, and the
results report carries it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta

from ablab.contract.timeseries import ExperimentTimeseries, LiftPoint, VariantPoint
from ablab.domain.metrics import MetricKind
from ablab.errors import ValidationError
from ablab.services.comparisons import finite, interval
from ablab.services.context import Context
from ablab.services.metric_request import analysis_setup
from ablab.services.metric_tests import compare_metric, metric_value
from ablab.services.ports import EventStore
from ablab.stats import RatioCovariateMoments

__all__ = ["INTERVALS", "experiment_timeseries"]

INTERVALS = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


def experiment_timeseries(
    ctx: Context,
    events: EventStore,
    ref: str,
    *,
    metric: str | None = None,
    interval_name: str = "day",
) -> ExperimentTimeseries:
    """Units, the metric per variant and each treatment's lift at the end of every bucket.

    Raises:
        NotFound: no such experiment.
        ValidationError: an interval other than minute, hour or day, or a metric the experiment
            does not compare.
    """
    if interval_name not in INTERVALS:
        raise ValidationError(
            f"interval must be minute, hour or day, got {interval_name!r}",
            details={"interval": interval_name},
        )
    setup = analysis_setup(ctx, ref)
    experiment = setup.experiment
    name = metric or experiment.primary_metric
    definition = setup.definitions.get(name)
    if definition is None or definition.kind is MetricKind.QUANTILE:
        compared = [experiment.primary_metric, *experiment.secondary_metrics]
        raise ValidationError(
            f"experiment {experiment.name!r} does not compare {name!r}: "
            f"choose one of {', '.join(compared)}",
            details={"metric": name, "metrics": compared},
        )
    step = INTERVALS[interval_name]
    changes = events.metric_timeseries(setup.request, name, interval_name)
    by_time: dict[datetime, dict[str, tuple[int, tuple[float, ...]]]] = defaultdict(dict)
    for bucket in changes:
        by_time[bucket.start][bucket.variant] = (bucket.new_units, bucket.change)
    running = {v.name: [0.0] * 6 for v in experiment.variants}
    variants: list[VariantPoint] = []
    lifts: list[LiftPoint] = []
    smallest_p = {t.name: 1.0 for t in experiment.treatments}
    for start in sorted(by_time):
        at = start + step
        for variant, (new_units, change) in by_time[start].items():
            if variant in running:
                totals = running[variant]
                for i, amount in enumerate((float(new_units), *change)):
                    totals[i] += amount
        sums = {
            variant: RatioCovariateMoments(int(t[0]), *t[1:], *([0.0] * 9))
            for variant, t in running.items()
        }
        for variant, moments in sums.items():
            value, ci = metric_value(definition, moments, experiment.alpha)
            variants.append(
                VariantPoint(at=at, variant=variant, units=moments.n, value=value, ci=ci)
            )
        control = sums[experiment.control.name]
        for treatment in experiment.treatments:
            arm = compare_metric(
                definition,
                control,
                sums[treatment.name],
                alpha=experiment.alpha,
                mde=experiment.mde,
                cuped=False,
                covariate_label="",
            ).arm
            comparison = arm.comparison
            p = arm.sequential.always_valid_p_value
            if comparison.status == "ok" and not math.isnan(p):
                # The running minimum over the looks is what stays valid.
                smallest_p[treatment.name] = min(smallest_p[treatment.name], p)
            low, high = arm.sequential.confidence_sequence
            base = comparison.control_value
            band: tuple[float | None, float | None] = (None, None)
            if base and comparison.status == "ok":
                # A negative control value flips the bounds of the ratio.
                first, second = sorted((low / base, high / base))
                band = (finite(first), finite(second))
            lifts.append(
                LiftPoint(
                    at=at,
                    variant=treatment.name,
                    relative_lift=finite(comparison.relative_lift),
                    relative_ci=interval(comparison.relative_ci),
                    confidence_sequence=band,
                    always_valid_p_value=(
                        smallest_p[treatment.name] if comparison.status == "ok" else None
                    ),
                )
            )
    return ExperimentTimeseries(
        experiment=experiment.name,
        metric=name,
        interval=interval_name,
        variants=variants,
        lifts=lifts,
    )
