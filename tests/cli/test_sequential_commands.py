"""``--sequential-tuning-units``: set at creation, shown, and the results print the test."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Run
from tests.cli.test_results_commands import traffic


def test_the_cli_flag_sets_it_and_show_prints_it(registered: Run) -> None:
    created = registered(
        "experiment", "create", "tuned", "--model", "radiology-v1", "--control", "1.0.0",
        "--treatment", "2.0.0", "--sequential-tuning-units", "20000", "--output", "json",
    )  # fmt: skip
    assert created.code == 0, created.stderr
    assert json.loads(created.stdout)["sequential_tuning_units"] == 20_000
    shown = json.loads(registered("experiment", "show", "tuned", "-o", "json").stdout)
    assert shown["sequential_tuning_units"] == 20_000
    refused = registered(
        "experiment", "create", "zero", "--model", "radiology-v1", "--control", "1.0.0",
        "--treatment", "2.0.0", "--sequential-tuning-units", "0",
    )  # fmt: skip
    assert refused.code == 2
    assert len(refused.stderr.strip().splitlines()) == 1


def test_results_print_the_confidence_sequence_and_its_design(
    registered: Run, tmp_path: Path
) -> None:
    created = registered(
        "experiment", "create", "trial", "--model", "radiology-v1", "--control", "1.0.0",
        "--treatment", "2.0.0", "--sequential-tuning-units", "1500",
    )  # fmt: skip
    assert created.code == 0, created.stderr
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in traffic(800)), encoding="utf-8")
    assert registered("events", "import", str(path), "--experiment", "trial").code == 0
    registered("experiment", "results", "trial")
    printed = registered("experiment", "results", "trial").stdout
    line = next(row for row in printed.splitlines() if row.startswith("Confidence sequence"))
    assert "2 looks" in line
    assert "tuned for 1,500 units" in line
    body = json.loads(registered("experiment", "results", "trial", "-o", "json").stdout)
    row = body["comparisons"][0]
    assert row["sequential"]["looks"] == 3
    low, high = row["confidence_sequence"]
    assert row["significant"] == (not low <= 0 <= high)
