"""``ablab analyze``: SRM only against a known split, the alternative, the MDE as a threshold."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

Run = Callable[..., Any]


def _units(path: Path, counts: dict[str, int], rates: dict[str, float], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    frames = [
        pd.DataFrame({"variant": name, "converted": (rng.random(n) < rates[name]).astype(int)})
        for name, n in counts.items()
    ]
    table = pd.concat(frames, ignore_index=True)
    table["device"] = range(len(table))
    table.to_csv(path, index=False)
    return path


@pytest.fixture
def deliberate_95_5(tmp_path: Path) -> Path:
    """A deliberate 95/5 split with no effect: 19,000 control units, 1,000 treatment units."""
    return _units(
        tmp_path / "split.csv",
        {"control": 19_000, "treatment": 1_000},
        {"control": 0.2, "treatment": 0.2},
        seed=7,
    )


def _analyze(run: Run, path: Path, *extra: str) -> Any:
    base = ("analyze", str(path), "--unit", "device", "--variant", "variant")
    return run(*base, "--metric", "converted", *extra)


def test_without_weights_no_srm_check_is_run_and_the_report_says_so(
    run: Run, deliberate_95_5: Path
) -> None:
    table = _analyze(run, deliberate_95_5)
    assert table.code == 0, table.stderr
    assert "SRM check: not run" in table.stdout
    assert "--weights" in table.stdout
    assert "MISMATCH" not in table.stdout
    body = json.loads(_analyze(run, deliberate_95_5, "-o", "json").stdout)
    srm = body["srm"]
    assert (srm["checked"], srm["mismatch"], srm["p_value"], srm["expected"]) == (
        False,
        False,
        None,
        {},
    )
    assert srm["observed"] == {"control": 19_000, "treatment": 1_000}
    assert [v["weight"] for v in body["variants"]] == [None, None]
    # Nothing in the decision blames the split.
    assert "sample ratio mismatch" not in body["recommendation"]["reason"]


def test_the_given_split_is_the_one_checked(run: Run, deliberate_95_5: Path) -> None:
    honest = json.loads(
        _analyze(
            run, deliberate_95_5, "--weights", "control=0.95,treatment=0.05", "-o", "json"
        ).stdout
    )
    assert honest["srm"]["checked"] is True
    assert honest["srm"]["mismatch"] is False
    assert honest["srm"]["expected"] == {"control": 19_000.0, "treatment": 1_000.0}
    wrong = json.loads(
        _analyze(run, deliberate_95_5, "--weights", "control=1,treatment=1", "-o", "json").stdout
    )
    expected_p = stats.chisquare([19_000, 1_000], [10_000, 10_000]).pvalue
    assert wrong["srm"]["mismatch"] is True
    assert wrong["srm"]["p_value"] == pytest.approx(expected_p, abs=1e-300)
    assert wrong["recommendation"]["decision"] == "keep_control"
    assert "sample ratio mismatch" in wrong["recommendation"]["reason"]


@pytest.fixture
def better(tmp_path: Path) -> Path:
    """The treatment converts at 62% against 60% (+3.3%), 40,000 units per arm."""
    return _units(
        tmp_path / "better.csv",
        {"control": 40_000, "treatment": 40_000},
        {"control": 0.60, "treatment": 0.62},
        seed=11,
    )


@pytest.mark.parametrize(
    ("alternative", "statsmodels_name"), [("greater", "larger"), ("less", "smaller")]
)
def test_alternative_reaches_the_fixed_horizon_test(
    run: Run, better: Path, alternative: str, statsmodels_name: str
) -> None:
    result = _analyze(run, better, "--method", "fixed", "--alternative", alternative, "-o", "json")
    assert result.code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["alternative"] == alternative
    (comparison,) = body["comparisons"]
    frame = pd.read_csv(better)
    converted = frame.groupby("variant")["converted"].agg(["sum", "count"])
    _, reference = proportions_ztest(
        [converted.loc["treatment", "sum"], converted.loc["control", "sum"]],
        [converted.loc["treatment", "count"], converted.loc["control", "count"]],
        alternative=statsmodels_name,
    )
    assert comparison["p_value"] == pytest.approx(reference, rel=1e-9)
    low, high = comparison["absolute_ci"]
    # One-sided intervals are open on the far side (null in JSON).
    assert (low is None) == (alternative == "less")
    assert (high is None) == (alternative == "greater")
    assert comparison["significant"] is (alternative == "greater")
    table = _analyze(run, better, "--alternative", alternative)
    assert f"one-sided ({alternative})" in table.stdout


def test_a_bad_alternative_is_refused_in_one_line(run: Run, better: Path) -> None:
    result = _analyze(run, better, "--alternative", "bigger")
    assert result.code == 2
    assert "--alternative" in result.stderr


def test_a_significant_lift_below_the_mde_keeps_the_control(run: Run, better: Path) -> None:
    below = json.loads(_analyze(run, better, "--mde", "0.05", "-o", "json").stdout)
    (comparison,) = below["comparisons"]
    assert comparison["significant"] is True
    assert 0.02 < comparison["relative_lift"] < 0.05
    assert below["recommendation"]["action"] == "keep_control"
    assert "not above the MDE of +5.0%" in below["recommendation"]["reason"]
    worth_it = json.loads(_analyze(run, better, "--mde", "0.02", "-o", "json").stdout)
    assert worth_it["recommendation"]["decision"] == "gradual_rollout"
