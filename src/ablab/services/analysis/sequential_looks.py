"""Each results computation is a look: carry every always-valid test over the looks taken.

``GET /results``, ``ablab experiment results``, the console and the guard's and monitor's
checks all go through :func:`record_looks`. For every (treatment, metric) compared it

1. fixes the design: the experiment's tuning sample size (``DEFAULT_TUNING_UNITS`` for
   experiments created before it was stored), the comparison's alternative, and the
   level, which is the experiment's alpha divided among the comparison's family
   (Bonferroni: the treatments for the primary metric, treatments times metrics for the
   secondary ones; a metric compared only for a guardrail keeps the whole alpha);
2. in one transaction, locks the stored state of every pair, takes this look (the
   minimum of the stored p-value and this look's, the intersection of the stored interval
   and this look's) and writes it back. Two servers looking at once queue on the row
   locks, so neither loses the other's look.

Why Bonferroni: the confidence sequence is kept as a running intersection at one level,
fixed before the data. Holm and Benjamini-Hochberg adjust each p-value by a multiplier
that depends on the other p-values, so no interval of a fixed level agrees with them at
every look; Bonferroni's ``m * p < alpha`` is exactly ``p < alpha / m``, the level the
interval is kept at. The always-valid p-value shown is ``min(1, m * p)``.

A look whose comparison has nothing to test (an empty arm, no variance) leaves the state
as it was and is not counted. A stored state of another design is replaced by the first
look of the new one (``domain.sequential``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from ablab.domain.experiments import Experiment
from ablab.domain.sequential import DEFAULT_TUNING_UNITS, SequentialDesign, SequentialState
from ablab.services.analysis.comparisons import Arm, adjusted_always_valid, sequential_look
from ablab.services.analysis.metric_tests import MetricTest
from ablab.services.context import Context
from ablab.stats import SequentialResult, Status

__all__ = ["adjusted_always_valid", "family_levels", "record_looks", "state_after"]


def family_levels(experiment: Experiment) -> dict[str, float]:
    """The level of each compared metric's sequential tests: alpha over its family's size."""
    alpha, treatments = experiment.alpha, max(len(experiment.treatments), 1)
    levels = {g.metric: alpha for g in experiment.guardrails}
    secondary = max(len(experiment.secondary_metrics), 1) * treatments
    levels |= dict.fromkeys(experiment.secondary_metrics, alpha / secondary)
    levels[experiment.primary_metric] = alpha / treatments
    return levels


def state_after(
    key: tuple[str, str, str],
    design: SequentialDesign,
    result: SequentialResult,
    previous: SequentialState | None,
    now: datetime,
) -> SequentialState:
    """The state after a look that tested something (``key``: experiment, metric, variant)."""
    looks = previous.looks if previous is not None and previous.design == design else 0
    low, high = result.confidence_sequence
    return SequentialState(
        experiment_id=key[0],
        metric=key[1],
        variant=key[2],
        design=design,
        looks=looks + 1,
        always_valid_p_value=result.always_valid_p_value,
        lower=low if math.isfinite(low) else None,
        upper=high if math.isfinite(high) else None,
        mixing_variance=result.mixing_variance,
        updated_at=now,
    )


def record_looks(
    ctx: Context, experiment: Experiment, tests: Mapping[tuple[str, str], MetricTest]
) -> dict[tuple[str, str], MetricTest]:
    """Take one look at every (treatment, metric) of ``tests`` and return them carried.

    Each returned test's arm holds the running always-valid result (the p-value is the
    raw one, at the arm's Bonferroni level: see :func:`adjusted_always_valid`), its
    design and the number of looks counted.
    """
    if not tests:
        return {}
    tuning = experiment.sequential_tuning_units or DEFAULT_TUNING_UNITS
    levels = family_levels(experiment)
    now = ctx.clock()
    carried: dict[tuple[str, str], MetricTest] = {}
    with ctx.store.session() as session:
        stored = session.lock_sequential_states(
            experiment.id, [(metric, variant) for variant, metric in tests]
        )
        for (variant, metric), test in tests.items():
            comparison = test.arm.comparison
            design = SequentialDesign(
                tuning_units=tuning,
                level=levels.get(metric, experiment.alpha),
                alternative=comparison.alternative,
            )
            previous = stored.get((metric, variant))
            result = sequential_look(comparison, design, previous)
            if result.status is Status.OK:
                key = (experiment.id, metric, variant)
                state = state_after(key, design, result, previous, now)
                session.save_sequential_state(state)
                looks = state.looks
            elif previous is not None and previous.design == design:
                looks = previous.looks
            else:
                looks = 0
            arm: Arm = replace(test.arm, sequential=result, design=design, looks=looks)
            carried[(variant, metric)] = replace(test, arm=arm)
    return carried
