"""An experiment's metric over time, cumulatively: what an analysis at each bucket's end saw.

The store returns each bucket's change of the per-variant sums (``TimeBucket``); adding
them in time order gives the sums at the end of each bucket, from which each point is
computed as the results are (no CUPED: the adjustment needs the pre-period of the units
seen so far, and the results report carries it).

Each bucket is a look of the always-valid test under the experiment's design, the one the
results use (``services.analysis.sequential_looks``): the experiment's tuning sample size, the
metric's Bonferroni share of alpha (``family_levels``) and the comparison's alternative.
The looks are replayed in memory, each carrying the previous bucket's state through
``comparisons.sequential_look``, and nothing is recorded: the stored state belongs to the
analyses people actually ran, whose looks fell elsewhere, so a point's figures can differ
from the results' at the same time. At the end of bucket ``b``:

- ``always_valid_p_value`` is ``min(1, m * min_{j <= b} 1 / Lambda_j)``, the running
  minimum family-adjusted as the results adjust it (``adjusted_always_valid``; ``m`` the
  size of the metric's family, ``level = alpha / m``);
- ``confidence_sequence`` is the running intersection over the buckets of the difference's
  intervals ``{theta : Lambda_j(theta) < 1 / level}`` (Johari et al. 2022), divided by the
  control's value at the end of ``b`` (a negative value swaps the bounds). The interval of
  the difference is valid at every bucket at once; on the relative scale the control's
  value is a plug-in. Dividing keeps 0 where it was, so the p-value is below alpha exactly
  when the band excludes 0; a band whose bounds cross is empty (every difference was
  rejected at some bucket) and the point is significant. With no control value (0, or
  nothing seen yet) the band is null.

References:
    Johari, R., Pekelis, L., Walsh, D. J. (2022). Always valid inference: continuous
    monitoring of A/B tests. Operations Research 70(3), 1806-1821 (the always-valid p-value
    ``min(p_{n-1}, 1 / Lambda_n)`` and the confidence sequence as running values).
"""

from __future__ import annotations

import math
from dataclasses import fields, replace
from datetime import datetime, timedelta
from itertools import groupby

from ablab.domain.experiments import Experiment
from ablab.domain.metrics import MetricKind
from ablab.domain.results.timeseries import ExperimentTimeseries, LiftPoint, VariantPoint
from ablab.domain.sequential import DEFAULT_TUNING_UNITS, SequentialDesign, SequentialState
from ablab.errors import ValidationError
from ablab.services.analysis.comparisons import (
    adjusted_always_valid,
    finite,
    interval,
    sequential_look,
)
from ablab.services.analysis.metric_request import analysis_setup
from ablab.services.analysis.metric_tests import MetricTest, compare_metric, metric_value
from ablab.services.analysis.sequential_looks import family_levels, state_after
from ablab.services.context import Context
from ablab.services.ports import EventStore, TimeBucket
from ablab.stats import RatioCovariateMoments, RatioMoments, Status

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
    totals = {v.name: RatioMoments.empty() for v in experiment.variants}
    states: dict[str, SequentialState | None] = dict.fromkeys(
        (t.name for t in experiment.treatments), None
    )
    level = family_levels(experiment).get(name, experiment.alpha)
    variants: list[VariantPoint] = []
    lifts: list[LiftPoint] = []
    for start, group in groupby(sorted(changes, key=_start), key=_start):
        at = start + step
        for bucket in group:
            if bucket.variant in totals:
                totals[bucket.variant] = _after(totals[bucket.variant], bucket)
        sums = {variant: _without_covariate(total) for variant, total in totals.items()}
        for variant, moments in sums.items():
            value, ci = metric_value(definition, moments, experiment.alpha)
            variants.append(
                VariantPoint(at=at, variant=variant, units=moments.n, value=value, ci=ci)
            )
        control = sums[experiment.control.name]
        for treatment in experiment.treatments:
            test = compare_metric(
                definition,
                control,
                sums[treatment.name],
                alpha=experiment.alpha,
                mde=experiment.mde,
                cuped=False,
                covariate_label="",
            )
            point, states[treatment.name] = _lift_point(
                experiment,
                name,
                treatment.name,
                test,
                level=level,
                previous=states[treatment.name],
                at=at,
            )
            lifts.append(point)
    return ExperimentTimeseries(
        experiment=experiment.name,
        metric=name,
        interval=interval_name,
        variants=tuple(variants),
        lifts=tuple(lifts),
    )


def _start(bucket: TimeBucket) -> datetime:
    return bucket.start


def _after(total: RatioMoments, bucket: TimeBucket) -> RatioMoments:
    """A variant's sums at the end of ``bucket``: those before it plus its change.

    The change is not itself a set of sums over units (units seen before change their
    totals without adding to ``n``, and a square's change can be negative), so it is added
    field by field rather than as moments.
    """
    y, yy, x, xx, xy = bucket.change
    return RatioMoments(
        n=total.n + bucket.new_units,
        numerator_sum=total.numerator_sum + y,
        numerator_sum_sq=total.numerator_sum_sq + yy,
        denominator_sum=total.denominator_sum + x,
        denominator_sum_sq=total.denominator_sum_sq + xx,
        numerator_denominator_sum=total.numerator_denominator_sum + xy,
    )


def _without_covariate(sums: RatioMoments) -> RatioCovariateMoments:
    """``sums`` as the tests take them, each field by name; the covariate's sums stay at
    those of no units (the identity of ``+``)."""
    named = {field.name: getattr(sums, field.name) for field in fields(sums)}
    return replace(RatioCovariateMoments.empty(), **named)


def _lift_point(
    experiment: Experiment,
    metric: str,
    treatment: str,
    test: MetricTest,
    *,
    level: float,
    previous: SequentialState | None,
    at: datetime,
) -> tuple[LiftPoint, SequentialState | None]:
    """One treatment's point at the end of a bucket, and the state the next bucket carries.

    A bucket with nothing to test (an empty arm, no variance) keeps the state as it was,
    as a recorded look would (``sequential_looks.record_looks``).
    """
    comparison = test.arm.comparison
    design = SequentialDesign(
        tuning_units=experiment.sequential_tuning_units or DEFAULT_TUNING_UNITS,
        level=level,
        alternative=comparison.alternative,
    )
    result = sequential_look(comparison, design, previous)
    state = previous
    if result.status is Status.OK:
        state = state_after((experiment.id, metric, treatment), design, result, previous, at)
    looks = state.looks if state is not None and state.design == design else 0
    arm = replace(test.arm, sequential=result, design=design, looks=looks)
    (p_value,) = adjusted_always_valid([arm])
    point = LiftPoint(
        at=at,
        variant=treatment,
        relative_lift=finite(comparison.relative_lift),
        relative_ci=interval(comparison.relative_ci),
        confidence_sequence=_relative(result.confidence_sequence, comparison.control_value),
        always_valid_p_value=finite(p_value),
    )
    return point, state


def _relative(
    bounds: tuple[float, float], control_value: float
) -> tuple[float | None, float | None]:
    """The difference's bounds divided by the control's value, in order.

    A negative control value swaps them; they are never sorted, so a crossed (empty)
    intersection stays crossed and 0 stays outside it. Infinite bounds (one-sided) are null.
    """
    low, high = bounds
    if math.isnan(low) or math.isnan(high) or not math.isfinite(control_value):
        return (None, None)
    if control_value == 0.0:
        return (None, None)
    first, second = low / control_value, high / control_value
    if control_value < 0.0:
        first, second = second, first
    return (finite(first), finite(second))
