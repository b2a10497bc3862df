"""``analyze`` on files: numbers equal to statsmodels/scipy on the same unit-level data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportions_ztest

from ablab.domain.experiments import AnalysisMethod
from ablab.errors import ValidationError
from ablab.services.analysis.unit_analysis import (
    UnitAnalysisOptions,
    analyze_unit_file,
    parse_weights,
)
from ablab.store.unit_files import DuckDBUnitTableReader

READER = DuckDBUnitTableReader()


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_csv(path, index=False)
    return path


def continuous_frame(seed: int = 7, n: int = 4000, lift: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    variant = np.where(rng.random(n) < 0.5, "control", "treatment")
    before = rng.normal(10, 3, n)
    after = 0.8 * before + rng.normal(2, 2, n) + np.where(variant == "treatment", lift, 0.0)
    return pd.DataFrame(
        {"device": [f"d{i}" for i in range(n)], "arm": variant, "latency": after, "pre": before}
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_welch_matches_scipy_on_every_format(tmp_path: Path, suffix: str) -> None:
    frame = continuous_frame()
    path = write(frame, tmp_path / f"units{suffix}")
    report = analyze_unit_file(
        READER,
        path,
        unit="device",
        variant="arm",
        metric="latency",
        options=UnitAnalysisOptions(metric="latency", method=AnalysisMethod.FIXED),
    )
    control = frame.loc[frame.arm == "control", "latency"]
    treatment = frame.loc[frame.arm == "treatment", "latency"]
    expected = scipy_stats.ttest_ind(treatment, control, equal_var=False)
    (comparison,) = report.comparisons
    assert report.metric_kind == "continuous"
    assert comparison.method == "welch_t_test"
    assert comparison.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert comparison.absolute_lift == pytest.approx(treatment.mean() - control.mean(), rel=1e-9)
    assert report.units == len(frame)
    assert report.srm.observed == {"control": len(control), "treatment": len(treatment)}
    assert report.recommendation.action in {"promote", "continue", "keep_control", "rollback"}


def test_proportions_match_statsmodels(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 6000
    arm = np.where(rng.random(n) < 0.5, "control", "treatment")
    correct = (rng.random(n) < np.where(arm == "treatment", 0.90, 0.87)).astype(int)
    frame = pd.DataFrame({"unit": range(n), "variant": arm, "correct": correct})
    report = analyze_unit_file(
        READER,
        write(frame, tmp_path / "acc.csv"),
        unit="unit",
        variant="variant",
        metric="correct",
        options=UnitAnalysisOptions(metric="accuracy"),
    )
    counts = frame.groupby("variant")["correct"].agg(["sum", "count"])
    _, p_value = proportions_ztest(
        counts.loc[["treatment", "control"], "sum"].to_numpy(),
        counts.loc[["treatment", "control"], "count"].to_numpy(),
    )
    (comparison,) = report.comparisons
    assert report.metric_kind == "proportion"
    assert comparison.p_value == pytest.approx(p_value, rel=1e-9)
    assert comparison.prob_beat_control is not None
    assert 0 <= comparison.prob_beat_control <= 1
    assert comparison.always_valid_p_value is not None
    # The always-valid p-value pays for optional stopping: never below the fixed one here.
    assert comparison.always_valid_p_value >= comparison.p_value


def test_rows_are_averaged_per_unit_and_mixed_units_left_out(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "unit": ["a", "a", "b", "c", "c", "d", "d"],
            "variant": [
                "control",
                "control",
                "control",
                "treatment",
                "treatment",
                "control",
                "treatment",
            ],
            "value": [1.0, 3.0, 5.0, 2.0, 4.0, 100.0, 100.0],
        }
    )
    report = analyze_unit_file(
        READER,
        write(frame, tmp_path / "rows.csv"),
        unit="unit",
        variant="variant",
        metric="value",
        options=UnitAnalysisOptions(metric="value", min_samples=0),
    )
    figures = {v.name: v for v in report.variants}
    assert report.rows == 7
    assert report.units == 4
    assert report.excluded_units == 1
    assert figures["control"].units == 2
    assert figures["control"].mean == pytest.approx((2.0 + 5.0) / 2)  # unit a averages to 2
    assert figures["treatment"].mean == pytest.approx(3.0)


def test_cuped_reduces_variance_and_keeps_the_effect(tmp_path: Path) -> None:
    frame = continuous_frame(seed=11, n=8000, lift=0.2)
    path = write(frame, tmp_path / "cuped.parquet")
    plain = analyze_unit_file(
        READER,
        path,
        unit="device",
        variant="arm",
        metric="latency",
        options=UnitAnalysisOptions(metric="latency"),
    )
    adjusted = analyze_unit_file(
        READER,
        path,
        unit="device",
        variant="arm",
        metric="latency",
        options=UnitAnalysisOptions(metric="latency", covariate="pre"),
    )
    (raw,), (cuped,) = plain.comparisons, adjusted.comparisons
    assert cuped.cuped is not None
    assert cuped.cuped.variance_reduction is not None
    rho = np.corrcoef(frame.latency, frame.pre)[0, 1]
    assert cuped.cuped.variance_reduction == pytest.approx(rho**2, abs=0.03)
    width = lambda c: c.absolute_ci[1] - c.absolute_ci[0]  # noqa: E731
    assert width(cuped) < width(raw)
    assert cuped.absolute_lift == pytest.approx(0.2, abs=4 * width(cuped) / 3.92)


def test_srm_alarm_on_a_skewed_split_and_not_on_an_honest_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    honest = np.where(rng.random(n) < 0.95, "control", "treatment")
    skewed = np.where(rng.random(n) < 0.92, "control", "treatment")
    value = rng.normal(0, 1, n)
    options = UnitAnalysisOptions(metric="v", weights=parse_weights("control=0.95,treatment=0.05"))
    results = {}
    for name, arms in (("honest", honest), ("skewed", skewed)):
        frame = pd.DataFrame({"u": range(n), "arm": arms, "v": value})
        results[name] = analyze_unit_file(
            READER,
            write(frame, tmp_path / f"{name}.csv"),
            unit="u",
            variant="arm",
            metric="v",
            options=options,
        )
    assert not results["honest"].srm.mismatch
    assert results["skewed"].srm.mismatch
    observed = list(results["skewed"].srm.observed.values())
    expected_p = scipy_stats.chisquare(observed, [0.95 * n, 0.05 * n]).pvalue
    assert results["skewed"].srm.p_value == pytest.approx(expected_p, rel=1e-6, abs=1e-300)
    assert results["skewed"].recommendation.decision == "keep_control"
    assert "sample ratio mismatch" in results["skewed"].recommendation.reason


def test_abn_adjusts_p_values_with_holm(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    n = 9000
    arm = rng.choice(["control", "b", "c"], n)
    value = rng.normal(10, 1, n) + np.where(arm == "c", 0.15, 0.0)
    frame = pd.DataFrame({"u": range(n), "arm": arm, "v": value})
    report = analyze_unit_file(
        READER,
        write(frame, tmp_path / "abn.csv"),
        unit="u",
        variant="arm",
        metric="v",
        options=UnitAnalysisOptions(metric="v", method=AnalysisMethod.FIXED),
    )
    raw = [c.p_value for c in report.comparisons]
    assert [c.variant for c in report.comparisons] == ["b", "c"]
    smaller, larger = sorted(raw)
    holm = {smaller: min(1.0, 2 * smaller), larger: max(min(1.0, 2 * smaller), larger)}
    for comparison in report.comparisons:
        assert comparison.adjusted_p_value == pytest.approx(holm[comparison.p_value])
    assert report.recommendation.variant == "c"
    assert report.recommendation.action == "promote"


def test_lower_is_better_turns_a_latency_drop_into_a_win(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 6000
    arm = np.where(rng.random(n) < 0.5, "control", "treatment")
    latency = rng.normal(50, 5, n) - np.where(arm == "treatment", 3.0, 0.0)
    frame = pd.DataFrame({"u": range(n), "arm": arm, "latency": latency})
    path = write(frame, tmp_path / "latency.csv")
    better = analyze_unit_file(
        READER,
        path,
        unit="u",
        variant="arm",
        metric="latency",
        options=UnitAnalysisOptions(metric="latency", higher_is_better=False),
    )
    worse = analyze_unit_file(
        READER,
        path,
        unit="u",
        variant="arm",
        metric="latency",
        options=UnitAnalysisOptions(metric="latency"),
    )
    assert better.recommendation.action == "promote"
    assert worse.recommendation.action == "rollback"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "nope"}, "--metric 'nope' is not a column"),
        ({"unit": "nope"}, "--unit 'nope' is not a column"),
        ({"metric": "arm"}, "not numbers"),
    ],
)
def test_bad_columns(tmp_path: Path, kwargs: dict[str, str], message: str) -> None:
    path = write(continuous_frame(n=50), tmp_path / "small.csv")
    arguments = {"unit": "device", "variant": "arm", "metric": "latency", **kwargs}
    with pytest.raises(ValidationError, match=re.escape(message)):
        analyze_unit_file(READER, path, options=UnitAnalysisOptions(metric="x"), **arguments)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"control": "ghost"}, "--control 'ghost' is not a variant"),
        ({"weights": {"control": 1.0}}, "missing treatment"),
        ({"weights": {"control": 1.0, "treatment": 1.0, "x": 1.0}}, "unknown x"),
        ({"alpha": 1.5}, "alpha must be in"),
    ],
)
def test_bad_options(tmp_path: Path, options: dict[str, object], message: str) -> None:
    path = write(continuous_frame(n=50), tmp_path / "small.csv")
    with pytest.raises(ValidationError, match=message):
        analyze_unit_file(
            READER,
            path,
            unit="device",
            variant="arm",
            metric="latency",
            options=UnitAnalysisOptions(metric="x", **options),
        )  # type: ignore[arg-type]


def test_missing_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="file not found"):
        READER.read(tmp_path / "none.csv", unit="u", variant="v", metric="m", covariate=None)
    with pytest.raises(ValidationError, match=r"use a \.csv, \.parquet or \.jsonl"):
        READER.read(tmp_path / "x.xlsx", unit="u", variant="v", metric="m", covariate=None)


@pytest.mark.parametrize("text", ["control", "control=abc", "=1", "control=-1", ""])
def test_parse_weights_refuses_garbage(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_weights(text)
