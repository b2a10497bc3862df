"""The background monitor: every running experiment and rollout checked on a schedule.

The same checks run on every analysis a person asks for (``guard.analyze_experiment``);
the monitor makes sure they also run when nobody looks, so a guardrail broken at night
stops the experiment at night, and a rollout step that harms users is rolled back at
night (``rollouts.step_rollout``). One check's failure (a metric deleted, a store hiccup)
is logged and never stops the others.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.rollouts import RolloutStatus
from ablab.errors import AblabError
from ablab.services.analysis.results import experiment_results
from ablab.services.automation.bandit import rebalance
from ablab.services.automation.guard import AutomaticAction, enforce
from ablab.services.context import Context
from ablab.services.ports import AlertSink, EventStore, MetadataStore
from ablab.services.rollouts.steps import RolloutStep, list_rollouts, step_rollout

__all__ = ["Check", "Monitor", "check_running_experiments"]

logger = logging.getLogger(__name__)

MONITOR_ACTOR = "ablab:monitor"


@dataclass(frozen=True, slots=True)
class Check:
    """One experiment's (or rollout's) check: the action taken (None: none) or the error."""

    project_id: str
    experiment: str
    action: AutomaticAction | RolloutStep | None
    error: str | None = None
    rollout: str | None = None


def check_running_experiments(
    store: MetadataStore,
    events: EventStore,
    alerts: AlertSink | None = None,
    rng: np.random.Generator | None = None,
) -> list[Check]:
    """Analyse every running experiment of every project and take the automatic actions.

    Bandit experiments are rebalanced first (``bandit.rebalance``, Thompson sampling).
    """
    with store.session(read_only=True) as session:
        projects = session.list_projects()
    checks = []
    for project in projects:
        ctx = Context(store, project.id, MONITOR_ACTOR)
        with store.session(read_only=True) as session:
            running = session.list_experiments(project.id, ExperimentStatus.RUNNING)
        for experiment in running:
            try:
                if experiment.bandit:
                    rebalance(ctx, events, experiment.id, rng or np.random.default_rng())
                action = enforce(ctx, experiment_results(ctx, events, experiment.id), alerts)
            except AblabError as exc:
                logger.warning("monitor: %s: %s", experiment.name, exc.message)
                checks.append(Check(project.id, experiment.name, None, exc.message))
                continue
            if action is not None:
                logger.info("monitor: %s: %s", experiment.name, action.value)
            checks.append(Check(project.id, experiment.name, action))
        checks += _step_rollouts(ctx, events, alerts)
    return checks


def _step_rollouts(ctx: Context, events: EventStore, alerts: AlertSink | None) -> list[Check]:
    """Advance or roll back each running rollout of the project (paused ones wait)."""
    checks = []
    for rollout in list_rollouts(ctx):
        if rollout.status is not RolloutStatus.RUNNING:
            continue
        name = rollout.experiment_id or rollout.model
        try:
            step = step_rollout(ctx, events, rollout.id, alerts)
        except AblabError as exc:
            logger.warning("monitor: rollout %s: %s", rollout.id, exc.message)
            checks.append(Check(ctx.project_id, name, None, exc.message, rollout.id))
            continue
        if step is not None:
            logger.info("monitor: rollout %s: %s", rollout.id, step.value)
        checks.append(Check(ctx.project_id, name, step, rollout=rollout.id))
    return checks


class Monitor:
    """Runs :func:`check_running_experiments` every ``interval`` seconds: in a thread of its
    own (:meth:`start`, :meth:`stop`), or one round at a time from someone else's schedule
    (:meth:`run_once`; the server's scheduler calls it)."""

    def __init__(
        self,
        store: MetadataStore,
        events: EventStore,
        alerts: AlertSink | None = None,
        *,
        interval: float = 60.0,
    ) -> None:
        self._store, self._events, self._alerts = store, events, alerts
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ablab-monitor", daemon=True)
        self._thread.start()

    @property
    def interval(self) -> float:
        """Seconds between two rounds."""
        return self._interval

    def run_once(self) -> list[Check]:
        """One round; its failure as a whole (a store that does not answer) is logged, and
        the round counted all the same, so that the next one comes."""
        try:
            return check_running_experiments(self._store, self._events, self._alerts)
        except Exception:  # the monitor must outlive any one failure; it is logged
            logger.exception("monitor round failed")
            return []
        finally:
            self.rounds += 1

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.run_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
