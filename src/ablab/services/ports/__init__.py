"""The storage protocols the services talk to; store/ adapters implement them.

Each room of the services has small ports of its own, one Protocol per concern, in the
module named after it (``ports.access``, ``ports.experiments``, ``ports.llm``, ...).
They live here, below every room, because a ``MetadataSession`` composes them all: every
service opens the same session, and the contract "Rooms of the services" forbids a room to
see a higher room's module, even through this one.

A ``MetadataStore`` hands out ``MetadataSession``s, each one transaction: everything done in a
``with store.session() as session:`` block commits together or not at all. Writes that break
a uniqueness rule of the store raise Conflict and leave the session usable (the caller may
read what won and go on); anything else the block raises rolls the whole transaction back.
A ``with store.session(read_only=True) as session:`` block reads and never writes: it takes
no write lock, so it neither waits for the writer nor makes the writer wait (on SQLite in WAL
mode, where every writing session holds the one write lock from its start); it reads one
snapshot of committed data, taken at the latest at its first read; and a write in it raises
``ReadOnlySessionError``, a bug in the caller, never a silent success. Use it wherever a block
only reads (results, listings, lookups); a read-then-write (a conditional update decided by
what was read) needs ``session()``, whose lock keeps the two together.

``tests/fakes`` holds an in-memory store that keeps these promises, proven against the SQL
one by ``tests/store/test_metadata_port_contract.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol

from ablab.services.ports.access import (
    AuditRecords,
    ConsoleSessionRecords,
    KeyRecords,
    ProjectRecords,
    UserRecords,
)
from ablab.services.ports.analysis import (
    EventReader,
    MetricRequest,
    SequentialStateRecords,
    ShadowSums,
    SourceChecker,
    SourceRecords,
    TimeBucket,
    UnitTable,
    UnitTableReader,
    VariantSums,
)
from ablab.services.ports.assignment import AssignmentRecords
from ablab.services.ports.events import EVENT_COLUMNS, EventBatch, EventWriter
from ablab.services.ports.experiments import (
    AllocationPeriodRecords,
    ExperimentRecords,
    GroupRecords,
    MetricRecords,
    ModelRecords,
)
from ablab.services.ports.llm import (
    LlmExperimentRecords,
    LlmLeaseRecords,
    LlmRunRecords,
    LlmTaskRecords,
)
from ablab.services.ports.rollouts import RolloutRecords

__all__ = [
    "EVENT_COLUMNS",
    "AlertSink",
    "AllocationPeriodRecords",
    "AssignmentRecords",
    "AuditRecords",
    "ConsoleSessionRecords",
    "EventBatch",
    "EventReader",
    "EventStore",
    "EventWriter",
    "ExperimentRecords",
    "GroupRecords",
    "KeyRecords",
    "LlmExperimentRecords",
    "LlmLeaseRecords",
    "LlmRunRecords",
    "LlmTaskRecords",
    "MetadataSession",
    "MetadataStore",
    "MetricRecords",
    "MetricRequest",
    "ModelRecords",
    "ProjectRecords",
    "ReadOnlySessionError",
    "RolloutRecords",
    "SequentialStateRecords",
    "ShadowSums",
    "SourceChecker",
    "SourceRecords",
    "TimeBucket",
    "UnitTable",
    "UnitTableReader",
    "UserRecords",
    "VariantSums",
]


class ReadOnlySessionError(RuntimeError):
    """A write in a session opened with ``read_only=True``: a programming error (the block
    must use ``session()``), so it is no ``AblabError`` and reaches no user as a 4xx."""


class MetadataSession(
    # access
    ProjectRecords,
    KeyRecords,
    UserRecords,
    ConsoleSessionRecords,
    AuditRecords,
    # experiments
    ModelRecords,
    GroupRecords,
    MetricRecords,
    ExperimentRecords,
    AllocationPeriodRecords,
    # assignment, rollouts, analysis
    AssignmentRecords,
    RolloutRecords,
    SequentialStateRecords,
    SourceRecords,
    # llm
    LlmTaskRecords,
    LlmExperimentRecords,
    LlmLeaseRecords,
    LlmRunRecords,
    Protocol,
):
    """Reads and writes of one transaction: every record port at once. Lookups return None
    when nothing matches."""


class MetadataStore(Protocol):
    """Where experiments, models, groups, assignments and the audit log live."""

    def session(self, *, read_only: bool = False) -> AbstractContextManager[MetadataSession]:
        """One transaction: committed when the block ends, rolled back if it raises.

        With ``read_only=True`` the transaction only reads, takes no write lock and refuses
        writes with ``ReadOnlySessionError`` (see the module's docstring).
        """
        ...

    def close(self) -> None: ...


class EventStore(EventReader, EventWriter, Protocol):
    """Where events live: DuckDB on one machine, PostgreSQL when shared."""

    def ping(self) -> None:
        """Raises if the store does not answer."""
        ...

    def close(self) -> None: ...


class AlertSink(Protocol):
    """Where automatic decisions are announced (a webhook); must never raise."""

    def send(self, alert: Mapping[str, object]) -> None: ...
