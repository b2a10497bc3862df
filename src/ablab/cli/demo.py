"""``ablab demo``: the lifecycle of a model experiment, end to end, on the embedded store."""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.rule import Rule
from rich.table import Table

from ablab.cli.experiment_view import render_audit, render_created, render_experiment
from ablab.cli.output import console
from ablab.cli.results_view import render_results
from ablab.client import Client
from ablab.contract.catalogue import AssignmentPublic
from ablab.errors import AblabError

__all__ = ["demo"]

MODEL = "radiology-v1"
EXPERIMENT = "radiology-v2-trial"


def demo(
    home: Annotated[
        Path | None,
        typer.Option("--demo-home", help="Keep the demo's store here (default: a temp folder)."),
    ] = None,
    devices: Annotated[int, typer.Option(help="Devices to assign.")] = 2000,
) -> None:
    """Walk an experiment through its lifecycle on a fresh embedded store."""
    if home is not None:
        _walk(Client(home=home), devices)
        return
    with tempfile.TemporaryDirectory(prefix="ablab-demo-") as folder:
        _walk(Client(home=folder), devices)


def _step(title: str) -> None:
    console.print(Rule(f"[bold]{title}"))


def _walk(client: Client, devices: int) -> None:
    with client:
        _step("1. Register two versions of a model")
        for version in ("1.0.0", "2.0.0"):
            client.models.register(MODEL, version, endpoint=f"http://127.0.0.1:9000/{version}")
            console.print(f"registered {MODEL} {version}")

        _step("2. Target a device group and create the experiment (50% to 2.0.0)")
        client.groups.create("eu-fleet", rule={"region": {"$in": ["eu-west", "eu-north"]}})
        experiment = client.experiments.create(
            EXPERIMENT,
            model_id=MODEL,
            control_version="1.0.0",
            treatment_version="2.0.0",
            traffic_split=50,
            group="eu-fleet",
            hypothesis="2.0.0 reads chest X-rays more accurately without being slower",
            guardrails=["error_rate<=0.01", "latency_p95_ms<=200"],
        )
        render_created(experiment)

        _step(f"3. Assign {devices} devices (one in four is outside the EU group)")
        regions = ("eu-west", "eu-north", "eu-west", "us-east")
        ids = [f"device-{i:05d}" for i in range(devices)]
        first = {
            d: client.assign(EXPERIMENT, d, {"region": regions[i % 4]}) for i, d in enumerate(ids)
        }
        _tally("after assignment at 50%", first.values())
        rng = random.Random(2026)
        _log(client, _traffic(_inside(first), rng), "their first predictions and labels")

        _step("4. Shift traffic to 80%: only devices never seen before move")
        client.experiments.update_split(EXPERIMENT, traffic_split=80)
        again = {d: client.assign(EXPERIMENT, d, {"region": "eu-west"}) for d in ids}
        moved = sum(first[d].in_experiment and again[d].variant != first[d].variant for d in ids)
        newcomers = [f"device-new-{i:05d}" for i in range(devices // 2)]
        fresh = [client.assign(EXPERIMENT, d, {"region": "eu-west"}) for d in newcomers]
        console.print(f"devices that changed variant: [bold]{moved}[/] (sticky assignment)")
        _tally("newcomers at 80%", fresh)
        arrivals = dict(zip(newcomers, fresh, strict=True))
        _log(client, _traffic(_inside(arrivals), rng), "the newcomers' predictions and labels")

        _step("5. Pause serves everyone the control; resume restores each variant")
        client.experiments.pause(EXPERIMENT)
        paused = Counter(client.assign(EXPERIMENT, d).model_version for d in ids[:200])
        console.print(f"while paused, 200 devices are served: {dict(paused)}")
        client.experiments.resume(EXPERIMENT)
        sample = [d for d in ids[:200] if first[d].in_experiment]
        back = sum(client.assign(EXPERIMENT, d).variant == first[d].variant for d in sample)
        console.print(f"after resume, devices back on their own variant: {back} of {len(sample)}")

        _step("6. Invalid moves are refused, and nothing is written")
        attempts: list[Callable[[], object]] = [
            lambda: client.experiments.update_split(EXPERIMENT, traffic_split=120),
            lambda: client.experiments.launch(EXPERIMENT),
        ]
        for attempt in attempts:
            try:
                attempt()
            except AblabError as exc:
                console.print(f"[yellow]refused:[/] {exc.message}")

        _step("7. Results: unit-level statistics, SRM judged period by period, a verdict")
        render_results(client.experiments.results(EXPERIMENT))

        _step("8. Promote the treatment, then archive")
        client.experiments.promote(EXPERIMENT)
        served = client.assign(EXPERIMENT, "device-after-promotion")
        console.print(
            f"a device arriving now is served {served.model_version} ({served.reason.value})"
        )
        render_experiment(client.experiments.archive(EXPERIMENT))

        _step("9. The audit log")
        render_audit(client.experiments.audit(EXPERIMENT, limit=20))


# What the two versions do in this simulation: 2.0.0 is more accurate and a little faster.
ACCURACY = {"control": 0.871, "treatment": 0.894}
LATENCY_MS = {"control": 42.0, "treatment": 39.0}
ERROR_RATE = {"control": 0.003, "treatment": 0.002}


def _inside(assignments: dict[str, AssignmentPublic]) -> dict[str, AssignmentPublic]:
    return {device: a for device, a in assignments.items() if a.in_experiment}


def _log(client: Client, events: list[dict[str, object]], what: str) -> None:
    logged = client.events.log(events, experiment=EXPERIMENT)
    console.print(f"logged {logged.stored} events: {what} ({len(logged.rejected)} rejected)")


def _traffic(served: dict[str, AssignmentPublic], rng: random.Random) -> list[dict[str, object]]:
    """Each device sends 5-25 X-rays now; a radiologist labels most of them a minute later.

    Predictions are stamped with the moment they are logged, as a serving path would stamp
    them: the SRM check places each device in the weight period of its first event.
    """
    start = datetime.now(UTC)
    events: list[dict[str, object]] = []
    for device, assignment in served.items():
        variant = str(assignment.variant)
        # Devices differ (scanners, hospitals): a device-level effect, as in real fleets.
        skill = min(0.99, max(0.5, rng.gauss(ACCURACY[variant], 0.04)))
        for k in range(rng.randint(5, 25)):
            prediction_id = f"{device}-{k}"
            at = start - timedelta(milliseconds=rng.uniform(0, 500))
            events.append(
                {
                    "event_id": f"prediction-{prediction_id}",
                    "type": "prediction",
                    "unit_id": device,
                    "variant": variant,
                    "prediction_id": prediction_id,
                    "latency_ms": rng.gammavariate(9.0, LATENCY_MS[variant] / 9.0),
                    "error": rng.random() < ERROR_RATE[variant],
                    "timestamp": at.isoformat(),
                }
            )
            if rng.random() < 0.9:
                events.append(
                    {
                        "event_id": f"label-{prediction_id}",
                        "type": "label",
                        "prediction_id": prediction_id,
                        "correct": rng.random() < skill,
                        "timestamp": (at + timedelta(seconds=60)).isoformat(),
                    }
                )
    return events


def _tally(title: str, assignments: Iterable[AssignmentPublic]) -> None:
    counts = Counter(
        a.variant if a.in_experiment else f"not in experiment ({a.reason.value})"
        for a in assignments
    )
    table = Table(title=title, show_edge=False)
    table.add_column("Served")
    table.add_column("Devices", justify="right")
    for served, count in sorted(counts.items()):
        table.add_row(str(served), str(count))
    console.print(table)
