"""``ablab llm results`` and ``ablab llm complete --winner`` on the embedded store, through
the example application's webhook: verdicts in words, failed tasks with their reason, and
the winner refused, forced and named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ablab.cli.main import app, exit_code
from tests.llm.example_app import ExampleApp

SECRET = "a-cli-secret-of-length"
TASKS = 8  # the even ones are fragile: wrong when the temperature is above 0.8


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[ExampleApp]:
    monkeypatch.setenv("ABLAB_LLM_WEBHOOK_SECRET", SECRET)
    with ExampleApp(secret=SECRET) as running:
        yield running


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def experiment(example: ExampleApp, temperature: float) -> None:
    for i in range(TASKS):
        answer = json.dumps({"answer": str(i), "fragile": i % 2 == 0})
        run("llm", "task", "create", f"t{i}", "--input", answer, "--expected", str(i),
            "--evaluator", '{"kind": "exact_match"}')  # fmt: skip
    tasks = [arg for i in range(TASKS) for arg in ("--task", f"t{i}")]
    run("llm", "create", "tune", "--step", "response_generator", *tasks, "--webhook", example.url,
        "--baseline", f"response_generator.temperature={temperature}")  # fmt: skip
    run("llm", "run", "tune")


def variant(name: str, parameter: str, value: str) -> None:
    run("llm", "variant", "tune", name, "--step", "response_generator", "--param", parameter,
        "--value", value)  # fmt: skip
    run("llm", "run", "tune", "--variant", name)


def test_a_better_variant_is_named_the_winner(home: Path, example: ExampleApp) -> None:
    # The baseline runs hot (the app gets the fragile tasks wrong); cooler wins them back.
    experiment(example, temperature=0.95)
    variant("cool", "temperature", "0.3")
    out = run("llm", "results", "tune")
    # The verdict row shows the adjusted p-value and interval of the JSON, and their verdict.
    test = json.loads(run("llm", "results", "tune", "--output", "json"))["variants"][1]["mcnemar"]
    low, high = test["adjusted_ci"]
    assert test["significant"]
    assert 0 < low < high
    *_, verdict = (line for line in out.splitlines() if line.strip().startswith("cool"))
    cells = [cell.strip() for cell in verdict.split("│")]
    assert cells == [
        "cool",
        "4/0",
        f"{test['adjusted_p_value']:.4f}",
        f"[{low:+.1%}, {high:+.1%}]",
        "better",
    ]
    # The baseline's own configuration reached the app: its fragile tasks failed, each says why.
    assert "baseline · t0 (0/1 passed): exact_match: expected '0', got '1'" in out
    shown = run("llm", "complete", "tune", "--winner", "cool")
    assert "completed" in shown
    assert "Winner: cool" in shown
    assert "forced" not in shown
    found = json.loads(run("llm", "show", "tune", "--output", "json"))
    cool = next(v for v in found["variants"] if v["name"] == "cool")
    assert (found["winner"], found["winner_forced"]) == (cool["id"], False)


def test_a_variant_without_evidence_needs_force_and_a_reason(
    home: Path, example: ExampleApp, capsys: pytest.CaptureFixture[str]
) -> None:
    experiment(example, temperature=0.3)
    variant("bigger", "model", "big-model")  # the app answers the same with any model
    out = run("llm", "results", "tune")
    *_, verdict = (line for line in out.splitlines() if line.strip().startswith("bigger"))
    assert "no difference" in verdict
    assert exit_code(["llm", "complete", "tune", "--winner", "bigger"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "'bigger' of 'tune' is not significantly better than the baseline" in err
    assert exit_code(["llm", "complete", "tune", "--winner", "bigger", "--force"]) == 2
    assert "takes a reason" in capsys.readouterr().err
    same = ["llm", "variant", "tune", "same", "--step", "response_generator", "--param", "model",
            "--value", "big-model", "--parent", "bigger"]  # fmt: skip
    assert exit_code(same) == 2
    assert "'same' changes nothing" in capsys.readouterr().err
    shown = run("llm", "complete", "tune", "--winner", "bigger", "--force", "--reason",
                "the big model is what we have a contract for")  # fmt: skip
    assert "Winner: bigger (forced: not significantly better)" in shown
