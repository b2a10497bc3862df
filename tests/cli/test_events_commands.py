"""``ablab events import``: JSON Lines, CSV and Parquet; retries; bad lines by position."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ablab import Client

Run = Callable[..., Any]


def predictions(count: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"e{i}",
            "type": "prediction",
            "unit_id": f"d{i % 50}",
            "variant": "control" if i % 2 else "treatment",
            "prediction_id": f"p{i}",
            "latency_ms": 40.0 + i % 7,
            "error": i % 10 == 0,
            "timestamp": "2026-11-23T10:00:00+00:00",
        }
        for i in range(count)
    ]


@pytest.fixture
def experiment(registered: Run) -> str:
    result = registered(
        "experiment",
        "create",
        "trial",
        "--model",
        "radiology-v1",
        "--control",
        "1.0.0",
        "--treatment",
        "2.0.0",
    )
    assert result.code == 0, result.stderr
    return "trial"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_import_each_format_then_retry(
    run: Run, experiment: str, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"events{suffix}"
    rows = predictions(2500)
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        frame = pd.DataFrame(rows)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"])
        frame.to_parquet(path)
    first = run("events", "import", str(path), "--experiment", experiment, "-o", "json")
    assert first.code == 0, first.stderr
    assert json.loads(first.stdout) == {
        "received": 2500,
        "accepted": 2500,
        "stored": 2500,
        "duplicates": 0,
        "rejected": [],
    }
    again = json.loads(
        run("events", "import", str(path), "--experiment", experiment, "-o", "json").stdout
    )
    assert (again["stored"], again["duplicates"]) == (0, 2500)


def test_bad_lines_are_reported_by_position_and_exit_1(
    run: Run, experiment: str, tmp_path: Path
) -> None:
    rows = predictions(3)
    rows[1]["variant"] = "nope"
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        json.dumps(rows[0])
        + "\n{broken\n"
        + json.dumps(rows[1])
        + "\n"
        + json.dumps(rows[2])
        + "\n",
        encoding="utf-8",
    )
    result = run("events", "import", str(path), "--experiment", experiment)
    assert result.code == 1
    assert "4 events, 2 stored, 0 already there, 2 rejected" in result.stdout
    assert "event 2: an event must be a JSON object" in result.stdout
    assert "event 3 (e1): experiment 'trial' has no variant 'nope'" in result.stdout


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.jsonl", "file not found"), ("events.xlsx", "use a .jsonl, .csv or .parquet")],
)
def test_unreadable_files_exit_2(run: Run, tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "events.xlsx").write_bytes(b"PK")
    result = run("events", "import", str(tmp_path / name))
    assert result.code == 2
    assert message in result.stderr


def test_client_logs_events(experiment: str, home: Path) -> None:
    with Client() as client:
        first = client.events.log(predictions(10), experiment="trial")
        again = client.events.log(predictions(10), experiment="trial")
        bad = client.events.log([{"event_id": "x", "type": "exposure"}])
    assert (first.stored, again.stored, again.duplicates) == (10, 0, 10)
    assert [(r.index, r.event_id) for r in bad.rejected] == [(0, "x")]


def test_numeric_ids_in_a_csv_are_read_as_text(run: Run, experiment: str, tmp_path: Path) -> None:
    path = tmp_path / "numeric.csv"
    frame = pd.DataFrame(predictions(20))
    frame["event_id"] = range(20)
    frame["unit_id"] = [i % 5 for i in range(20)]
    frame.to_csv(path, index=False)
    result = run("events", "import", str(path), "--experiment", experiment, "-o", "json")
    assert json.loads(result.stdout)["stored"] == 20, result.stdout
