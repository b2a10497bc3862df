"""The demo itself (imported only when ``ablab demo`` runs: it needs scikit-learn and the
server).

Two scikit-learn models are trained and served over HTTP; the ablab server routes the
traffic of thousands of simulated devices to them through ``POST /v1/predict``, delayed
labels arrive, a shadow experiment mirrors 2.0.0 behind 1.0.0, and the results and the
recommendation are printed. The servers keep running until Ctrl-C (``DEMO_EXIT=1``: exit
after printing).
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.rule import Rule

from ablab.cli.demo.models import Trained, model_app, train
from ablab.cli.output import TableColumn, console, new_table
from ablab.cli.results_view import render_results
from ablab.client import Client
from ablab.contract.results import ShadowReport
from ablab.server.embedded import ServerThread, free_port

__all__ = ["Waves", "run_demo"]

MODEL = "radiology-v1"
EXPERIMENT = "radiology-v2-trial"
SHADOW = "radiology-v2-shadow"


@dataclass(frozen=True, slots=True)
class Waves:
    """Traffic in ``count`` waves ``gap`` seconds apart, so the experiment has a history:
    the console charts it by the minute."""

    count: int
    gap: float


def _step(title: str) -> None:
    console.print(Rule(f"[bold]{title}"))


@contextmanager
def _serving(
    trained: Trained, home: Path, port: int
) -> Iterator[tuple[ServerThread, str, dict[str, str]]]:
    """The two model servers and ablab, each on uvicorn in a thread; ablab's admin key."""
    from ablab.server import create_app  # noqa: PLC0415 - scikit-learn loads only for ablab demo
    from ablab.settings import Settings  # noqa: PLC0415 - scikit-learn loads only for ablab demo

    key = f"abk_{secrets.token_hex(6)}_{secrets.token_urlsafe(24)}"
    threads = [
        ServerThread(model_app(trained.v1), free_port()).start(),
        ServerThread(model_app(trained.v2), free_port()).start(),
    ]
    settings = Settings(home=home, admin_key=key, monitor_interval=5)
    ablab = ServerThread(create_app(settings), free_port(port)).start()
    urls = {"1.0.0": f"{threads[0].url}/predict", "2.0.0": f"{threads[1].url}/predict"}
    try:
        yield ablab, key, urls
    finally:
        ablab.stop()
        for thread in threads:
            thread.stop()


def run_demo(home: Path | None, devices: int, port: int, waves: Waves) -> None:
    """The demo in ``home``, or in a temporary folder."""
    exit_after = os.environ.get("DEMO_EXIT") == "1"
    if home is not None:
        _run(home, devices, port, exit_after, waves)
        return
    with tempfile.TemporaryDirectory(prefix="ablab-demo-") as folder:
        _run(Path(folder), devices, port, exit_after, waves)


