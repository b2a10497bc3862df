"""``ablab sample-size`` and ``ablab analyze`` from the shell."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

Run = Callable[..., Any]


def test_sample_size_matches_statsmodels_and_reports_days(run: Run) -> None:
    result = run(
        "sample-size",
        "--baseline",
        "0.15",
        "--mde",
        "0.10",
        "--traffic",
        "0.05",
        "--daily-units",
        "100000",
        "-o",
        "json",
    )
    assert result.code == 0, result.stderr
    body = json.loads(result.stdout)
    # Cohen's arcsine effect size gives the textbook figure within a fraction of a percent.
    effect = proportion_effectsize(0.165, 0.15)
    reference = NormalIndPower().solve_power(effect, alpha=0.05, power=0.8, ratio=1.0)
    assert body["per_variant_units"] == pytest.approx(reference, rel=0.01)
    assert body["absolute_mde"] == pytest.approx(0.015)
    assert body["total_units"] == math.ceil(body["experiment_units"] / 0.05)
    assert body["days"] == math.ceil(body["total_units"] / 100_000)
    assert body["sequential"]["experiment_units"] > body["experiment_units"]
    table = run("sample-size", "--baseline", "0.15", "--mde", "0.015", "--absolute")
    assert "0.15 -> 0.165" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--baseline", "1.5", "--mde", "0.1"), "baseline"),
        (("--baseline", "0.15", "--mde", "0.1", "--alpha", "2"), "alpha"),
        (("--baseline", "0.15", "--mde", "0.1", "--traffic", "0"), "traffic"),
    ],
)
def test_sample_size_bad_input(run: Run, args: tuple[str, ...], message: str) -> None:
    result = run("sample-size", *args)
    assert result.code == 2
    assert result.stderr.startswith("error: ")
    assert message in result.stderr


@pytest.fixture
def units_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(4)
    n = 12_000
    arm = np.where(rng.random(n) < 0.5, "control", "treatment")
    correct = (rng.random(n) < np.where(arm == "treatment", 0.90, 0.86)).astype(int)
    path = tmp_path / "units.csv"
    pd.DataFrame({"device": range(n), "variant": arm, "correct": correct}).to_csv(path, index=False)
    return path


def test_analyze_prints_the_report(run: Run, units_file: Path) -> None:
    result = run(
        "analyze",
        str(units_file),
        "--unit",
        "device",
        "--variant",
        "variant",
        "--metric",
        "correct",
        "--weights",
        "control=50,treatment=50",
    )
    assert result.code == 0, result.stderr
    for expected in (
        "Relative lift",
        "Always-valid p",
        "mSPRT log-LR",
        "SRM check: ok",
        "Decision: gradual rollout (treatment)",
    ):
        assert expected in result.stdout


def test_analyze_json_follows_the_results_fields(run: Run, units_file: Path) -> None:
    result = run(
        "analyze",
        str(units_file),
        "--unit",
        "device",
        "--variant",
        "variant",
        "--metric",
        "correct",
        "--method",
        "fixed",
        "-o",
        "json",
    )
    body = json.loads(result.stdout)
    (comparison,) = body["comparisons"]
    for field in (
        "control_value",
        "treatment_value",
        "absolute_lift",
        "absolute_ci",
        "relative_lift",
        "relative_ci",
        "p_value",
        "always_valid_p_value",
        "msprt_log_lr",
        "prob_beat_control",
        "significant",
        "cuped",
    ):
        assert field in comparison
    assert body["srm"]["mismatch"] is False
    assert body["recommendation"]["action"] == "promote"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--metric", "accuracy"), "--metric 'accuracy' is not a column"),
        (("--metric", "correct", "--control", "nobody"), "--control 'nobody'"),
        (("--metric", "correct", "--weights", "control=1"), "missing treatment"),
        (("--metric", "correct", "--method", "magic"), "Invalid value for '--method'"),
    ],
)
def test_analyze_bad_input(
    run: Run, units_file: Path, extra: tuple[str, ...], message: str
) -> None:
    result = run("analyze", str(units_file), "--unit", "device", "--variant", "variant", *extra)
    assert result.code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
