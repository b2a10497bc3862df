"""Relative guardrails as one-sided always-valid tests of ``treatment - k * control``.

The harm and safe tests of a margin such as ``score<=+10%`` are Welch's unequal-variance t
statistic of ``treatment - 1.1 * control`` (statsmodels' ``ttest_ind`` on the scaled
control is the reference), one-sided each way, and are carried over the looks like the
comparisons' tests.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats.weightstats import ttest_ind

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.contract.metrics import MetricCreate
from ablab.services.analysis.guardrails import margin_tests
from ablab.services.analysis.metric_request import analysis_setup
from ablab.services.analysis.metric_tests import variant_sums
from ablab.services.analysis.results import experiment_results
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment
from ablab.services.experiments.metrics import define_metric
from ablab.services.ports import EventStore
from ablab.stats import RatioMoments, ratio_interval, ratio_test

LAUNCH = datetime(2026, 11, 20, tzinfo=UTC)


def launch(ctx: Context, guardrail: str) -> Context:
    for version in ("1", "2"):
        register_model_version(
            ctx, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
        )
    define_metric(ctx, MetricCreate(name="score", aggregation="sum", kind="continuous"))
    create_experiment(
        replace(ctx, clock=lambda: LAUNCH),
        ExperimentCreate(
            name="margin", model_id="m", control_version="1", treatment_version="2",
            primary_metric="score", guardrails=[guardrail], min_samples=10, cuped=False,
        ),
    )  # fmt: skip
    return replace(ctx, clock=lambda: LAUNCH + timedelta(days=1))


def scores(first: int, control: np.ndarray, treatment: np.ndarray) -> list[dict[str, Any]]:
    """An exposure and a ``score`` event per unit, units numbered from ``first``."""
    stream: list[dict[str, Any]] = []
    when = (LAUNCH + timedelta(hours=1)).isoformat()
    arms = [("control", v) for v in control] + [("treatment", v) for v in treatment]
    for offset, (variant, value) in enumerate(arms):
        unit = f"u{first + offset}"
        stream.append(
            {"event_id": f"x-{unit}", "type": "exposure", "experiment": "margin",
             "unit_id": unit, "variant": variant, "timestamp": when}
        )  # fmt: skip
        stream.append(
            {"event_id": f"m-{unit}", "type": "metric", "experiment": "margin", "unit_id": unit,
             "name": "score", "value": float(value), "timestamp": when}
        )  # fmt: skip
    return stream


@pytest.mark.parametrize(("guardrail", "factor"), [("score<=+10%", 1.1), ("score>=-5%", 0.95)])
def test_margin_tests_are_welch_on_treatment_minus_k_times_control(
    ctx: Context, events: EventStore, guardrail: str, factor: float
) -> None:
    now = launch(ctx, guardrail)
    rng = np.random.default_rng(11)
    control, treatment = rng.gamma(4.0, 2.5, 300), rng.gamma(4.0, 2.7, 280)
    ingest_events(now, events, scores(0, control, treatment))
    setup = analysis_setup(now, "margin")
    per_variant = variant_sums(setup.experiment, events.metric_sums(setup.request))
    tests = margin_tests(setup, per_variant)
    harmful, safe = ("larger", "smaller") if "<=" in guardrail else ("smaller", "larger")
    for side, alternative in (("harm", harmful), ("safe", safe)):
        comparison = tests[("treatment", f"{guardrail}:{side}")].arm.comparison
        statistic, p_value, _ = ttest_ind(
            treatment, factor * control, usevar="unequal", alternative=alternative
        )
        assert comparison.absolute_lift == pytest.approx(
            treatment.mean() - factor * control.mean(), rel=1e-12
        )
        assert comparison.statistic == pytest.approx(statistic, rel=1e-9)
        assert comparison.p_value == pytest.approx(p_value, rel=1e-6)
        assert comparison.alternative == {"larger": "greater", "smaller": "less"}[alternative]


def test_a_ratio_margin_scales_the_controls_ratio_and_its_error() -> None:
    """The delta method's ``se**2 = se_t**2 + k**2 * se_c**2`` for ``r_t - k * r_c``."""
    rng = np.random.default_rng(5)
    counts_c, counts_t = rng.integers(1, 6, 400), rng.integers(1, 6, 380)
    control = RatioMoments.from_values(rng.gamma(9.0, 5.0, 400) * counts_c, counts_c)
    treatment = RatioMoments.from_values(rng.gamma(9.0, 5.3, 380) * counts_t, counts_t)
    comparison = ratio_test(control.scaled_numerator(1.1), treatment, alternative="greater")
    z = norm.ppf(0.975)
    se_c, se_t = (np.diff(ratio_interval(m))[0] / (2 * z) for m in (control, treatment))
    assert comparison.absolute_lift == pytest.approx(treatment.ratio - 1.1 * control.ratio)
    assert comparison.standard_error == pytest.approx(math.hypot(se_t, 1.1 * se_c), rel=1e-9)
    expected = norm.sf(comparison.absolute_lift / comparison.standard_error)
    assert comparison.p_value == pytest.approx(expected, rel=1e-9)


def test_a_confident_breach_stays_failed_as_the_tests_are_carried(
    ctx: Context, events: EventStore
) -> None:
    now = launch(ctx, "score<=+10%")
    rng = np.random.default_rng(2)
    ingest_events(now, events, scores(0, rng.normal(10, 1, 200), rng.normal(13, 1, 200)))
    first = experiment_results(now, events, "margin").guardrails[0]
    assert (first.state, first.violated) == ("fail", True)
    # Much more data in which the treatment is as good as the control: the look alone
    # would call it non-inferior, but the harm test's confidence sequence already left 0
    # behind at the first look and the running intersection keeps it there.
    ingest_events(now, events, scores(400, rng.normal(10, 1, 5000), rng.normal(10, 1, 5000)))
    second = experiment_results(now, events, "margin").guardrails[0]
    assert second.state == "fail"
    experiment = analysis_setup(now, "margin").experiment
    keys = [("score<=+10%:harm", "treatment"), ("score<=+10%:safe", "treatment")]
    with now.store.session() as session:
        stored = session.lock_sequential_states(experiment.id, keys)
    harm, safe = (stored[key] for key in keys)
    assert (harm.looks, safe.looks) == (2, 2)
    assert (harm.design.alternative, safe.design.alternative) == ("greater", "less")
    assert harm.lower is not None
    assert harm.lower > 0.0
    assert harm.upper is None
    assert harm.design.level == experiment.alpha  # a guardrail keeps the whole alpha


def test_a_treatment_within_the_margin_passes_the_non_inferiority_test(
    ctx: Context, events: EventStore
) -> None:
    now = launch(ctx, "score<=+10%")
    rng = np.random.default_rng(8)
    ingest_events(now, events, scores(0, rng.normal(10, 1, 2000), rng.normal(10, 1, 2000)))
    (guardrail,) = experiment_results(now, events, "margin").guardrails
    assert (guardrail.state, guardrail.violated) == ("pass", False)
    assert guardrail.limit == pytest.approx(guardrail.control_value * 1.1)
