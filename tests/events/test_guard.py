"""Automatic decisions: a broken guardrail stops the experiment; auto-promote promotes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from ablab.contract.experiments import ExperimentUpdate
from ablab.domain.lifecycle import Action
from ablab.notify import WebhookAlerts
from ablab.services.access.audit import list_audit
from ablab.services.analysis.results import experiment_results
from ablab.services.assignment.assign import assign
from ablab.services.automation.guard import AutomaticAction, analyze_experiment, enforce
from ablab.services.automation.monitor import Monitor, check_running_experiments
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.lifecycle import get_experiment, transition, update_experiment
from ablab.services.ports import EventStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Receiver:
    """A real HTTP endpoint on loopback that records the JSON bodies posted to it."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def traffic(
    devices: int, accuracy: dict[str, float], errors: dict[str, float], seed: int
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    stamp = (NOW - timedelta(minutes=30)).isoformat()
    events: list[dict[str, Any]] = []
    for device in range(devices):
        variant = "treatment" if device % 2 else "control"
        for k in range(10):
            pid = f"{seed}-{device}-{k}"
            events.append(
                {
                    "event_id": f"p{pid}",
                    "type": "prediction",
                    "experiment": "trial",
                    "unit_id": f"d{device}",
                    "variant": variant,
                    "prediction_id": pid,
                    "latency_ms": 30.0,
                    "error": bool(rng.random() < errors[variant]),
                    "timestamp": stamp,
                }
            )
            events.append(
                {
                    "event_id": f"l{pid}",
                    "type": "label",
                    "prediction_id": pid,
                    "correct": bool(rng.random() < accuracy[variant]),
                    "timestamp": stamp,
                }
            )
    return events


def clock(ctx: Context) -> Context:
    return replace(ctx, clock=lambda: NOW)


def test_broken_guardrail_stops_audits_and_alerts(
    ctx: Context, trial: str, events: EventStore, receiver: Receiver
) -> None:
    update_experiment(ctx, "trial", ExperimentUpdate(guardrails=["error_rate<=0.01"]))
    stream = traffic(
        200, {"control": 0.85, "treatment": 0.9}, {"control": 0.0, "treatment": 0.08}, seed=1
    )
    ingest_events(clock(ctx), events, stream)
    results = analyze_experiment(clock(ctx), events, "trial", WebhookAlerts(receiver.url))
    assert results.experiment.status == "stopped"
    assert get_experiment(ctx, "trial").status == "stopped"
    # Everyone is back on the control at once.
    assert assign(ctx, "trial", "d1").model_version == "1.0.0"
    entries = list_audit(ctx, object_id=results.experiment.id)
    assert [(e.action, e.actor) for e in entries[:2]] == [
        ("stopped_by_guardrail", "ablab:guardrail"),
        ("stop", "ablab:guardrail"),
    ]
    assert entries[0].after is not None
    assert "treatment error_rate=" in entries[0].after["reason"]
    (alert,) = receiver.bodies
    assert alert["action"] == "stopped_by_guardrail"
    assert alert["experiment"]["name"] == "trial"
    assert alert["guardrails"][0]["violated"] is True


def test_auto_promote_on_a_clear_win(
    ctx: Context, trial: str, events: EventStore, receiver: Receiver
) -> None:
    update_experiment(ctx, "trial", ExperimentUpdate(auto_promote=True))
    stream = traffic(
        400, {"control": 0.80, "treatment": 0.92}, {"control": 0.0, "treatment": 0.0}, seed=2
    )
    ingest_events(clock(ctx), events, stream)
    results = analyze_experiment(clock(ctx), events, "trial", WebhookAlerts(receiver.url))
    assert (results.experiment.status, results.experiment.winner) == ("promoted", "treatment")
    assert receiver.bodies[0]["action"] == "auto_promoted"
    assert receiver.bodies[0]["variant"] == "treatment"


def test_auto_promote_acts_only_on_the_version_it_analysed(
    ctx: Context, trial: str, events: EventStore
) -> None:
    update_experiment(ctx, "trial", ExperimentUpdate(auto_promote=True))
    stream = traffic(
        400, {"control": 0.80, "treatment": 0.92}, {"control": 0.0, "treatment": 0.0}, seed=4
    )
    ingest_events(clock(ctx), events, stream)
    results = experiment_results(clock(ctx), events, "trial")
    assert results.recommendation.action == "promote"
    # A person pauses it between the analysis and the automatic action: the pause holds.
    transition(ctx, "trial", Action.PAUSE)
    assert enforce(clock(ctx), results) is None
    assert get_experiment(ctx, "trial").status == "paused"


