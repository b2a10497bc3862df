"""Ingesting events: check each one, store the good ones, report the bad ones by index.

A batch is never refused as a whole for one bad event: each bad event comes back with its
index and a one-line reason, and every good one is stored. Storage is idempotent by
``event_id``, so a client that retries a batch after a timeout never double counts, and the
call returns only once the new events are durable. The checks run column by column
(``validation.BatchChecker``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ablab.domain.experiments import Experiment
from ablab.services.context import Context
from ablab.services.events.validation import MAX_CLOCK_SKEW, BatchChecker
from ablab.services.ports import EventBatch, EventStore

__all__ = ["MAX_CLOCK_SKEW", "EventError", "IngestResult", "exposed_variants", "ingest_events"]


@dataclass(frozen=True, slots=True)
class EventError:
    """The event at ``index`` is refused for ``reason``; ``field`` is the one at fault (None
    when no one field is)."""

    index: int
    event_id: str | None
    reason: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class IngestResult:
    """``accepted`` counts valid events; ``stored`` those new to the store (a retry: 0)."""

    received: int
    accepted: int
    stored: int
    rejected: list[EventError] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.accepted - self.stored


def ingest_events(
    ctx: Context,
    store: EventStore,
    events: Sequence[object],
    *,
    default_experiment: str | None = None,
    lookup: Callable[[str], Experiment | None] | None = None,
    remember: Callable[[dict[str, dict[str, str]]], None] | None = None,
) -> IngestResult:
    """Check and store ``events`` (objects in the wire format of DESIGN.md).

    ``default_experiment`` fills in events that name none (``ablab events import
    --experiment``). ``lookup`` finds an experiment of the project by id or name (the
    server passes its cache); by default each batch reads the metadata store. Exposed
    units are stored as first assignments (a unit keeps its first), through ``remember``
    when given (the server writes them behind), else at once.
    """
    if lookup is not None:
        checker = BatchChecker(lookup, ctx.project_id, ctx.clock(), default_experiment)
        batch, problems = checker.check(events)
    else:
        with ctx.store.session(read_only=True) as session:
            found: dict[str, Experiment | None] = {}

            def resolve(ref: str) -> Experiment | None:
                if ref not in found:
                    found[ref] = session.get_experiment(ctx.project_id, ref)
                return found[ref]

            checker = BatchChecker(resolve, ctx.project_id, ctx.clock(), default_experiment)
            batch, problems = checker.check(events)
    stored = store.append(batch) if len(batch) else 0
    exposed = exposed_variants(batch)
    if exposed:
        if remember is not None:
            remember(exposed)
        else:
            with ctx.store.session() as session:
                for experiment_id, units in exposed.items():
                    session.add_assignments(experiment_id, units, ctx.clock())
    rejected = [
        EventError(problem.index, _event_id(events[problem.index]), problem.reason, problem.field)
        for problem in problems
    ]
    return IngestResult(len(events), len(batch), stored, rejected)


def exposed_variants(batch: EventBatch) -> dict[str, dict[str, str]]:
    """Each exposed unit's variant, by experiment (a unit's first exposure in the batch).

    An exposure is an assignment made somewhere (an SDK assigning locally): storing it as
    the unit's first assignment keeps the unit on it after a split change, everywhere.
    """
    table = batch.tables.get("exposure")
    if table is None or not table.num_rows:
        return {}
    found: dict[str, dict[str, str]] = {}
    for experiment_id, unit_id, variant in zip(
        table.column("experiment_id").to_pylist(),
        table.column("unit_id").to_pylist(),
        table.column("variant").to_pylist(),
        strict=True,
    ):
        found.setdefault(experiment_id, {}).setdefault(unit_id, variant)
    return found


def _event_id(event: object) -> str | None:
    if not isinstance(event, Mapping):
        return None
    event_id = event.get("event_id")
    return event_id if isinstance(event_id, str) else None
