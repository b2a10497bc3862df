"""``ablab source``: an experiment pointed at the team's own Parquet gives the same results.

The same traffic is imported into ablab's own store, then written as a team keeps it
(other column names, the experiment by its name, a folder per day) and added as a source;
the experiment's results read from the source equal those read from ablab's events.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from ablab import Client
from ablab.store.events import EVENTS_FILE, DuckDBEventStore
from tests.cli.conftest import Run
from tests.cli.test_results_commands import traffic
from tests.engines.test_same_answer import assert_same

RENAMED = {
    "exposure": ("exposures", {"event_id": "id", "experiment_id": "exp", "unit_id": "device",
                               "variant": "arm", "ts": "at", "attributes": "attrs",
                               "received_at": "arrived"}),
    "prediction": ("predictions", {"event_id": "id", "experiment_id": "exp",
                                   "unit_id": "device", "variant": "arm",
                                   "prediction_id": "request", "latency_ms": "took",
                                   "error": "failed", "shadow": "mirrored", "output": "answer",
                                   "ts": "at", "received_at": "arrived"}),
    "label": ("labels", {"event_id": "id", "prediction_id": "request", "correct": "ok",
                         "label": "truth", "ts": "at", "received_at": "arrived"}),
}  # fmt: skip


@pytest.fixture
def lake(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "team"
    monkeypatch.setenv("ABLAB_SOURCE_FOLDERS", str(folder))
    return folder


def _imported(run: Run, tmp_path: Path) -> None:
    for version in ("1.0.0", "2.0.0"):
        registered = run(
            "model", "register", "radiology-v1", version, "--endpoint", "http://127.0.0.1:9/p"
        )
        assert registered.code == 0, registered.stderr
    created = run(
        "experiment", "create", "trial", "--model", "radiology-v1",
        "--control", "1.0.0", "--treatment", "2.0.0",
    )  # fmt: skip
    assert created.code == 0, created.stderr
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in traffic(400)), encoding="utf-8")
    imported = run("events", "import", str(path), "--experiment", "trial")
    assert imported.code == 0, imported.stderr


def _write_team_tables(home: Path, folder: Path, experiment_id: str) -> dict[str, Any]:
    """The store's events as a team keeps them, and the ``--tables`` JSON naming them."""
    store = DuckDBEventStore(home / EVENTS_FILE)
    tables: dict[str, Any] = {}
    try:
        for kind, (table, names) in RENAMED.items():
            data = store.read_arrow(f"SELECT * FROM {table}", [])
            kept = {theirs: data.column(ours) for ours, theirs in names.items()}
            if "exp" in kept:  # the team names the experiment as ablab does
                kept["exp"] = pc.replace_substring(kept["exp"], experiment_id, "trial")
            team = pa.table(kept).append_column("dt", pc.strftime(data["ts"], format="%Y-%m-%d"))
            ds.write_dataset(
                team, folder / table, format="parquet", partitioning=["dt"],
                partitioning_flavor="hive",
            )  # fmt: skip
            tables[kind] = {"path": str(folder / table), "columns": names, "partition": "dt"}
    finally:
        store.close()
    return tables


# What names the read itself: the experiment's own record, the count of sequential looks
# (each read is one more) and the duration, measured on a clock that moved between reads.
_SKIPPED = ("experiment", "looks", "duration")


def _comparable(body: Any) -> Any:
    """The results without what names the read itself (``_SKIPPED``)."""
    if isinstance(body, dict):
        return {k: _comparable(v) for k, v in body.items() if k not in _SKIPPED}
    if isinstance(body, list):
        return [_comparable(item) for item in body]
    return body


def test_the_same_events_from_the_teams_tables_give_the_same_results(
    run: Run, home: Path, lake: Path, tmp_path: Path
) -> None:
    _imported(run, tmp_path)
    before = json.loads(run("experiment", "results", "trial", "-o", "json").stdout)
    experiment_id = before["experiment"]["id"]
    spec = tmp_path / "tables.json"
    spec.write_text(json.dumps(_write_team_tables(home, lake, experiment_id)))

    added = run("source", "add", "lake", "--tables", str(spec), "-o", "json")
    assert added.code == 0, added.stderr
    assert json.loads(added.stdout)["sample_rows"] == {
        "exposure": 100,
        "prediction": 100,
        "label": 100,
    }
    assert run("experiment", "update", "trial", "--source", "lake").code == 0

    after = json.loads(run("experiment", "results", "trial", "-o", "json").stdout)
    assert after["experiment"]["source"] == "lake"
    assert_same(_comparable(after), _comparable(before))

    listed = run("source", "list")
    assert listed.code == 0
    assert "lake" in listed.stdout
    shown = run("source", "test", "lake")
    assert shown.code == 0, shown.stderr
    assert "device" in shown.stdout  # the mapping is shown
    refreshed = run("source", "refresh", "lake")
    assert refreshed.code == 0, refreshed.stderr
    assert "scan the recent days on duckdb" in refreshed.stdout
    refreshed = run("source", "refresh", "lake", "--full")
    assert refreshed.code == 0, refreshed.stderr
    assert "scan every day on duckdb" in refreshed.stdout

    assert run("experiment", "update", "trial", "--source", "").code == 0  # back to ablab's
    again = json.loads(run("experiment", "results", "trial", "-o", "json").stdout)
    assert again["experiment"]["source"] is None


