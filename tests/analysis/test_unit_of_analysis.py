"""The unit of randomisation is the unit of analysis: an A/A simulation shows why.

Devices differ (one scanner is better calibrated than another) and each sends many
predictions, so predictions of one device are correlated. Randomising devices but testing
predictions as if independent understates the variance and inflates false positives; the
delta-method ratio over devices, which the results pipeline uses, keeps them at alpha.
"""

from __future__ import annotations

import numpy as np
import pytest

from ablab.stats import Moments, RatioMoments, ratio_test, two_proportion_z_test

EXPERIMENTS = 1_000
DEVICES = 200
ALPHA = 0.05


def _arm(correct: np.ndarray, labelled: np.ndarray) -> tuple[RatioMoments, Moments]:
    per_unit = RatioMoments.from_values(correct, labelled)
    per_request = Moments.from_successes(int(correct.sum()), int(labelled.sum()))
    return per_unit, per_request


@pytest.mark.slow
def test_aa_false_positives_per_device_versus_per_request() -> None:
    rng = np.random.default_rng(2026)
    unit_rejections = request_rejections = 0
    for _ in range(EXPERIMENTS):
        # Device accuracy varies around 0.87 (intra-device correlation), 1-60 predictions each.
        skill = rng.beta(8.7, 1.3, size=DEVICES)
        labelled = rng.integers(1, 61, size=DEVICES)
        correct = rng.binomial(labelled, skill)
        treatment = rng.permutation(DEVICES) < DEVICES // 2  # the A/A split of devices
        unit_control, request_control = _arm(correct[~treatment], labelled[~treatment])
        unit_treatment, request_treatment = _arm(correct[treatment], labelled[treatment])
        unit_rejections += ratio_test(unit_control, unit_treatment, alpha=ALPHA).p_value < ALPHA
        request_rejections += (
            two_proportion_z_test(request_control, request_treatment, alpha=ALPHA).p_value < ALPHA
        )
    unit_rate = unit_rejections / EXPERIMENTS
    request_rate = request_rejections / EXPERIMENTS
    print(
        f"A/A false-positive rate at alpha={ALPHA}: per device {unit_rate:.3f}, "
        f"per request {request_rate:.3f}"
    )
    # 1,000 experiments: the standard error of a 5% rate is 0.7 points; allow 3 of them.
    assert unit_rate <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / EXPERIMENTS)
    assert request_rate > 2 * ALPHA
