"""``InMemoryMetadataStore``: the metadata store as dicts, for the service tests.

It keeps the promises of ``ablab.services.ports`` that the services rely on, as the SQL
store keeps them (``tests/store/test_metadata_port_contract.py`` runs the same tests on
both):

- A session is a transaction. It works on a copy of the tables, which replaces them when
  the block ends cleanly; if the block raises, the copy is dropped and nothing it wrote
  remains.
- Sessions run one at a time, as SQLite's BEGIN IMMEDIATE makes them (the write lock is
  taken when the transaction begins), so a read-modify-write such as a sequential look or
  a lease never interleaves with another. A session opened inside another in the same
  thread fails at once, where SQLite would wait for its own lock and time out.
- A read-only session (``session(read_only=True)``) takes no lock: it reads the tables as
  last committed (a commit replaces them, never changes them in place, so what it reads
  stays one snapshot), and every method but the lookups (``get_``, ``list_``, ``count_``,
  ``active_``) raises ReadOnlySessionError, as the database refuses any write statement
  there, even one that changes no row.
- The uniqueness rules raise the same Conflict, with the same message, and leave the
  session usable; stale versions and revisions raise the same Conflict; lists come in the
  SQL store's order; values come back as their columns give them (JSON payloads as JSON,
  weights as floats), and a naive datetime is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

from ablab.services.ports import ReadOnlySessionError
from tests.fakes.access import (
    FakeAuditRecords,
    FakeConsoleSessionRecords,
    FakeKeyRecords,
    FakeProjectRecords,
    FakeUserRecords,
)
from tests.fakes.assignment import FakeAssignmentRecords
from tests.fakes.experiments import (
    FakeAllocationPeriodRecords,
    FakeExperimentRecords,
    FakeGroupRecords,
    FakeMetricRecords,
    FakeModelRecords,
    FakeSourceRecords,
)
from tests.fakes.llm import (
    FakeLlmExperimentRecords,
    FakeLlmLeaseRecords,
    FakeLlmRunRecords,
    FakeLlmTaskRecords,
)
from tests.fakes.rollouts import FakeRolloutRecords
from tests.fakes.sequential import FakeSequentialStateRecords
from tests.fakes.tables import MetadataTables

if TYPE_CHECKING:
    from ablab.services.ports import MetadataSession, MetadataStore

__all__ = ["InMemoryMetadataSession", "InMemoryMetadataStore"]

# SQLite's busy timeout in the SQL store: how long a session waits for another to end.
_LOCK_TIMEOUT_SECONDS = 30.0


class InMemoryMetadataSession(
    FakeProjectRecords,
    FakeKeyRecords,
    FakeUserRecords,
    FakeConsoleSessionRecords,
    FakeAuditRecords,
    FakeModelRecords,
    FakeGroupRecords,
    FakeMetricRecords,
    FakeSourceRecords,
    FakeExperimentRecords,
    FakeAllocationPeriodRecords,
    FakeAssignmentRecords,
    FakeRolloutRecords,
    FakeSequentialStateRecords,
    FakeLlmTaskRecords,
    FakeLlmExperimentRecords,
    FakeLlmLeaseRecords,
    FakeLlmRunRecords,
):
    """One transaction over a copy of the tables (see the module's docstring)."""


_LOOKUPS = ("get_", "list_", "count_", "active_")


class InMemoryReadSession(InMemoryMetadataSession):
    """A read-only transaction over the committed tables: writes are refused."""


def _refused(name: str) -> Callable[..., NoReturn]:
    def write(self: InMemoryReadSession, *args: Any, **kwargs: Any) -> NoReturn:
        raise ReadOnlySessionError(
            f"a write in a read-only session ({name}): open the session with session() to write"
        )

    return write


for _name in dir(InMemoryMetadataSession):
    if not _name.startswith(("_", *_LOOKUPS)):
        setattr(InMemoryReadSession, _name, _refused(_name))


class InMemoryMetadataStore:
    """The metadata store in memory; ``tables`` holds what is committed.

    A test may arrange ``tables`` directly for a state no service writes (a database from
    before a table existed), as a test of the SQL store would with raw SQL.
    """

    def __init__(self) -> None:
        self.tables = MetadataTables()
        self._lock = threading.Lock()
        self._holder: int | None = None  # the thread whose session runs now

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[InMemoryMetadataSession]:
        if read_only:
            reader = InMemoryReadSession(self.tables)  # no lock: what is committed now
            try:
                yield reader
            finally:
                reader._end()
            return
        me = threading.get_ident()
        if self._holder == me:
            raise RuntimeError(
                "a session opened inside another in the same thread: "
                "SQLite would wait for its own write lock"
            )
        if not self._lock.acquire(timeout=_LOCK_TIMEOUT_SECONDS):
            raise TimeoutError("another session held the store for 30 s (database is locked)")
        self._holder = me
        work = self.tables.copy()
        session = InMemoryMetadataSession(work)
        try:
            yield session
            self.tables = work  # commit: the copy becomes the state
        finally:
            session._end()
            self._holder = None
            self._lock.release()

    def close(self) -> None:
        """Nothing to release; the tables stay readable, as a reopened file would be."""


if TYPE_CHECKING:
    # mypy proves the fake an implementation of the ports.
    _session: MetadataSession = InMemoryMetadataSession(MetadataTables())
    _store: MetadataStore = InMemoryMetadataStore()
