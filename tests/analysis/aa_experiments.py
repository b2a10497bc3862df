"""The A/A experiments of the service-path simulations: set-up, events and stores.

Each experiment compares two identical arms (model ``aa`` versions 1 and 2) on the custom
``score`` metric (a sum, continuous), without CUPED, started at ``LAUNCH``. Each unit sends
one ``exposure`` event and one ``score`` event at the same time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.contract.metrics import MetricCreate
from ablab.services.access.projects import ensure_project
from ablab.services.context import Context
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment
from ablab.services.experiments.metrics import define_metric
from ablab.services.ports import EventStore
from ablab.store.events import DuckDBEventStore
from ablab.store.metadata import open_metadata_store

LAUNCH = datetime(2026, 11, 20, tzinfo=UTC)


def clock_at(moment: datetime) -> Callable[[], datetime]:
    """A clock stopped at ``moment``."""
    return lambda: moment


def launch_experiments(ctx: Context, experiments: int, **settings: Any) -> list[str]:
    """The models, the ``score`` metric and ``experiments`` A/A experiments started at LAUNCH."""
    for version in ("1", "2"):
        register_model_version(
            ctx, ModelVersionCreate(model="aa", version=version, endpoint="http://127.0.0.1:9/")
        )
    define_metric(ctx, MetricCreate(name="score", aggregation="sum", kind="continuous"))
    launched = replace(ctx, clock=clock_at(LAUNCH))
    names = [f"aa-{i}" for i in range(experiments)]
    for name in names:
        create_experiment(
            launched,
            ExperimentCreate(
                name=name, model_id="aa", control_version="1", treatment_version="2",
                primary_metric="score", cuped=False, **settings,
            ),
        )  # fmt: skip
    return names


def unit_events(name: str, start: int, values: np.ndarray, when: datetime) -> list[dict[str, Any]]:
    """Exposure and metric events of ``values`` (control first, then treatment)."""
    stamp = when.isoformat()
    batch = values.shape[1]
    stream: list[dict[str, Any]] = []
    for offset in range(2 * batch):
        unit = f"{name}-u{start + offset}"
        arm = offset % 2
        variant = "treatment" if arm else "control"
        stream.append(
            {"event_id": f"x-{unit}", "type": "exposure", "experiment": name,
             "unit_id": unit, "variant": variant, "timestamp": stamp}
        )  # fmt: skip
        stream.append(
            {"event_id": f"m-{unit}", "type": "metric", "experiment": name, "unit_id": unit,
             "name": "score", "value": float(values[arm, offset // 2]), "timestamp": stamp}
        )  # fmt: skip
    return stream


@contextmanager
def temporary_stores() -> Iterator[tuple[Context, EventStore]]:
    """A context on a fresh SQLite metadata store, and a fresh DuckDB event store."""
    with tempfile.TemporaryDirectory() as folder:
        store = open_metadata_store(f"sqlite:///{Path(folder) / 'ablab.db'}")
        events = DuckDBEventStore(Path(folder) / "events.duckdb")
        try:
            project = ensure_project(store, "default")
            yield Context(store, project.id, actor="test:simulation"), events
        finally:
            events.close()
            store.close()
