"""The novelty check over simulated experiments: false alarms on a constant lift at or
below alpha, and its power on a decaying one.

Each simulated experiment runs 14 days with 3,000 units per arm; every unit keeps its own
conversion rate (Beta(2, 18), mean 10%) for the whole experiment and comes back on a
given day with probability 0.4, so a day's lift shares units with every other day's, as
in a real experiment. Each day's lift is the difference of that day's conversion rates,
with its unpooled standard error.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from ablab.stats import TrendPattern, lift_trend

DAYS = 14
UNITS = 3_000
ACTIVE = 0.4
ALPHA = 0.05

pytestmark = pytest.mark.slow


def daily_points(
    rng: np.random.Generator, relative_lift: np.ndarray, units: int = UNITS
) -> tuple[list[float], list[float], list[float]]:
    """(day, lift, standard error) of each day of one simulated experiment: the difference
    of the day's conversion rates and its unpooled (Wald) standard error."""
    rates = rng.beta(2, 18, size=(2, units))
    active = rng.random((2, units, DAYS)) < ACTIVE
    multiplier = np.stack([np.ones(DAYS), 1 + relative_lift])
    chance = np.clip(rates[:, :, None] * multiplier[:, None, :], 0, 1)
    converted = (rng.random((2, units, DAYS)) < chance) & active
    users = active.sum(axis=1)
    share = converted.sum(axis=1) / users
    lifts = share[1] - share[0]
    errors = np.sqrt((share * (1 - share) / users).sum(axis=0))
    return (np.arange(DAYS) + 0.5).tolist(), lifts.tolist(), errors.tolist()


def test_false_alarms_on_a_constant_lift_stay_at_or_below_alpha() -> None:
    rng = np.random.default_rng(2027_0215)
    replicates = 4_000
    constant = np.full(DAYS, 0.05)  # +5% every day: no trend
    alarms = sum(
        lift_trend(*daily_points(rng, constant), alpha=ALPHA).significant for _ in range(replicates)
    )
    rate = alarms / replicates
    low, high = scipy_stats.binomtest(alarms, replicates).proportion_ci(0.99)
    print(f"novelty false alarms: {rate:.4f} (99% CI {low:.4f}-{high:.4f}) at alpha {ALPHA}")
    above = scipy_stats.binomtest(alarms, replicates, ALPHA, alternative="greater")
    assert above.pvalue > 0.01, (rate, above.pvalue)


def test_power_on_a_decaying_lift() -> None:
    """+20% on day one fading towards +5% (a four-day time constant; +5.6% on day 14), with
    20,000 units per arm (about 8,000 active a day)."""
    rng = np.random.default_rng(2027_0216)
    replicates = 400
    decaying = 0.05 + 0.15 * np.exp(-np.arange(DAYS) / 4)
    found = [
        lift_trend(*daily_points(rng, decaying, units=20_000), alpha=ALPHA)
        for _ in range(replicates)
    ]
    power = sum(t.pattern is TrendPattern.NOVELTY for t in found) / replicates
    primacy = sum(t.pattern is TrendPattern.PRIMACY for t in found) / replicates
    low, high = scipy_stats.binomtest(round(power * replicates), replicates).proportion_ci(0.99)
    print(f"novelty power on a decaying lift: {power:.3f} (99% CI {low:.3f}-{high:.3f})")
    assert power > 0.6
    assert primacy < ALPHA / 2  # the wrong direction, flagged: a one-sided error
