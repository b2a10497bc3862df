"""``ablab experiment results`` says what the novelty check found, in words."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from ablab.cli.results_view import render_results
from ablab.contract.results import ExperimentResults
from ablab.services.access.projects import ensure_project
from ablab.services.analysis.results import experiment_results
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.store.events import DuckDBEventStore
from ablab.store.metadata import open_metadata_store
from tests.cli.conftest import Run
from tests.cli.test_results_commands import traffic
from tests.events.test_novelty_results import DAYS, LAUNCH, launch
from tests.events.test_novelty_results import traffic as fading_traffic


def test_a_young_experiment_says_when_the_check_starts(registered: Run, tmp_path: Path) -> None:
    created = registered(
        "experiment", "create", "trial", "--model", "radiology-v1",
        "--control", "1.0.0", "--treatment", "2.0.0",
    )  # fmt: skip
    assert created.code == 0, created.stderr
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in traffic(200)), encoding="utf-8")
    assert registered("events", "import", str(path), "--experiment", "trial").code == 0
    shown = registered("experiment", "results", "trial")
    assert shown.code == 0, shown.stderr
    assert sum(x.startswith("Novelty check") for x in shown.stdout.splitlines()) == 1
    said = " ".join(shown.stdout.split())
    assert "Novelty check: The daily lift is checked for a trend from day 3 on" in said
    body = json.loads(registered("experiment", "results", "trial", "-o", "json").stdout)
    (primary,) = [c for c in body["comparisons"] if c["metric"] == "accuracy"]
    assert primary["novelty"]["status"] == "too_few_days"


def test_a_novelty_effect_is_named_with_what_it_means(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = open_metadata_store(f"sqlite:///{tmp_path / 'ablab.db'}")
    events = DuckDBEventStore(tmp_path / "events.duckdb")
    try:
        ctx = Context(store, ensure_project(store, "default").id, actor="test:alice")
        launch(ctx)
        stream, _ = fading_traffic(seed=11)
        later = replace(ctx, clock=lambda: LAUNCH + timedelta(days=DAYS))
        assert ingest_events(later, events, stream).rejected == []
        found = experiment_results(later, events, "fresh")
        render_results(ExperimentResults.model_validate(found))  # converted as the doors do
    finally:
        events.close()
        store.close()
    out = capsys.readouterr().out
    assert sum(x.startswith("Novelty check") for x in out.splitlines()) == 1
    said = " ".join(out.split())  # as one line, however the terminal wrapped it
    assert "Novelty check: Novelty effect: the lift shrank from +0." in said
    assert "over 7 days (trend p = " in said
    assert "The long-run effect is likely smaller than the average" in said
