"""Ingesting events: check each one, store the good ones, report the bad ones by index.

A batch is never refused as a whole for one bad event: each bad event comes back with its
index and a one-line reason, and every good one is stored. Storage is idempotent by
``event_id``, so a client that retries a batch after a timeout never double counts, and the
call returns only once the new events are durable. The checks run column by column
(``validation.BatchChecker``). Checking (:func:`check_events`) and storing
(:func:`store_events`) are apart so that the server can check in other processes and store
in its own; :func:`ingest_events` does both here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ablab.domain.experiments import Experiment
from ablab.services.context import Context
from ablab.services.events.validation import MAX_CLOCK_SKEW, BatchChecker
from ablab.services.ports import EventBatch, EventStore

__all__ = [
    "MAX_CLOCK_SKEW",
    "CheckedEvents",
    "EventError",
    "IngestResult",
    "check_events",
    "exposed_variants",
    "ingest_events",
    "store_events",
]


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


@dataclass(frozen=True, slots=True)
class CheckedEvents:
    """A checked batch on its way to the store: the good events as Arrow tables, the
    refusals, and each exposed unit's variant by experiment (from :func:`exposed_variants`).

    The server's checker processes make these from a request's body and hand them back as
    Arrow IPC; :func:`store_events` takes them from there.
    """

    received: int
    batch: EventBatch
    rejected: list[EventError] = field(default_factory=list)
    exposed: dict[str, dict[str, str]] = field(default_factory=dict)


def check_events(
    project_id: str,
    now: datetime,
    events: Sequence[object],
    resolve: Callable[[str], Experiment | None],
    *,
    default_experiment: str | None = None,
) -> CheckedEvents:
    """Check ``events`` (objects in the wire format of DESIGN.md) against the experiments
    ``resolve`` finds by id or name; nothing is written."""
    batch, problems = BatchChecker(resolve, project_id, now, default_experiment).check(events)
    rejected = [
        EventError(problem.index, _event_id(events[problem.index]), problem.reason, problem.field)
        for problem in problems
    ]
    return CheckedEvents(len(events), batch, rejected, exposed_variants(batch))


def store_events(
    ctx: Context,
    store: EventStore,
    checked: CheckedEvents,
    *,
    remember: Callable[[dict[str, dict[str, str]]], None] | None = None,
) -> IngestResult:
    """Store a checked batch durably, then its exposed units as first assignments (a unit
    keeps its first): through ``remember`` when given (the server writes them behind), else
    at once. Returns once the new events are durable."""
    batch = checked.batch
    stored = store.append(batch) if len(batch) else 0
    if checked.exposed:
        if remember is not None:
            remember(checked.exposed)
        else:
            with ctx.store.session() as session:
                for experiment_id, units in checked.exposed.items():
                    session.add_assignments(experiment_id, units, ctx.clock())
    return IngestResult(checked.received, len(batch), stored, checked.rejected)


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
        checked = check_events(
            ctx.project_id, ctx.clock(), events, lookup, default_experiment=default_experiment
        )
    else:
        with ctx.store.session(read_only=True) as session:
            found: dict[str, Experiment | None] = {}

            def resolve(ref: str) -> Experiment | None:
                if ref not in found:
                    found[ref] = session.get_experiment(ctx.project_id, ref)
                return found[ref]

            checked = check_events(
                ctx.project_id, ctx.clock(), events, resolve, default_experiment=default_experiment
            )
    return store_events(ctx, store, checked, remember=remember)


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
