"""From the shell: --max-duration-days, the counts in the results table, the stated rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

Run = Callable[..., Any]

CREATE = ("experiment", "create", "trial", "--model", "radiology-v1", "--control", "1.0.0",
          "--treatment", "2.0.0")  # fmt: skip


def test_max_duration_days_on_create_and_update(registered: Run) -> None:
    created = registered(*CREATE, "--max-duration-days", "14", "--mde", "0.05", "-o", "json")
    assert created.code == 0, created.stderr
    assert json.loads(created.stdout)["max_duration_days"] == 14
    updated = registered("experiment", "update", "trial", "--max-duration-days", "30", "-o", "json")
    assert updated.code == 0, updated.stderr
    assert json.loads(updated.stdout)["max_duration_days"] == 30
    refused = registered("experiment", "update", "trial", "--max-duration-days", "0")
    assert refused.code == 2
    assert refused.stderr.startswith("error: ")
    assert "max duration must be 1 to 3650 days, got 0" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    table = registered("experiment", "results", "trial")
    assert "Duration: 0.0 days of at most 30" in table.stdout
    shown = [
        " ".join(line.split())
        for line in registered("experiment", "show", "trial").stdout.splitlines()
    ]
    assert "Max duration 30 days" in shown
    assert "MDE +5.0%" in shown


def _events(path: Path) -> Path:
    """40 units per arm exposed; 30 with a prediction; 12 of those with a label."""
    stamp = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    lines = []
    for variant in ("control", "treatment"):
        for i in range(40):
            unit = f"{variant}-{i}"
            common = {"unit_id": unit, "variant": variant, "timestamp": stamp}
            lines.append({"event_id": f"x-{unit}", "type": "exposure", **common})
            if i < 30:
                lines.append({"event_id": f"p-{unit}", "type": "prediction",
                              "prediction_id": f"p-{unit}", "latency_ms": 12.0, "error": False,
                              **common})  # fmt: skip
            if i < 12:
                lines.append({"event_id": f"l-{unit}", "type": "label",
                              "prediction_id": f"p-{unit}", "correct": True,
                              "timestamp": stamp})  # fmt: skip
    path.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    return path


def test_the_results_table_names_each_count_and_the_rule(registered: Run, tmp_path: Path) -> None:
    assert registered(*CREATE, "--min-samples", "20").code == 0
    imported = registered("events", "import", str(_events(tmp_path / "e.jsonl")),
                          "--experiment", "trial")  # fmt: skip
    assert imported.code == 0, imported.stdout + imported.stderr
    result = registered("experiment", "results", "trial")
    assert result.code == 0, result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        cells = line.replace("│", " ").split()
        if len(cells) > 2 and all(c.isdigit() for c in cells[-2:]):
            rows[" ".join(cells[:-2])] = cells[-2:]
    assert rows["Units exposed"] == ["40", "40"]
    assert rows["Units with predictions"] == ["30", "30"]
    assert rows["Units with labels"] == ["12", "12"]
    assert rows["Predictions"] == ["30", "30"]
    assert "Devices" not in result.stdout
    assert (
        "Minimum samples: min_samples (20) counts units with labels per variant: not reached "
        "yet, fewest 12 in control; results are directional"
    ) in " ".join(result.stdout.split())
    assert "only 12 units with labels in the smallest arm" in " ".join(result.stdout.split())
    body = json.loads(registered("experiment", "results", "trial", "-o", "json").stdout)
    assert body["min_samples_rule"]["counts"] == "units_with_labels"


def test_a_stopped_experiment_is_not_told_to_promote(registered: Run) -> None:
    assert registered(*CREATE).code == 0
    assert registered("experiment", "stop", "trial").code == 0
    result = registered("experiment", "results", "trial")
    assert "Recommendation: ended" in result.stdout
    assert "promote" not in result.stdout.split("Recommendation:")[1].split("(")[0]
