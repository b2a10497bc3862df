"""Benchmark: analysing (variant, metric) comparisons from sufficient statistics.

One comparison is what one row of the results needs: the fixed-horizon test with its
absolute and relative intervals, the mSPRT always-valid p-value and confidence sequence,
and the probability to beat control. Half the comparisons are proportions (z test +
Beta-Binomial), half are means (Welch + normal posterior), with 1,000 to 1,000,000 units per
arm. Each timing builds the Moments from raw sums, as the results service will.

The anchor, measured in the same run on the same summary statistics, is
``scipy.stats.ttest_ind_from_stats`` (Welch), which computes only the fixed-horizon
t statistic and p-value.

The figures are medians of ``--runs`` runs (5; 3 with ``--quick``), ours and the anchor
alternating so that drift hits both alike, on 2,000 comparisons (1,000 of each kind). The
mixed figure is the mean of the two kinds' (the mix is half of each), so it costs no
timing of its own.

Run: ``.venv/bin/python bench/stats.py [--quick] [--runs N]`` (about 30 s on a quiet
machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.stats import ttest_ind_from_stats

from ablab.stats import (
    Moments,
    bayesian_from_comparison,
    bayesian_proportions,
    msprt,
    two_proportion_z_test,
    welch_t_test,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import at_most, figure

COMPARISONS = 2_000
GOAL_MICROSECONDS = 50.0
MIXING_VARIANCE_PROPORTIONS = 0.005**2
MIXING_VARIANCE_MEANS = 0.5**2

Sums = tuple[int, float, float]


def make_proportions(rng: np.random.Generator, count: int) -> list[tuple[Sums, Sums]]:
    units = np.exp(rng.uniform(np.log(1_000), np.log(1_000_000), size=(count, 2))).astype(int)
    rates = rng.uniform(0.01, 0.5, size=count)
    lifts = rng.normal(1.0, 0.05, size=count)
    successes_control = rng.binomial(units[:, 0], rates)
    successes_treatment = rng.binomial(units[:, 1], np.clip(rates * lifts, 0.0, 1.0))
    return [
        ((int(n_c), float(x_c), float(x_c)), (int(n_t), float(x_t), float(x_t)))
        for n_c, n_t, x_c, x_t in zip(
            units[:, 0], units[:, 1], successes_control, successes_treatment, strict=True
        )
    ]


def make_means(rng: np.random.Generator, count: int) -> list[tuple[Sums, Sums]]:
    units = np.exp(rng.uniform(np.log(1_000), np.log(1_000_000), size=(count, 2))).astype(int)
    means = rng.uniform(10.0, 200.0, size=(count, 2))
    deviations = rng.uniform(1.0, 50.0, size=(count, 2))
    sums = means * units
    sums_sq = (deviations**2 * (units - 1) + sums**2 / units).astype(float)
    return [
        (
            (int(units[i, 0]), float(sums[i, 0]), float(sums_sq[i, 0])),
            (int(units[i, 1]), float(sums[i, 1]), float(sums_sq[i, 1])),
        )
        for i in range(count)
    ]


def analyse_proportions(rows: list[tuple[Sums, Sums]]) -> None:
    for control_sums, treatment_sums in rows:
        control, treatment = Moments(*control_sums), Moments(*treatment_sums)
        fixed = two_proportion_z_test(control, treatment)
        msprt(fixed, mixing_variance=MIXING_VARIANCE_PROPORTIONS)
        bayesian_proportions(control, treatment)


def analyse_means(rows: list[tuple[Sums, Sums]]) -> None:
    for control_sums, treatment_sums in rows:
        fixed = welch_t_test(Moments(*control_sums), Moments(*treatment_sums))
        msprt(fixed, mixing_variance=MIXING_VARIANCE_MEANS)
        bayesian_from_comparison(fixed)


def fixed_only(rows: list[tuple[Sums, Sums]], test: Callable[[Moments, Moments], object]) -> None:
    for control_sums, treatment_sums in rows:
        test(Moments(*control_sums), Moments(*treatment_sums))


def anchor(rows: list[tuple[Sums, Sums]]) -> None:
    # The same summary statistics as scipy wants them: mean, standard deviation, count.
    for (n_c, sum_c, sum_sq_c), (n_t, sum_t, sum_sq_t) in rows:
        mean_c, mean_t = sum_c / n_c, sum_t / n_t
        sd_c = ((sum_sq_c - sum_c * mean_c) / (n_c - 1)) ** 0.5
        sd_t = ((sum_sq_t - sum_t * mean_t) / (n_t - 1)) ** 0.5
        ttest_ind_from_stats(mean_t, sd_t, n_t, mean_c, sd_c, n_c, equal_var=False)


def per_comparison_microseconds(
    work: Callable[[list[tuple[Sums, Sums]]], None], rows: list[tuple[Sums, Sums]]
) -> float:
    start = time.perf_counter()
    work(rows)
    return (time.perf_counter() - start) / len(rows) * 1e6


def paired_medians(
    work: Callable[[list[tuple[Sums, Sums]]], None], rows: list[tuple[Sums, Sums]], runs: int
) -> tuple[float, float]:
    """Median of ours and of the anchor, run alternately so that drift hits both alike."""
    ours, reference = [], []
    for _ in range(runs):
        ours.append(per_comparison_microseconds(work, rows))
        reference.append(per_comparison_microseconds(anchor, rows))
    return statistics.median(ours), statistics.median(reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs")
    parser.add_argument("--runs", type=int, default=5)
    runs = 3 if (options := parser.parse_args()).quick else options.runs
    rng = np.random.default_rng(20261122)
    proportions = make_proportions(rng, COMPARISONS // 2)
    means = make_means(rng, COMPARISONS // 2)
    breakdown = [
        (
            "  z test + lift intervals only",
            lambda rows: fixed_only(rows, two_proportion_z_test),
            proportions,
        ),
        ("  Welch + lift intervals only", lambda rows: fixed_only(rows, welch_t_test), means),
    ]
    print(
        f"stats: {COMPARISONS:,} comparisons ({len(proportions):,} proportions, {len(means):,} "
        f"means), medians of {runs} runs alternating with the anchor, microseconds per comparison"
    )
    print(f"{'figure':<34}{'ours':>10}{'anchor':>10}{'ratio':>8}")
    results = [
        ("stats_comparison_proportions", *paired_medians(analyse_proportions, proportions, runs)),
        ("stats_comparison_means", *paired_medians(analyse_means, means, runs)),
    ]
    # Half the mix is of each kind, so its time per comparison is the mean of theirs.
    results.insert(
        0,
        (
            "stats_comparison",
            (results[0][1] + results[1][1]) / 2,
            (results[0][2] + results[1][2]) / 2,
        ),
    )
    for name, ours, reference in results:
        print(f"{name:<34}{ours:>10.1f}{reference:>10.1f}{ours / reference:>8.3f}")
    for name, work, rows in breakdown:
        alone = statistics.median(per_comparison_microseconds(work, rows) for _ in range(runs))
        print(f"{name:<34}{alone:>10.1f}")
    for name, ours, reference in results:
        figure(
            name,
            ours,
            reference,
            "us",
            anchor_is="scipy ttest_ind_from_stats on the same sums",
            goal=at_most(GOAL_MICROSECONDS, "us"),
            runs=runs,
            digits=1,
        )


if __name__ == "__main__":
    main()
