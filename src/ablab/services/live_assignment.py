"""Assignment on the server's hot path: the same rules as ``assignment.assign``, from memory.

``assignment.assign`` reads the experiment and the unit's stored variant and writes the new
one, in one transaction per call: right for the CLI, a few milliseconds per unit. The server
answers from memory instead:

- each experiment's rules (status, plan, targeting) are kept for ``rules_ttl`` seconds, so
  a change made through another replica is seen within that time (at once through this one);
- units this process has assigned are remembered (up to ``max_units``, oldest forgotten);
- first assignments are written behind, in batches, within ``flush_interval`` seconds, with
  the same first-writer-wins insert, so every replica converges on one stored variant.

The stored variant must be read for a unit only when the plan could have given it another
one: when the weights or the coverage changed since launch, or when the unit is now outside
the target group or the coverage (it may have entered earlier). Otherwise the hash gives
the variant any earlier call stored, and no read is needed. Such a unit's ``reason`` is
``new`` unless this process has seen it; its variant is the same either way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ablab.assignment import AssignmentPlan, compile_condition
from ablab.domain.assignments import Assignment, AssignmentReason
from ablab.domain.experiments import Experiment
from ablab.domain.groups import DeviceGroup
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.rollouts import Rollout, serves_new_version
from ablab.errors import NotFound
from ablab.services.assignment import (
    check_unit_id,
    inside,
    not_running,
    outside,
    outside_rollout,
    plan_of,
    rollouts_of,
)
from ablab.services.context import utc_now
from ablab.services.ports import MetadataStore

__all__ = ["LiveAssigner", "plan_changed"]

logger = logging.getLogger(__name__)

_Predicate = Callable[[str, Mapping[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class _Rules:
    experiment: Experiment
    plan: AssignmentPlan
    targeted: _Predicate | None
    plan_changed: bool
    loaded: float
    own_rollout: Rollout | None = None
    governing_rollout: Rollout | None = None


class LiveAssigner:
    """Assigns units from cached rules; call :meth:`close` to write the last assignments."""

    def __init__(
        self,
        store: MetadataStore,
        *,
        rules_ttl: float = 1.0,
        max_units: int = 1_000_000,
        flush_interval: float = 0.2,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._rules_ttl = rules_ttl
        self._max_units = max_units
        self._clock = clock
        self._rules: dict[tuple[str, str], _Rules] = {}
        self._known: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._pending: dict[str, dict[str, str]] = {}
        self._reloading: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._flush_interval = flush_interval
        self._flusher = threading.Thread(target=self._flush_loop, name="ablab-assignments")
        self._flusher.daemon = True
        self._flusher.start()
        self.assigned = 0

    def assign(
        self,
        project_id: str,
        ref: str,
        unit_id: str,
        attributes: Mapping[str, Any] | None = None,
    ) -> Assignment:
        """The variant to serve ``unit_id`` (same contract as ``assignment.assign``).

        Raises:
            ValidationError: an empty or too long unit id.
            NotFound: no such experiment in the project.
        """
        found = self._decide(project_id, ref, unit_id, attributes, may_read=True)
        assert found is not None
        return found

    def try_assign(
        self,
        project_id: str,
        ref: str,
        unit_id: str,
        attributes: Mapping[str, Any] | None = None,
    ) -> Assignment | None:
        """:meth:`assign` from memory alone; None when the answer needs the store."""
        return self._decide(project_id, ref, unit_id, attributes, may_read=False)

    def _decide(
        self,
        project_id: str,
        ref: str,
        unit_id: str,
        attributes: Mapping[str, Any] | None,
        *,
        may_read: bool,
    ) -> Assignment | None:
        check_unit_id(unit_id)
        rules = self._cached_rules(project_id, ref)
        if rules is None:
            if not may_read:
                return None
            rules = self._load_rules(project_id, ref)
        experiment = rules.experiment
        if experiment.status is not ExperimentStatus.RUNNING:
            return not_running(experiment, unit_id, rules.own_rollout)
        key = (experiment.id, unit_id)
        known = self._known.get(key)
        if known is not None:
            return inside(experiment, unit_id, known, AssignmentReason.STICKY)
        if rules.plan_changed:
            if not may_read:
                return None
            stored = self._stored(experiment.id, unit_id)
            if stored is not None:
                return inside(experiment, unit_id, stored, AssignmentReason.STICKY)
        targeted = rules.targeted is None or rules.targeted(unit_id, attributes or {})
        governing = rules.governing_rollout
        reached = governing is None or serves_new_version(governing, unit_id)
        variant = rules.plan.assign(unit_id) if targeted and reached else None
        if variant is None:
            # It may have entered earlier, when its attributes or the coverage allowed.
            if not rules.plan_changed:
                if not may_read:
                    return None
                stored = self._stored(experiment.id, unit_id)
                if stored is not None:
                    return inside(experiment, unit_id, stored, AssignmentReason.STICKY)
            if not targeted:
                return outside(experiment, unit_id, AssignmentReason.NOT_TARGETED)
            if governing is not None and not reached:
                return outside_rollout(experiment, unit_id, governing)
            return outside(experiment, unit_id, AssignmentReason.NOT_COVERED)
        self._remember(experiment.id, unit_id, variant, new=True)
        return inside(experiment, unit_id, variant, AssignmentReason.NEW)

    def experiment(self, project_id: str, ref: str, *, may_read: bool = True) -> Experiment | None:
        """The experiment as the cached rules hold it (None: not cached and ``may_read`` off).

        Raises:
            NotFound: no such experiment in the project.
        """
        rules = self._cached_rules(project_id, ref)
        if rules is None and may_read:
            rules = self._load_rules(project_id, ref)
        return rules.experiment if rules is not None else None

    def remember_exposures(self, exposed: Mapping[str, Mapping[str, str]]) -> None:
        """Units exposed elsewhere (an SDK assigning locally): their first assignments."""
        for experiment_id, units in exposed.items():
            for unit_id, variant in units.items():
                if (experiment_id, unit_id) not in self._known:
                    self._remember(experiment_id, unit_id, variant, new=True)

    def invalidate(self) -> None:
        """Forget the cached rules (after a change made through this process)."""
        with self._lock:
            self._rules.clear()

    def flush(self) -> None:
        """Write the pending first assignments now."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        at = self._clock()
        for experiment_id, units in pending.items():
            with self._store.session() as session:
                held = session.add_assignments(experiment_id, units, at)
            for unit_id, variant in held.items():
                if variant != units.get(unit_id):
                    # Another replica stored its answer first: that one holds from now on.
                    self._remember(experiment_id, unit_id, variant, new=False)

    def close(self) -> None:
        self._stop.set()
        self._flusher.join(timeout=10)
        self.flush()

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._flush_interval):
            try:
                self.flush()
            except Exception:  # the store may be briefly unavailable: retried next round
                logger.exception("writing first assignments failed; retrying")

    def _cached_rules(self, project_id: str, ref: str) -> _Rules | None:
        """The cached rules; past their TTL they still serve while one thread reloads them.

        Serving the old rules for the moment of a reload keeps a thousand requests from
        all reading the store at once every ``rules_ttl`` seconds.
        """
        key = (project_id, ref)
        cached = self._rules.get(key)
        if cached is None:
            return None
        if time.monotonic() - cached.loaded >= self._rules_ttl and key not in self._reloading:
            with self._lock:
                if key in self._reloading:
                    return cached
                self._reloading.add(key)
            threading.Thread(target=self._reload, args=key, daemon=True).start()
        return cached

    def _reload(self, project_id: str, ref: str) -> None:
        try:
            self._load_rules(project_id, ref)
        except NotFound:
            with self._lock:
                self._rules.pop((project_id, ref), None)
        except Exception:  # the old rules keep serving; the next request tries again
            logger.exception("reloading the rules of %s failed", ref)
        finally:
            with self._lock:
                self._reloading.discard((project_id, ref))

    def _load_rules(self, project_id: str, ref: str) -> _Rules:
        now = time.monotonic()
        with self._store.session() as session:
            experiment = session.get_experiment(project_id, ref)
            if experiment is None:
                raise NotFound(f"unknown experiment {ref!r}", details={"experiment": ref})
            group = session.get_group(project_id, experiment.group) if experiment.group else None
            history = session.list_audit(project_id, object_id=experiment.id, limit=10_000)
            own, governing = rollouts_of(session, experiment)
        rules = _Rules(
            experiment=experiment,
            plan=plan_of(experiment),
            targeted=_membership(group),
            plan_changed=plan_changed(history),
            loaded=now,
            own_rollout=own,
            governing_rollout=governing,
        )
        with self._lock:
            self._rules[(project_id, ref)] = rules
        return rules

    def _stored(self, experiment_id: str, unit_id: str) -> str | None:
        with self._lock:
            pending = self._pending.get(experiment_id, {}).get(unit_id)
        if pending is not None:
            return pending
        with self._store.session() as session:
            stored = session.get_assignments(experiment_id, [unit_id]).get(unit_id)
        if stored is not None:
            self._remember(experiment_id, unit_id, stored, new=False)
        return stored

    def _remember(self, experiment_id: str, unit_id: str, variant: str, *, new: bool) -> None:
        with self._lock:
            self._known[(experiment_id, unit_id)] = variant
            if len(self._known) > self._max_units:
                self._known.popitem(last=False)
            if new:
                self._pending.setdefault(experiment_id, {})[unit_id] = variant
                self.assigned += 1


def _membership(group: DeviceGroup | None) -> _Predicate | None:
    """Whether a unit belongs to the target group: by its id (a member list) or attributes."""
    if group is None:
        return None
    if group.condition is None:
        members = group.members
        return lambda unit_id, attributes: unit_id in members
    predicate = compile_condition(dict(group.condition))
    return lambda unit_id, attributes: bool(predicate(attributes))


def plan_changed(history: list[Any]) -> bool:
    """Whether the weights or the coverage changed while the experiment ran."""
    seen = set()
    for entry in history:
        after = entry.after or {}
        if not after.get("started_at") or not after.get("variants"):
            continue
        weights = tuple((v["name"], float(v["weight"])) for v in after["variants"])
        seen.add((weights, float(after.get("coverage", 100.0))))
    return len(seen) > 1
