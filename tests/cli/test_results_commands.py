"""``ablab events import`` then ``ablab experiment results``, ``timeseries`` and ``metric``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ablab import Client

Run = Callable[..., Any]

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)


def traffic(devices: int, seed: int = 3) -> list[dict[str, Any]]:
    """Exposures with a region, predictions and delayed labels; the treatment is better."""
    rng = np.random.default_rng(seed)
    events: list[dict[str, Any]] = []
    for device in range(devices):
        variant = "treatment" if device % 2 else "control"
        seen = START + timedelta(minutes=device % 300)
        events.append(
            {
                "event_id": f"x{device}",
                "type": "exposure",
                "unit_id": f"d{device}",
                "variant": variant,
                "attributes": {"region": ["eu", "us"][device % 4 // 2]},
                "timestamp": seen.isoformat(),
            }
        )
        for k in range(5):
            pid = f"p{device}-{k}"
            events.append(
                {
                    "event_id": f"e{pid}",
                    "type": "prediction",
                    "unit_id": f"d{device}",
                    "variant": variant,
                    "prediction_id": pid,
                    "latency_ms": float(rng.gamma(8, 5)),
                    "error": bool(rng.random() < 0.003),
                    "timestamp": seen.isoformat(),
                }
            )
            accuracy = 0.92 if variant == "treatment" else 0.85
            events.append(
                {
                    "event_id": f"l{pid}",
                    "type": "label",
                    "prediction_id": pid,
                    "correct": bool(rng.random() < accuracy),
                    "timestamp": (seen + timedelta(minutes=30)).isoformat(),
                }
            )
    return events


@pytest.fixture
def imported(registered: Run, tmp_path: Path) -> Run:
    created = registered(
        "experiment",
        "create",
        "trial",
        "--model",
        "radiology-v1",
        "--control",
        "1.0.0",
        "--treatment",
        "2.0.0",
        "--guardrail",
        "latency_ms<=+25%",
    )
    assert created.code == 0, created.stderr
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in traffic(1200)), encoding="utf-8")
    result = registered("events", "import", str(path), "--experiment", "trial")
    assert result.code == 0, result.stdout + result.stderr
    return registered


def test_results_table_in_the_layout_of_seed_000(imported: Run) -> None:
    result = imported("experiment", "results", "trial")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Experiment: trial (running")
    assert lines[1] == "Model: radiology-v1"
    table = result.stdout
    assert "Control (1.0.0)" in table
    assert "Treatment (2.0.0)" in table
    exposed = next(line for line in lines if line.strip().startswith("Units exposed"))
    assert exposed.replace("│", " ").split()[2:] == ["600", "600"]
    for row in ("Accuracy", "Latency", "Error rate"):
        assert any(line.strip().startswith(row) for line in lines), row
    significance = next(line for line in lines if line.startswith("Statistical significance"))
    assert "p=" in significance
    assert "(significant" in significance
    assert "Guardrail treatment latency_ms<=+25% of control: pass" in table
    assert "Recommendation: promote treatment" in table


def test_results_json_follows_the_contract(imported: Run) -> None:
    body = json.loads(imported("experiment", "results", "trial", "-o", "json").stdout)
    for key in (
        "experiment",
        "primary_metric",
        "variants",
        "comparisons",
        "srm",
        "guardrails",
        "is_significant",
        "min_samples_reached",
        "recommendation",
    ):
        assert key in body
    control = next(v for v in body["variants"] if v["name"] == "control")
    assert set(control["metrics"]) >= {"accuracy", "latency_ms", "latency_p95_ms", "error_rate"}
    comparison = body["comparisons"][0]
    for key in (
        "variant",
        "metric",
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
        assert key in comparison
    assert body["recommendation"]["action"] == "promote"
    assert body["srm"]["mismatch"] is False


def test_segment_breakdown_and_timeseries(imported: Run) -> None:
    segmented = imported("experiment", "results", "trial", "--segment", "region")
    assert segmented.code == 0, segmented.stderr
    assert "accuracy by region (Benjamini-Hochberg)" in segmented.stdout
    body = json.loads(
        imported("experiment", "results", "trial", "--segment", "region", "-o", "json").stdout
    )
    assert {s["value"] for s in body["segments"]["segments"]} == {"eu", "us"}
    series = imported("experiment", "timeseries", "trial", "--interval", "hour")
    assert series.code == 0, series.stderr
    assert "trial: accuracy by hour, cumulative" in series.stdout
    points = json.loads(
        imported("experiment", "timeseries", "trial", "--interval", "hour", "-o", "json").stdout
    )
    final = [p for p in points["variants"] if p["at"] == points["variants"][-1]["at"]]
    assert sum(p["units"] for p in final) == 1200
    bad = imported("experiment", "timeseries", "trial", "--interval", "week")
    assert bad.code == 2
    assert bad.stderr.strip() == "error: interval must be minute, hour or day, got 'week'"


def test_client_results_read_as_seed_000_shows(imported: Run, home: Path) -> None:
    with Client() as client:
        results = client.experiments.results("trial")
    assert results.control.accuracy is not None
    assert results.treatment.accuracy is not None
    assert results.treatment.accuracy > results.control.accuracy
    assert results.is_significant
    assert results.p_value is not None
    assert results.p_value < 0.05
    assert results.recommendation.action == "promote"


def test_metric_commands(run: Run) -> None:
    created = run("metric", "create", "revenue", "--aggregation", "sum", "-o", "json")
    assert created.code == 0, created.stderr
    assert json.loads(created.stdout)["aggregation"] == "sum"
    assert run("metric", "create", "churned", "--aggregation", "any", "--kind", "proportion",
               "--lower-is-better").code == 0  # fmt: skip
    listed = json.loads(run("metric", "list", "-o", "json").stdout)
    assert [(m["name"], m["higher_is_better"]) for m in listed] == [
        ("churned", False),
        ("revenue", True),
    ]
    table = run("metric", "list").stdout
    assert "churned" in table
    assert "proportion" in table
    for args, message in (
        (("revenue",), "already exists"),
        (("accuracy",), "is a built-in metric"),
        (("spend", "--aggregation", "median"), "aggregation"),
        (("Bad Name",), "invalid metric name"),
    ):
        result = run("metric", "create", *args)
        assert result.code == 2, args
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
