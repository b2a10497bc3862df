"""Who runs an LLM experiment's configuration, held in the database as a lease.

Several processes share one metadata database: server replicas on PostgreSQL (or on one
SQLite file), the CLI or the Python client beside them. The process that starts a run
becomes its owner and takes a lease on it (the experiment row records the owner and an
expiry); it renews the lease while it runs, and ends the run itself when done. Only a run
whose lease has expired (its owner died, or lost touch with the database for a whole
lease) may be ended by another process, and every one of these writes is a conditional
UPDATE, so two processes recovering at once end a run once.

The lease is compared with each process's own clock: the lease must outlast the renewal
period plus the clocks' disagreement between machines (NTP keeps that to milliseconds).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from ablab.services.context import utc_now
from ablab.services.ports import MetadataStore

__all__ = [
    "LEASE_SECONDS",
    "RENEWALS_PER_LEASE",
    "LeaseKeeper",
    "RunLease",
]

logger = logging.getLogger(__name__)

# A 30 s lease renewed every 5 s: five renewals in a row may fail (a busy database, a
# process paused by the collector or a debugger) before another process may end the run,
# and a dead owner's run is ended within 35 s.
LEASE_SECONDS = 30.0
RENEWALS_PER_LEASE = 6

_OWNER_LENGTH = 64  # the width of llm_experiments.run_owner


@dataclass(frozen=True, slots=True)
class RunLease:
    """A process's hold on the runs it starts: its id, and how long a lease lasts.

    Attributes:
        owner: The process's id, random, made once per server instance (or per local run);
            ``server@host:pid:1a2b3c4d5e6f`` so that an operator can tell who holds a run.
        seconds: How long a lease lasts without renewal.
    """

    owner: str
    seconds: float = LEASE_SECONDS

    @classmethod
    def new(cls, kind: str, seconds: float = LEASE_SECONDS) -> RunLease:
        """A lease holder with a fresh id (``kind``: ``server``, ``local``)."""
        suffix = f":{os.getpid()}:{secrets.token_hex(6)}"
        prefix = f"{kind}@{socket.gethostname()}"
        return cls(prefix[: _OWNER_LENGTH - len(suffix)] + suffix, seconds)

    @property
    def renew_every(self) -> float:
        """Seconds between two renewals."""
        return self.seconds / RENEWALS_PER_LEASE

    def expiry(self, now: datetime) -> datetime:
        """When a lease taken or renewed at ``now`` runs out."""
        return now + timedelta(seconds=self.seconds)


class LeaseKeeper:
    """Renews a lease holder's leases every :attr:`RunLease.renew_every` seconds, and runs
    ``also`` after each renewal (a server's recovery of expired runs): in a thread of its
    own (:meth:`start`, or ``with``), or a round at a time from someone else's schedule
    (:meth:`tick`; the server's scheduler calls it every :attr:`renew_every` seconds).

    Args:
        store: The metadata store.
        lease: Whose leases, and how long they last.
        held: The experiments whose runs are going on now in this process (called each
            round: a run that ended, or whose worker died, is renewed no more).
        clock: The time a renewal counts from.
        also: Called after each round's renewal; its failure is logged, and the next
            round comes all the same.
    """

    def __init__(
        self,
        store: MetadataStore,
        lease: RunLease,
        held: Callable[[], Collection[str]],
        *,
        clock: Callable[[], datetime] = utc_now,
        also: Callable[[], object] | None = None,
    ) -> None:
        self._store, self._lease, self._held = store, lease, held
        self._clock, self._also = clock, also
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def renew(self) -> set[str]:
        """Renew now; the experiments whose leases this process still holds."""
        wanted = set(self._held())
        if not wanted:
            return set()
        with self._store.session() as session:
            kept = session.renew_llm_leases(
                self._lease.owner, wanted, self._lease.expiry(self._clock())
            )
        for lost in sorted(wanted - kept):
            logger.warning(
                "the lease of LLM experiment %s was lost: another process ended its run after "
                "%.0f s without renewal; what this process still sends for it is not stored",
                lost,
                self._lease.seconds,
            )
        return kept

    def start(self) -> LeaseKeeper:
        self._thread = threading.Thread(target=self._run, name="ablab-llm-lease", daemon=True)
        self._thread.start()
        return self

    @property
    def renew_every(self) -> float:
        """Seconds between two rounds."""
        return self._lease.renew_every

    def tick(self) -> None:
        """One round: the renewal, then ``also``; each one's failure is logged and the
        other runs all the same."""
        for step in (self.renew, self._also):
            if step is None:
                continue
            try:
                step()
            except Exception:  # the keeper must outlive a store hiccup; it is logged
                logger.exception("LLM run leases: %s failed", getattr(step, "__name__", step))

    def _run(self) -> None:
        while not self._stop.wait(self._lease.renew_every):
            self.tick()

    def stop(self, *, hand_back: bool = False) -> None:
        """Stop renewing. ``hand_back``: let the leases of the runs still held expire now,
        so that the next recovery (a restarted server's, at once) ends them."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if hand_back and (held := set(self._held())):
            with self._store.session() as session:
                session.renew_llm_leases(self._lease.owner, held, self._clock())

    def __enter__(self) -> LeaseKeeper:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
