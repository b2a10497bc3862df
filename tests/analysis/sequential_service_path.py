"""A/A experiments run through the service layer: events in, results out, looked at often.

Shared by the slow simulation tests and by ``python -m tests.analysis.sequential_service_path``,
which prints the false-positive rate of more experiments than a test can afford. Each
experiment compares two identical arms on a custom metric (one ``metric`` event of a
standard normal value per unit, its variant from an ``exposure`` event); after every
``batch`` units per arm every experiment's results are computed, and an experiment counts
as a false positive when any of its looks calls the primary comparison significant. With
``--replay`` the looks are taken every minute through the time series instead
(``sequential_replay``: 5,000 looks per experiment).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ablab.contract.analysis import ComparisonPublic
from ablab.contract.results import ExperimentResults
from ablab.services.analysis.results import experiment_results
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.ports import EventStore
from tests.analysis.aa_experiments import (
    LAUNCH,
    clock_at,
    launch_experiments,
    temporary_stores,
    unit_events,
)
from tests.analysis.sequential_replay import print_progress, run_replay, summary


@dataclass(frozen=True, slots=True)
class ServicePathRun:
    """What every look of every experiment said.

    Attributes:
        experiments: A/A experiments run.
        looks: Looks at each experiment.
        first_significant_look: Per experiment, the first look (1-based) whose primary
            comparison was significant, or 0 when none was.
        contradictions: Looks whose significance flag disagreed with their own interval
            (significant with 0 inside the confidence sequence, or the other way round).
        values: Per experiment, the metric values sent, shape (looks, 2 arms, batch).
        shown: Per experiment and look, the primary comparison as the results showed it.
    """

    experiments: int
    looks: int
    first_significant_look: tuple[int, ...]
    contradictions: int
    values: tuple[np.ndarray, ...] = ()
    shown: tuple[tuple[ComparisonPublic, ...], ...] = ()

    @property
    def false_positives(self) -> int:
        return sum(1 for look in self.first_significant_look if look)

    @property
    def rate(self) -> float:
        return self.false_positives / self.experiments


def _contradicts(results: ExperimentResults) -> bool:
    row = results.comparisons[0]
    low, high = row.confidence_sequence
    if low is None or high is None:
        return False
    return row.significant == (low <= 0.0 <= high)


def run_service_path(
    ctx: Context,
    events: EventStore,
    *,
    experiments: int,
    looks: int,
    batch: int = 100,
    seed: int = 0,
    **settings: Any,
) -> ServicePathRun:
    """Run ``experiments`` A/A tests side by side, ``looks`` looks of ``batch`` units per arm.

    ``settings`` go to ``ExperimentCreate`` (e.g. ``alpha``).
    """
    names = launch_experiments(ctx, experiments, **settings)
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((experiments, looks, 2, batch))
    first = [0] * experiments
    contradictions = 0
    shown: list[list[ComparisonPublic]] = [[] for _ in names]
    for look in range(1, looks + 1):
        now = LAUNCH + timedelta(minutes=look)
        timed = replace(ctx, clock=clock_at(now))
        stream: list[dict[str, Any]] = []
        for index, name in enumerate(names):
            stream += unit_events(name, (look - 1) * 2 * batch, values[index, look - 1], now)
        outcome = ingest_events(timed, events, stream)
        assert not outcome.rejected, outcome.rejected[:3]
        for index, name in enumerate(names):
            results = experiment_results(timed, events, name)
            contradictions += _contradicts(results)
            shown[index].append(results.comparisons[0])
            if results.is_significant and not first[index]:
                first[index] = look
    return ServicePathRun(
        experiments,
        looks,
        tuple(first),
        contradictions,
        values=tuple(values),
        shown=tuple(tuple(rows) for rows in shown),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiments", type=int, default=200)
    parser.add_argument("--looks", type=int, help="looks per experiment (50; 5,000 with --replay)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dump", help="write each experiment's first significant look here")
    parser.add_argument(
        "--replay",
        action="store_true",
        help="look by the minute through the time series (sequential_replay) instead of "
        "computing the results at each look",
    )
    arguments = parser.parse_args()
    looks = arguments.looks or (5_000 if arguments.replay else 50)
    options = {"experiments": arguments.experiments, "looks": looks, "batch": arguments.batch}
    with temporary_stores() as (ctx, events):
        if arguments.replay:
            replayed = run_replay(
                ctx, events, seed=arguments.seed, progress=print_progress, **options
            )
            first = tuple(e.first_significant_look for e in replayed.experiments)
            print(summary(replayed))
        else:
            run = run_service_path(ctx, events, seed=arguments.seed, **options)
            first = run.first_significant_look
            error = math.sqrt(run.rate * (1 - run.rate) / run.experiments)
            print(
                f"A/A through the service path: {run.false_positives}/{run.experiments} "
                f"experiments significant at some look of {run.looks} (every "
                f"{arguments.batch} units per arm): rate {run.rate:.4f} +/- {error:.4f}; "
                f"looks contradicting their interval: {run.contradictions}"
            )
    if arguments.dump:
        Path(arguments.dump).write_text(json.dumps(first), encoding="utf-8")


if __name__ == "__main__":
    main()
