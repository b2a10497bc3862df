"""Benchmark of ablab.assignment: one assignment, and a batch of a million.

Run: ``.venv/bin/python bench/assign.py [--quick] [--repeats N]`` (about 25 s; ``--quick``:
3 repeats).

Figures: medians of 7 repeats (``--repeats``), ours and its anchor alternating so that both
see the same load, the garbage collector off while timing (as ``timeit`` does).

- ``assign_single``: microseconds per ``AssignmentPlan.assign(unit_id)`` over 1,000,000
  distinct string ids, looped in Python; 2 variants 50/50, 100% coverage, no targeting.
  Anchor: GrowthBook's Python SDK in the same run, one ``GrowthBook`` instance reused,
  ``set_attributes({"id": unit_id})`` then ``run(Experiment(key, variations=[0, 1]))`` per id,
  the same 50/50 experiment (GrowthBook needs the attributes set to change the unit).
- ``assign_batch``: ids per second through ``AssignmentPlan.assign_batch`` on 1,000,000 ids.
  Anchor: the bare hash loop our batch path is built on, ``np.fromiter(map(xxh3_64_intdigest,
  map(str.encode, ids), repeat(seed)))``, UTF-8 encoding included (xxhash takes bytes only):
  the floor of our path, so the ratio says how little the rest costs.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from itertools import repeat
from pathlib import Path

import numpy as np
from growthbook import Experiment, GrowthBook
from xxhash import xxh3_64_intdigest

from ablab.assignment import AssignmentPlan, salt_seed

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import at_least, at_most, figure

UNITS = 1_000_000
GROWTHBOOK_UNITS = 200_000
TARGETED_UNITS = 200_000
SALT = "bench-assign"


def timed(run: Callable[[], object]) -> float:
    """Seconds one call of ``run`` takes, with the garbage collector off."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    finally:
        gc.enable()


def median_seconds(repeats: int, *runs: Callable[[], object]) -> list[float]:
    """Median seconds of each run, alternating them so that they share the machine's mood."""
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, times in zip(runs, samples, strict=True):
            times.append(timed(run))
    return [statistics.median(times) for times in samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    parser.add_argument("--repeats", type=int, default=7)
    repeats = 3 if (options := parser.parse_args()).quick else options.repeats
    unit_ids = [f"device-{i:08d}" for i in range(UNITS)]
    plan = AssignmentPlan.from_weights(SALT, [("control", 50), ("treatment", 50)])
    targeted_plan = AssignmentPlan.from_weights(
        SALT,
        [("control", 50), ("treatment", 50)],
        condition={"region": {"$in": ["eu", "us"]}, "app_version": {"$gte": "2.1"}},
    )
    attributes = {"region": "eu", "app_version": "2.10.3"}

    def ours_single() -> None:
        assign = plan.assign
        for unit_id in unit_ids:
            assign(unit_id)

    def ours_targeted() -> None:
        assign = targeted_plan.assign
        for unit_id in unit_ids[:TARGETED_UNITS]:
            assign(unit_id, attributes)

    growthbook = GrowthBook(attributes={"id": unit_ids[0]})
    experiment = Experiment(key=SALT, variations=[0, 1])
    growthbook_ids = unit_ids[:GROWTHBOOK_UNITS]

    def growthbook_single() -> None:
        set_attributes, run = growthbook.set_attributes, growthbook.run
        for unit_id in growthbook_ids:
            set_attributes({"id": unit_id})
            run(experiment)

    seed = salt_seed(SALT)

    def ours_batch() -> None:
        plan.assign_batch(unit_ids)

    def raw_hash_loop() -> None:
        np.fromiter(
            map(xxh3_64_intdigest, map(str.encode, unit_ids), repeat(seed)),
            dtype=np.uint64,
            count=len(unit_ids),
        )

    # Sanity: both sides split about evenly, and single and batch paths agree.
    ours_share = float(np.mean(plan.assign_batch(unit_ids) == 1))
    growthbook_share = float(
        np.mean([_growthbook_variation(growthbook, experiment, u) for u in growthbook_ids[:20_000]])
    )
    assert plan.variant_names_of(plan.assign_batch(unit_ids[:1000])) == [
        plan.assign(unit_id) for unit_id in unit_ids[:1000]
    ]

    single_s, targeted_s, growthbook_s = median_seconds(
        repeats, ours_single, ours_targeted, growthbook_single
    )
    batch_s, raw_s = median_seconds(repeats, ours_batch, raw_hash_loop)
    single_us = single_s / UNITS * 1e6
    targeted_us = targeted_s / TARGETED_UNITS * 1e6
    growthbook_us = growthbook_s / GROWTHBOOK_UNITS * 1e6
    batch_ids_per_s = UNITS / batch_s
    raw_ids_per_s = UNITS / raw_s

    rows = [
        ("assign, 50/50, no targeting", f"{single_us:.3f} us/call", UNITS),
        ("assign, region $in + version $gte", f"{targeted_us:.3f} us/call", TARGETED_UNITS),
        ("growthbook set_attributes + run", f"{growthbook_us:.3f} us/call", GROWTHBOOK_UNITS),
        ("assign_batch", f"{batch_ids_per_s / 1e6:.2f} M ids/s", UNITS),
        ("raw xxh3 fromiter loop (floor)", f"{raw_ids_per_s / 1e6:.2f} M ids/s", UNITS),
        ("growthbook as ids/s", f"{1 / growthbook_us:.3f} M ids/s", GROWTHBOOK_UNITS),
    ]
    print(f"assign: ablab.assignment, medians of {repeats} runs")
    print(f"{'measurement':<36} {'median':>18}  ids")
    for name, value, count in rows:
        print(f"{name:<36} {value:>18}  {count:,}")
    print(f"treatment share: ours {ours_share:.4f}, growthbook {growthbook_share:.4f}")
    figure(
        "assign_single",
        single_us,
        growthbook_us,
        "us",
        anchor_is="GrowthBook's Python SDK, set_attributes + run per id",
        goal=at_most(0.1),
        runs=repeats,
        digits=3,
    )
    figure(
        "assign_batch",
        batch_ids_per_s / 1e6,
        raw_ids_per_s / 1e6,
        "Mids/s",
        anchor_is="the raw xxh3 np.fromiter loop, UTF-8 encoding included",
        goal=at_least(10, "Mids/s"),
        runs=repeats,
    )


def _growthbook_variation(growthbook: GrowthBook, experiment: Experiment, unit_id: str) -> int:
    growthbook.set_attributes({"id": unit_id})
    variation: int = growthbook.run(experiment).value
    return variation


if __name__ == "__main__":
    main()