def test_a_path_outside_the_operators_folders_is_refused(
    run: Run, lake: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "tables.json"
    elsewhere = tmp_path / "elsewhere"
    spec.write_text(json.dumps({"metric": {"path": str(lake / ".." / "elsewhere"), "columns": {
        "unit_id": "u", "name": "n", "value": "v", "ts": "t"}}}))  # fmt: skip
    elsewhere.mkdir()
    result = run("source", "add", "outside", "--tables", str(spec))
    assert result.code == 2
    assert "outside the folders" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "outside" not in run("source", "list").stdout


@pytest.mark.parametrize(
    ("tables", "words"),
    [
        ({"metric": {"path": "p", "columns": {"unit_id": "u"}}}, "must map"),
        ({"sale": {"path": "p"}}, "sale"),
        ({"metric": {"path": "p", "table": "t", "columns": {}}}, "exactly one"),
    ],
)
def test_a_malformed_source_is_refused_in_one_line(
    run: Run, lake: Path, tmp_path: Path, tables: dict[str, Any], words: str
) -> None:
    lake.mkdir(parents=True, exist_ok=True)
    for table in tables.values():
        if "path" in table:
            table["path"] = str(lake / table["path"])
    spec = tmp_path / "tables.json"
    spec.write_text(json.dumps(tables))
    result = run("source", "add", "bad", "--tables", str(spec))
    assert result.code == 2, result.stdout
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_experiment_cannot_name_a_source_that_does_not_exist(run: Run, tmp_path: Path) -> None:
    _imported(run, tmp_path)
    result = run("experiment", "update", "trial", "--source", "nowhere")
    assert result.code == 2
    assert "unknown source 'nowhere'" in result.stderr


def _on_the_teams_tables(run: Run, home: Path, lake: Path, tmp_path: Path, *options: str) -> None:
    """Traffic imported, written as the team keeps it, added as source ``lake`` (with
    ``options``) and named by the experiment ``trial``."""
    _imported(run, tmp_path)
    experiment_id = json.loads(run("experiment", "show", "trial", "-o", "json").stdout)["id"]
    spec = tmp_path / "tables.json"
    spec.write_text(json.dumps(_write_team_tables(home, lake, experiment_id)))
    added = run("source", "add", "lake", "--tables", str(spec), *options)
    assert added.code == 0, added.stderr
    assert run("experiment", "update", "trial", "--source", "lake").code == 0


def test_a_source_keeps_its_answers_until_refreshed(
    run: Run, home: Path, lake: Path, tmp_path: Path
) -> None:
    _on_the_teams_tables(run, home, lake, tmp_path, "--refresh-minutes", "60")

    client = Client()  # one process keeps the answers (a server does; each command is anew)

    def labelled() -> int:
        return sum(v.units_with_labels for v in client.experiments.results("trial").variants)

    kept = labelled()
    for day in (lake / "labels").iterdir():  # the team's labels are withdrawn
        for file in day.iterdir():
            file.unlink()
    (lake / "labels" / "dt=2000-01-01").mkdir()
    empty = pa.table({"id": pa.array([], pa.string()), "request": pa.array([], pa.string()),
                      "ok": pa.array([], pa.bool_()), "truth": pa.array([], pa.string()),
                      "at": pa.array([], pa.timestamp("us", tz="UTC")),
                      "arrived": pa.array([], pa.timestamp("us", tz="UTC"))})  # fmt: skip
    pq.write_table(empty, lake / "labels" / "dt=2000-01-01" / "none.parquet")
    assert labelled() == kept > 0  # the kept answer: no scan
    client.sources.refresh("lake")
    assert labelled() == 0  # read anew
    client.close()


def test_a_source_whose_files_are_gone_answers_unavailable_not_a_crash(
    run: Run, home: Path, lake: Path, tmp_path: Path
) -> None:
    _on_the_teams_tables(run, home, lake, tmp_path)
    for day in (lake / "labels").iterdir():
        for file in day.iterdir():
            file.unlink()
    result = run("experiment", "results", "trial")
    assert result.code != 0
    assert "source 'lake' cannot be read" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