def test_no_action_without_auto_promote_or_below_min_samples(
    ctx: Context, trial: str, events: EventStore
) -> None:
    stream = traffic(
        400, {"control": 0.80, "treatment": 0.92}, {"control": 0.0, "treatment": 0.0}, seed=3
    )
    ingest_events(clock(ctx), events, stream)
    assert enforce(clock(ctx), experiment_results(clock(ctx), events, "trial")) is None
    update_experiment(ctx, "trial", ExperimentUpdate(auto_promote=True, min_samples=1000))
    results = experiment_results(clock(ctx), events, "trial")
    assert not results.min_samples_reached
    assert enforce(clock(ctx), results) is None
    assert get_experiment(ctx, "trial").status == "running"


def test_an_unreachable_webhook_never_undoes_the_stop(
    ctx: Context, trial: str, events: EventStore
) -> None:
    update_experiment(ctx, "trial", ExperimentUpdate(guardrails=["error_rate<=0.01"]))
    ingest_events(
        clock(ctx),
        events,
        traffic(
            240, {"control": 0.9, "treatment": 0.9}, {"control": 0.0, "treatment": 0.2}, seed=4
        ),
    )
    dead = WebhookAlerts("http://127.0.0.1:9/none", timeout=0.2, attempts=2, backoff=0.01)
    action = enforce(clock(ctx), experiment_results(clock(ctx), events, "trial"), dead)
    assert action is AutomaticAction.STOPPED_BY_GUARDRAIL
    assert get_experiment(ctx, "trial").status == "stopped"


def test_an_early_failure_does_not_stop_the_experiment(
    ctx: Context, trial: str, events: EventStore
) -> None:
    """Below min samples, or with an interval still reaching the threshold, nothing acts."""
    update_experiment(ctx, "trial", ExperimentUpdate(guardrails=["error_rate<=0.01"]))
    ingest_events(
        clock(ctx),
        events,
        traffic(20, {"control": 0.9, "treatment": 0.9}, {"control": 0.0, "treatment": 0.3}, seed=5),
    )
    results = analyze_experiment(clock(ctx), events, "trial")
    (guardrail,) = results.guardrails
    assert guardrail.value is not None
    assert guardrail.value > 0.01
    assert not guardrail.violated
    assert results.experiment.status == "running"


def test_the_background_monitor_stops_a_broken_experiment_nobody_looks_at(
    ctx: Context, trial: str, events: EventStore, receiver: Receiver
) -> None:
    update_experiment(ctx, "trial", ExperimentUpdate(guardrails=["error_rate<=0.01"]))
    stream = traffic(
        200, {"control": 0.85, "treatment": 0.9}, {"control": 0.0, "treatment": 0.08}, seed=7
    )
    ingest_events(clock(ctx), events, stream)
    monitor = Monitor(ctx.store, events, WebhookAlerts(receiver.url), interval=0.05)
    monitor.start()
    try:
        deadline = time.monotonic() + 30
        while get_experiment(ctx, "trial").status != "stopped" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        monitor.stop()
    assert get_experiment(ctx, "trial").status == "stopped"
    entries = list_audit(ctx, object_id=get_experiment(ctx, "trial").id)
    assert entries[0].action == "stopped_by_guardrail"
    assert entries[0].after is not None
    assert entries[0].after["analysis_by"] == "ablab:monitor"
    assert [b["action"] for b in receiver.bodies] == ["stopped_by_guardrail"]


def test_a_failing_experiment_does_not_stop_the_monitor_round(
    ctx: Context, trial: str, events: EventStore
) -> None:
    """An experiment whose custom metric definition is gone is reported, the rest checked."""
    with ctx.store.session() as session:
        experiment = session.get_experiment(ctx.project_id, "trial")
        assert experiment is not None
        session.update_experiment(replace(experiment, primary_metric="vanished"))
    checks = check_running_experiments(ctx.store, events)
    (check,) = [c for c in checks if c.experiment == "trial"]
    assert check.action is None
    assert check.error is not None
    assert "unknown metric 'vanished'" in check.error
