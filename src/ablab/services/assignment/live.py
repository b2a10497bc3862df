"""Assignment on the server's hot path: ``decide`` from memory, first assignments durable.

``assignment.assign`` reads the experiment, its rules and the unit's stored variant in one
transaction per call: right for the CLI, a few milliseconds per unit. The server answers
from memory instead, with the same function (:func:`ablab.assignment.decide`):

- each experiment's rules are kept for ``rules_ttl`` seconds, so a change made through
  another replica is seen within that time (at once through this one);
- units whose stored variant this process knows are remembered (up to ``max_units``,
  oldest forgotten);
- a new unit's first assignment is written before it is answered, grouped with the other
  new units of the moment into one commit (``FirstAssignmentWriter``); the answer is what
  the store holds, so every replica converges on one stored variant and a crash loses
  nothing that was answered.

The stored variant is read only when ``decide`` says it matters (the plan changed, or the
unit is now outside the group, the coverage or a rollout's share).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ablab.assignment import (
    NEEDS_STORED,
    UNKNOWN,
    Assignment,
    AssignmentReason,
    CompiledRules,
    compile_rules,
    decide,
)
from ablab.domain.experiments import Experiment
from ablab.errors import NotFound
from ablab.services.assignment.assign import check_unit_id, rules_of
from ablab.services.assignment.first_assignments import FirstAssignmentWriter, Held
from ablab.services.ports import MetadataStore

__all__ = ["LiveAssigner"]

logger = logging.getLogger(__name__)

# Long enough for a loaded store; a request waiting longer has lost its client anyway.
WRITE_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class _Rules:
    experiment: Experiment
    compiled: CompiledRules
    loaded: float


class LiveAssigner:
    """Assigns units from cached rules; :meth:`close` waits for the last writes."""

    def __init__(
        self,
        store: MetadataStore,
        writer: FirstAssignmentWriter | None = None,
        *,
        rules_ttl: float = 1.0,
        max_units: int = 1_000_000,
    ) -> None:
        self._store = store
        self._writer = writer or FirstAssignmentWriter(store)
        self._owns_writer = writer is None
        self._rules_ttl = rules_ttl
        self._max_units = max_units
        self._rules: dict[tuple[str, str], _Rules] = {}
        self._known: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._reloading: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def assign(
        self,
        project_id: str,
        ref: str,
        unit_id: str,
        attributes: Mapping[str, Any] | None = None,
    ) -> Assignment:
        """The variant to serve ``unit_id``, durable if new (same contract as
        ``assignment.assign``). Blocks on the store: call it off the event loop.

        Raises:
            ValidationError: an empty or too long unit id.
            NotFound: no such experiment in the project.
            Unavailable: a new unit's assignment could not be stored.
        """
        check_unit_id(unit_id)
        rules = self._cached_rules(project_id, ref) or self._load_rules(project_id, ref)
        found = self._decide(rules, unit_id, attributes, may_read=True)
        assert found is not None
        if isinstance(found, Future):
            return found.result(timeout=WRITE_TIMEOUT)
        return found

    def try_assign(
        self,
        project_id: str,
        ref: str,
        unit_id: str,
        attributes: Mapping[str, Any] | None = None,
    ) -> Assignment | Future[Assignment] | None:
        """:meth:`assign` without reading the store: the answer; a future of it while a new
        unit's first assignment is being written; or None when the store must be read.

        Raises:
            ValidationError: an empty or too long unit id.
        """
        check_unit_id(unit_id)
        rules = self._cached_rules(project_id, ref)
        if rules is None:
            return None
        return self._decide(rules, unit_id, attributes, may_read=False)

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
        """Store units exposed elsewhere (an SDK assigning locally) as first assignments,
        durably, before returning (the events that carried them are then acknowledged).

        Raises:
            Unavailable: the store could not be written.
        """
        writes: list[tuple[str, Future[Held]]] = []
        for experiment_id, units in exposed.items():
            new = {u: v for u, v in units.items() if (experiment_id, u) not in self._known}
            if new:
                writes.append((experiment_id, self._writer.persist(experiment_id, new)))
        for experiment_id, write in writes:
            for unit_id, variant in write.result(timeout=WRITE_TIMEOUT).items():
                self._remember(experiment_id, unit_id, variant)

    def invalidate(self) -> None:
        """Forget the cached rules (after a change made through this process)."""
        with self._lock:
            self._rules.clear()

    def close(self) -> None:
        if self._owns_writer:
            self._writer.close()

    def _decide(
        self,
        rules: _Rules,
        unit_id: str,
        attributes: Mapping[str, Any] | None,
        *,
        may_read: bool,
    ) -> Assignment | Future[Assignment] | None:
        experiment = rules.experiment
        known = self._known.get((experiment.id, unit_id))
        found = decide(
            rules.compiled, unit_id, attributes, stored=UNKNOWN if known is None else known
        )
        if found is NEEDS_STORED:
            if not may_read:
                return None
            found = decide(
                rules.compiled, unit_id, attributes, stored=self._stored(experiment.id, unit_id)
            )
            assert found is not NEEDS_STORED
        if found.reason is not AssignmentReason.NEW or found.variant is None:
            return found
        return self._write(rules, found, attributes)

    def _write(
        self, rules: _Rules, found: Assignment, attributes: Mapping[str, Any] | None
    ) -> Future[Assignment]:
        """Store a new unit's variant; the future holds the answer once it is durable."""
        experiment_id, unit_id, variant = rules.experiment.id, found.unit_id, found.variant
        assert variant is not None
        answer: Future[Assignment] = Future()

        def settle(write: Future[Held]) -> None:
            try:
                held = write.result()[unit_id]
            except BaseException as exc:
                answer.set_exception(exc)
                return
            self._remember(experiment_id, unit_id, held)
            if held == variant:
                answer.set_result(found)
                return
            # Another replica stored its answer first: that one holds from now on.
            sticky = decide(rules.compiled, unit_id, attributes, stored=held)
            assert sticky is not NEEDS_STORED
            answer.set_result(sticky)

        self._writer.persist(experiment_id, {unit_id: variant}).add_done_callback(settle)
        return answer

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
        with self._store.session(read_only=True) as session:
            experiment = session.get_experiment(project_id, ref)
            if experiment is None:
                raise NotFound(f"unknown experiment {ref!r}", details={"experiment": ref})
            rules = rules_of(session, experiment)
        loaded = _Rules(experiment, compile_rules(rules), now)
        with self._lock:
            self._rules[(project_id, ref)] = loaded
        return loaded

    def _stored(self, experiment_id: str, unit_id: str) -> str | None:
        with self._store.session(read_only=True) as session:
            stored = session.get_assignments(experiment_id, [unit_id]).get(unit_id)
        if stored is not None:
            self._remember(experiment_id, unit_id, stored)
        return stored

    def _remember(self, experiment_id: str, unit_id: str, variant: str) -> None:
        with self._lock:
            self._known[(experiment_id, unit_id)] = variant
            if len(self._known) > self._max_units:
                self._known.popitem(last=False)
