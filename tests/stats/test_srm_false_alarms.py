"""SRM false alarms over many weight histories: at or below the 0.001 threshold.

Correct assignment is simulated for 30 histories (2 to 4 arms, 1 to 40 periods of 20 to
2,000 units, weights drawn at random, bandit-like 5% floors among them), 30,000 times
each. The rate of alarms at p < 0.001 must not be significantly above 0.001 (a one-sided
binomial test at 1%). The summed Pearson chi-square the results used before (checked
against scipy.stats.chisquare here) is measured beside it.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.signal import fftconvolve

from ablab.stats import exact_sample_ratio_mismatch, sample_ratio_mismatch_over_periods

THRESHOLD = 0.001
HISTORIES = 30
REPLICATES = 30_000
CHECKED = 12  # replicates per history run through the public function itself

pytestmark = pytest.mark.slow


def history(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, bool]:
    """(units per period, weights per period and arm, whether a bandit) of one experiment."""
    arms = int(rng.integers(2, 5))
    periods = int(rng.choice([1, 3, 10, 40]))
    sizes = np.exp(rng.uniform(np.log(20), np.log(2_000), periods)).astype(np.int64)
    bandit = bool(rng.random() < 0.5)
    if bandit:  # one arm drifts up to 1 - floors, the others down to their 5% floors
        leader = np.linspace(1 / arms, 1 - 0.05 * (arms - 1), periods)
        weights = np.column_stack([leader, *[(1 - leader) / (arms - 1)] * (arms - 1)])
    else:
        weights = rng.dirichlet(np.ones(arms), periods) * 0.8 + 0.2 / arms
    return sizes, weights, bandit


def reference_p_values(sizes: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Two-sided p-value of every possible total of one arm (index = total), from the full
    convolution of scipy's binomial pmfs and scipy.stats.binomtest's rule."""
    pmf = np.ones(1)
    for n, share in zip(sizes, shares, strict=True):
        pmf = np.clip(fftconvolve(pmf, scipy_stats.binom.pmf(np.arange(n + 1), n, share)), 0, None)
    order = np.argsort(pmf, kind="stable")
    cumulative = np.cumsum(pmf[order])
    # p(x) = sum of pmf(y) over pmf(y) <= pmf(x) (1 + 1e-7): the last sorted position within.
    last = np.searchsorted(pmf[order], pmf * (1 + 1e-7), side="right") - 1
    return np.minimum(1.0, cumulative[last])


def summed_chi_square(counts: np.ndarray, sizes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The per-period Pearson statistics summed, and its chi-square p-value, per replicate."""
    expected = sizes[:, None] * weights
    statistic = ((counts - expected) ** 2 / expected).sum(axis=(1, 2))
    return np.asarray(scipy_stats.chi2.sf(statistic, len(sizes) * (weights.shape[1] - 1)))


def test_srm_false_alarms_stay_at_or_below_the_threshold() -> None:
    rng = np.random.default_rng(20_270_215)
    alarms = replicates = 0
    old_alarms = {False: 0, True: 0}
    old_replicates = {False: 0, True: 0}
    for _ in range(HISTORIES):
        sizes, weights, bandit = history(rng)
        arms = weights.shape[1]
        counts = np.stack(
            [rng.multinomial(n, w, size=REPLICATES) for n, w in zip(sizes, weights, strict=True)], 1
        )
        totals = counts.sum(axis=1)
        per_arm = np.column_stack(
            [reference_p_values(sizes, weights[:, k])[totals[:, k]] for k in range(arms)]
        )
        p_values = per_arm[:, 0] if arms == 2 else np.minimum(1.0, arms * per_arm.min(axis=1))
        old = summed_chi_square(counts, sizes, weights)
        for r in rng.choice(REPLICATES, CHECKED, replace=False):
            periods = [
                (counts[r, j].tolist(), (weights[j] * 100).tolist()) for j in range(len(sizes))
            ]
            assert exact_sample_ratio_mismatch(periods).p_value == pytest.approx(
                p_values[r], rel=1e-6, abs=1e-12
            )
            before = sample_ratio_mismatch_over_periods(periods)
            assert before.p_value == pytest.approx(old[r], rel=1e-9)
            chi_square = [
                scipy_stats.chisquare(counts[r, j], sizes[j] * weights[j]).statistic
                for j in range(len(sizes))
            ]
            assert before.statistic == pytest.approx(sum(chi_square), rel=1e-9)
        alarms += int((p_values < THRESHOLD).sum())
        old_alarms[bandit] += int((old < THRESHOLD).sum())
        old_replicates[bandit] += REPLICATES
        replicates += REPLICATES
    rate = alarms / replicates
    check = scipy_stats.binomtest(alarms, replicates, THRESHOLD, alternative="greater")
    low, high = scipy_stats.binomtest(alarms, replicates).proportion_ci(0.99)
    print(
        f"SRM false alarms: exact {rate:.5f} (99% CI {low:.5f}-{high:.5f}), "
        f"summed chi-square {sum(old_alarms.values()) / replicates:.5f} "
        f"(bandits {old_alarms[True] / old_replicates[True]:.5f}, "
        f"others {old_alarms[False] / old_replicates[False]:.5f}), over {replicates} experiments"
    )
    assert check.pvalue > 0.01, (rate, check.pvalue)
    assert high < 2 * THRESHOLD