def _run(home: Path, devices: int, port: int, exit_after: bool, waves: Waves) -> None:
    _step("1. Train radiology-v1 1.0.0 and 2.0.0 on scikit-learn's breast-cancer data")
    trained = train()
    console.print(
        "1.0.0: logistic regression on 3 measurements, held-out accuracy "
        f"{trained.accuracy[0]:.3f}\n2.0.0: gradient boosting on all 30, held-out accuracy "
        f"{trained.accuracy[1]:.3f}"
    )
    with _serving(trained, home, port) as (ablab, key, model_urls):
        _step("2. Serve both as HTTP model endpoints; start ablab on the embedded stores")
        console.print(f"ablab: {ablab.url} (store: {home})")
        with Client(base_url=ablab.url, api_key=key) as client:
            for version, url in model_urls.items():
                client.models.register(MODEL, version, endpoint=url)
                console.print(f"registered {MODEL} {version} at {url}")
            _step("3. Create the experiment: 50% of devices to 2.0.0, with guardrails")
            client.experiments.create(
                EXPERIMENT,
                model_id=MODEL,
                control_version="1.0.0",
                treatment_version="2.0.0",
                traffic_split=50,
                hypothesis="2.0.0 reads all 30 measurements and is more accurate",
                guardrails=["error_rate<=0.01", "latency_p95_ms<=250", "latency_ms<=+50%"],
            )
            client.experiments.create(
                SHADOW,
                model_id=MODEL,
                control_version="1.0.0",
                treatment_version="2.0.0",
                shadow=True,
                hypothesis="2.0.0 behind 1.0.0, answering nobody",
            )
            http = httpx.Client(
                base_url=ablab.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
            _step(
                f"4. {devices} devices send predictions through POST /v1/predict"
                + (f", in {waves.count} waves {waves.gap:g} s apart" if waves.count > 1 else "")
            )
            served = _traffic(
                http, trained, EXPERIMENT, devices, rng=np.random.default_rng(1), waves=waves
            )
            _step("5. The delayed labels arrive (the ground truth of each prediction)")
            _labels(client, served)
            _wait_for(client, EXPERIMENT, len(served))
            _step("6. Results")
            render_results(client.experiments.results(EXPERIMENT))
            _step("7. Shadow comparison: 2.0.0 mirrored behind 1.0.0, answering nobody")
            mirrored = _traffic(
                http, trained, SHADOW, devices // 3, rng=np.random.default_rng(2), waves=Waves(1, 0)
            )
            _labels(client, mirrored)
            reports = _wait_for_shadow(client, len(mirrored))
            _render_shadow(reports)
            http.close()
        console.print(
            f"\nThe server keeps running: API {ablab.url}/docs, key {key}\n"
            f"  ablab --url {ablab.url} --api-key {key} experiment results {EXPERIMENT}\n"
            f"Console: {ablab.url}/experiments/{EXPERIMENT} (sign in with the key above)"
        )
        if exit_after:
            return
        console.print("Press Ctrl-C to stop.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            console.print("stopped")


def _traffic(
    http: httpx.Client,
    trained: Trained,
    experiment: str,
    devices: int,
    *,
    rng: np.random.Generator,
    waves: Waves,
) -> list[tuple[str, int]]:
    """Each device sends 1 to 4 cases (held-out rows with a little noise), the devices in
    ``waves``; returns the prediction ids with the truth of their case."""
    jobs = []
    for device in range(devices):
        for _ in range(int(rng.integers(1, 5))):
            row = int(rng.integers(len(trained.truth)))
            noise = 1 + rng.normal(0, 0.02, trained.features.shape[1])
            jobs.append((f"device-{device:05d}", (trained.features[row] * noise).tolist(), row))

    def send(job: tuple[str, list[float], int]) -> tuple[str, int]:
        unit, features, row = job
        answer = http.post(
            f"/v1/predict/{experiment}", json={"unit_id": unit, "features": features}
        )
        answer.raise_for_status()
        return answer.json()["prediction_id"], int(trained.truth[row])

    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    found: list[tuple[str, int]] = []
    with Progress(*columns, TimeRemainingColumn(), console=console, transient=False) as progress:
        task = progress.add_task(f"{experiment}: predictions", total=len(jobs))
        with ThreadPoolExecutor(max_workers=8) as pool:
            # Jobs are in device order, so each wave brings devices of its own.
            size = -(-len(jobs) // waves.count)
            for wave in range(waves.count):
                if wave:
                    time.sleep(waves.gap)
                for result in pool.map(send, jobs[wave * size : (wave + 1) * size]):
                    found.append(result)
                    progress.advance(task)
    return found


def _labels(client: Client, served: list[tuple[str, int]]) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    events: list[Any] = [
        {
            "event_id": f"label-{prediction_id}",
            "type": "label",
            "prediction_id": prediction_id,
            "label": truth,
            "timestamp": stamp,
        }
        for prediction_id, truth in served
    ]
    stored = sum(
        client.events.log(events[start : start + 5000]).stored
        for start in range(0, len(events), 5000)
    )
    console.print(f"{stored} labels stored")


def _wait_for(client: Client, experiment: str, predictions: int, timeout: float = 60) -> None:
    """Until the server's background event writer has stored every prediction."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        results = client.experiments.results(experiment)
        if sum(v.predictions for v in results.variants) >= predictions:
            return
        time.sleep(0.3)


def _wait_for_shadow(client: Client, pairs: int, timeout: float = 60) -> list[ShadowReport]:
    deadline = time.monotonic() + timeout
    reports: list[ShadowReport] = []
    while time.monotonic() < deadline:
        reports = client.experiments.results(SHADOW).shadow or []
        if reports and reports[0].pairs >= pairs and reports[0].labelled >= pairs:
            break
        time.sleep(0.3)
    return reports


def _render_shadow(reports: list[ShadowReport]) -> None:
    table = new_table(
        *(
            TableColumn(c, justify="right", whole=True)
            for c in ("Shadow", "Pairs", "Agreement", "Served acc.", "Shadow acc.", "Latency")
        )
    )
    for report in reports:
        agreement = report.agreement_rate
        low, high = agreement.ci
        table.add_row(
            report.variant,
            str(report.pairs),
            f"{agreement.value:.1%} [{low:.1%}, {high:.1%}]"
            if agreement.value is not None and low is not None and high is not None
            else "-",
            f"{report.served_accuracy or 0:.3f}",
            f"{report.shadow_accuracy or 0:.3f}",
            f"{report.served_latency_ms or 0:.0f} / {report.shadow_latency_ms or 0:.0f} ms",
        )
    console.print(table)
