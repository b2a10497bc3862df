"""Seed 000's flows from the shell: create, update split, pause, resume, promote, stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Run = Callable[..., Any]

CREATE = (
    "experiment",
    "create",
    "my-experiment",
    "--model",
    "radiology-v1",
    "--control",
    "1.0.0",
    "--treatment",
    "2.0.0",
)


def test_create_prints_the_summary(registered: Run) -> None:
    result = registered(*CREATE, "--traffic-split", "50")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Experiment created: exp_")
    assert "Model: radiology-v1" in lines
    assert "Control: 1.0.0 (50%)" in lines
    assert "Treatment: 2.0.0 (50%)" in lines
    assert "Status: running" in lines


def test_seed_000_lifecycle_with_json_output(registered: Run) -> None:
    created = json.loads(registered(*CREATE, "--output", "json").stdout)
    assert created["status"] == "running"
    assert created["traffic_split"] == 50
    assert created["primary_metric"] == "accuracy"
    assert created["min_samples"] == 100

    updated = registered("experiment", "update", "my-experiment", "--traffic-split", "80")
    assert updated.code == 0
    assert "control 20%, treatment 80%" in updated.stdout

    for verb, status in (("pause", "paused"), ("resume", "running")):
        result = registered("experiment", verb, "my-experiment", "-o", "json")
        assert json.loads(result.stdout)["status"] == status

    shown = json.loads(registered("experiment", "show", created["id"], "-o", "json").stdout)
    assert [v["weight"] for v in shown["variants"]] == [20, 80]

    refused = registered("experiment", "promote", "my-experiment")
    assert refused.code == 2
    assert refused.stderr.startswith("error: no evidence to promote treatment: only 0 units")
    assert len(refused.stderr.strip().splitlines()) == 1
    promoted = registered("experiment", "promote", "my-experiment", "--force")
    assert "treatment (2.0.0) is the winner" in promoted.stdout
    listed = json.loads(registered("experiment", "list", "-o", "json").stdout)
    assert [(e["name"], e["status"]) for e in listed] == [("my-experiment", "promoted")]


def test_stop_and_archive(registered: Run) -> None:
    registered(*CREATE)
    assert registered("experiment", "stop", "my-experiment").code == 0
    archived = registered("experiment", "archive", "my-experiment", "-o", "json")
    assert json.loads(archived.stdout)["status"] == "archived"


def test_abn_group_and_options(registered: Run, tmp_path: Path) -> None:
    members = tmp_path / "staging.txt"
    members.write_text("dev-1\ndev-2\n\n", encoding="utf-8")
    assert registered("group", "create", "staging-devices", "--members", str(members)).code == 0
    result = registered(
        "experiment",
        "create",
        "abn",
        "--model",
        "radiology-v1",
        "--control",
        "1.0.0",
        "--treatment",
        "2.0.0",
        "--treatment",
        "3.0.0",
        "--traffic-split",
        "60",
        "--group",
        "staging-devices",
        "--metric",
        "latency_ms",
        "--min-samples",
        "500",
        "--auto-promote",
        "--guardrail",
        "error_rate<=0.01",
        "-o",
        "json",
    )
    assert result.code == 0, result.stderr
    body = json.loads(result.stdout)
    assert [(v["name"], v["weight"]) for v in body["variants"]] == [
        ("control", 40),
        ("treatment_1", 30),
        ("treatment_2", 30),
    ]
    assert body["group"] == "staging-devices"
    assert body["primary_metric"] == "latency_ms"
    assert body["min_samples"] == 500
    assert body["auto_promote"] is True
    assert body["guardrails"] == [
        {
            "metric": "error_rate",
            "bound": "<=",
            "threshold": 0.01,
            "relative": False,
            "spec": "error_rate<=0.01",
        }
    ]
    inside = json.loads(registered("experiment", "assign", "abn", "dev-1", "-o", "json").stdout)
    outside = json.loads(registered("experiment", "assign", "abn", "dev-9", "-o", "json").stdout)
    assert inside["in_experiment"] is True
    assert (outside["in_experiment"], outside["reason"]) == (False, "not_targeted")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("experiment", "update", "my-experiment", "--traffic-split", "120"), "between 0 and 100"),
        (
            (
                "experiment",
                "update",
                "my-experiment",
                "--weight",
                "control=10",
                "--weight",
                "treatment=80",
            ),
            "sum to 100, got 90",
        ),
        (("experiment", "show", "ghost"), "unknown experiment 'ghost'"),
        (("experiment", "launch", "my-experiment"), "cannot launch an experiment that is running"),
        ((*CREATE,), "already exists"),
        (
            ("experiment", "create", "x", "--model", "nope", "--control", "1", "--treatment", "2"),
            "unknown model 'nope'",
        ),
        (
            (
                "experiment",
                "create",
                "x",
                "--model",
                "radiology-v1",
                "--control",
                "1.0.0",
                "--treatment",
                "7.0.0",
            ),
            "no version '7.0.0'",
        ),
        (
            (
                "experiment",
                "create",
                "x",
                "--model",
                "radiology-v1",
                "--control",
                "1.0.0",
                "--treatment",
                "2.0.0",
                "--group",
                "nobody",
            ),
            "unknown device group 'nobody'",
        ),
        (("experiment", "assign", "my-experiment", " "), "unit id"),
        (("group", "create", "g", "--rule", '{"region": {"$bogus": 1}}'), "invalid condition"),
        (("group", "create", "g", "--rule", "{not json"), "not valid JSON"),
        (("model", "register", "radiology-v1", "4.0.0"), "exactly one of --endpoint"),
        (
            ("model", "register", "radiology-v1", "4.0.0", "--artifact", "missing.joblib"),
            "artifact file not found",
        ),
        (("experiment", "list", "--status", "bogus"), "invalid status"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    registered: Run, args: tuple[str, ...], message: str
) -> None:
    registered(*CREATE)
    before = registered("experiment", "show", "my-experiment", "-o", "json").stdout
    result = registered(*args)
    assert result.code == 2
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    after = registered("experiment", "show", "my-experiment", "-o", "json").stdout
    assert json.loads(after)["version"] == json.loads(before)["version"]


def test_usage_errors_exit_2(run: Run) -> None:
    result = run("experiment", "create", "x")
    assert result.code == 2
    assert "Missing option" in result.stderr


def test_audit_log_and_model_and_group_listings(registered: Run) -> None:
    registered(*CREATE)
    registered("experiment", "pause", "my-experiment")
    audit = json.loads(registered("experiment", "audit", "my-experiment", "-o", "json").stdout)
    assert [e["action"] for e in audit] == ["pause", "create"]
    models = json.loads(registered("model", "list", "-o", "json").stdout)
    assert [v["version"] for v in models[0]["versions"]] == ["1.0.0", "2.0.0", "3.0.0"]
    table = registered("experiment", "audit", "my-experiment")
    # At 80 columns the Change column (the last) wraps between words: read it line by line.
    changes = " ".join(line.split("│")[-1].strip() for line in table.stdout.splitlines()[2:])
    assert "status: running → paused" in changes
    assert "radiology-v1" in registered("model", "show", "radiology-v1").stdout


def test_console_script_end_to_end(home: Path) -> None:
    """The installed ``ablab`` command: exit codes and no traceback, in a real process."""
    env = {**os.environ, "ABLAB_HOME": str(home)}
    ablab = [sys.executable, "-m", "ablab"]

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*ablab, *args], env=env, capture_output=True, text=True, check=False)

    assert call("model", "register", "m", "1", "--endpoint", "http://127.0.0.1:9/1").returncode == 0
    assert call("model", "register", "m", "2", "--endpoint", "http://127.0.0.1:9/2").returncode == 0
    assert (
        call(
            "experiment", "create", "e", "--model", "m", "--control", "1", "--treatment", "2"
        ).returncode
        == 0
    )
    bad = call("experiment", "update", "e", "--traffic-split", "150")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: traffic split must be between 0 and 100, got 150"
    assert bad.stdout == ""
