"""``ablab llm ...`` on the embedded store, calling the example application's webhook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ablab.cli.main import app, exit_code
from ablab.cli.output import console
from tests.llm.example_app import ExampleApp

SECRET = "a-cli-secret-of-length"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[ExampleApp]:
    monkeypatch.setenv("ABLAB_LLM_WEBHOOK_SECRET", SECRET)
    with ExampleApp(secret=SECRET) as running:
        yield running


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_an_experiment_from_the_shell(home: Path, example: ExampleApp) -> None:
    for i in range(4):
        answer = json.dumps({"answer": str(i), "fragile": i % 2 == 0})
        run("llm", "task", "create", f"t{i}", "--input", answer, "--expected", str(i),
            "--evaluator", '{"kind": "exact_match"}')  # fmt: skip
    assert "t3" in run("llm", "task", "list")
    shown = run(
        "llm", "create", "cli-exp", "--step", "response_generator", "--task", "t0", "--task", "t1",
        "--task", "t2", "--task", "t3", "--baseline", "response_generator.temperature=0.3",
        "--webhook", example.url,
    )  # fmt: skip
    assert "baseline_pending" in shown
    out = run("llm", "run", "cli-exp")
    assert "baseline_complete" in out
    assert "100.0%" in out
    run("llm", "variant", "cli-exp", "warm", "--step", "response_generator", "--param",
        "temperature", "--value", "0.95")  # fmt: skip
    run("llm", "variant", "cli-exp", "warm-big", "--step", "response_generator", "--param",
        "model", "--value", "big-model", "--parent", "warm")  # fmt: skip
    tree = run("llm", "show", "cli-exp")
    assert "warm-big: response_generator.model" in tree
    run("llm", "run", "cli-exp", "--variant", "warm-big")
    found = json.loads(run("llm", "results", "cli-exp", "--output", "json"))
    baseline, warm_big = found["variants"]
    assert (baseline["pass_rate"], warm_big["pass_rate"]) == (1.0, 0.5)
    assert warm_big["parent_id"] is not None
    shown_json = json.loads(run("llm", "show", "cli-exp", "--output", "json"))
    grandchild = next(v for v in shown_json["variants"] if v["name"] == "warm-big")
    assert grandchild["config"] == {
        "response_generator": {"temperature": 0.95, "model": "big-model"}
    }
    assert "completed" in run("llm", "complete", "cli-exp")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["llm", "task", "create", "t", "--input", "1", "--evaluator", "{nope"],
            "--evaluator must be JSON",
        ),
        (["llm", "task", "create", "t", "--input", "1", "--evaluator", '{"kind": "x"}'], "kind"),
        (
            ["llm", "create", "e", "--step", "s", "--baseline", "temperature=1"],
            "step.parameter=value",
        ),
        (["llm", "create", "e", "--step", "s", "--baseline", "s.temperature=3"], "temperature"),
        (["llm", "show", "ghost"], "unknown LLM experiment"),
        (["llm", "run", "ghost"], "unknown LLM experiment"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert exit_code(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_a_variant_name_with_spaces_stays_whole_at_every_width(
    home: Path, example: ExampleApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(2):
        run("llm", "task", "create", f"w{i}", "--input", json.dumps({"answer": str(i)}),
            "--expected", str(i), "--evaluator", '{"kind": "exact_match"}')  # fmt: skip
    run("llm", "create", "spaced", "--step", "response_generator", "--task", "w0", "--task", "w1",
        "--webhook", example.url)  # fmt: skip
    run("llm", "run", "spaced")
    name = "hot writer (v2)"
    run("llm", "variant", "spaced", name, "--step", "response_generator", "--param",
        "temperature", "--value", "0.95")  # fmt: skip
    run("llm", "run", "spaced", "--variant", name)
    for columns in range(30, 121):
        monkeypatch.setenv("COLUMNS", str(columns))
        monkeypatch.setattr(console, "_width", None)  # read COLUMNS as a new process does
        shown = run("llm", "results", "spaced")
        assert any(name in line for line in shown.splitlines()), (columns, shown)
        assert "…" not in shown
    assert "Pass rate" in shown  # the table, not an error
