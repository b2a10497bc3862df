"""``ablab demo`` end to end, as ``DEMO_EXIT=1 make demo`` runs it (fewer devices)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ABLAB = Path(sys.executable).with_name("ablab")


def test_the_demo_prints_a_real_two_model_experiment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABLAB_")}
    env.update(DEMO_EXIT="1", COLUMNS="120")
    done = subprocess.run(
        [
            str(ABLAB),
            "demo",
            "--devices",
            "600",
            "--port",
            "0",
            "--demo-home",
            str(tmp_path),
            "--waves",
            "2",
            "--wave-gap",
            "0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for expected in (
        "held-out accuracy",
        "Control (1.0.0)",
        "Treatment (2.0.0)",
        "Units exposed",
        "Accuracy",
        "Statistical significance: p=",
        "Recommendation:",
        "Agreement",
    ):
        assert expected in out, expected
    devices = next(line for line in out.splitlines() if line.strip().startswith("Units exposed"))
    assert sum(int(cell) for cell in devices.replace("│", " ").split()[2:]) == 600
