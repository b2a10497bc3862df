"""Who is acting, in which project, against which store, at what time, trusting what."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ablab.domain.trust import Trust
from ablab.services.ports import MetadataStore, SourceChecker

__all__ = ["Context", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Context:
    """Passed to every use case, so none of them reaches for globals.

    Attributes:
        store: The metadata store.
        project_id: The tenant every read and write is confined to.
        actor: Recorded in the audit log (``local:alice``, ``key:key_3f9c...``).
        clock: Injected so tests can move time.
        trust: What models may load and where requests may go. The default is a server's
            with nothing configured (no in-process model, no link-local address); the
            server passes its operator's, the local store :meth:`Trust.local`.
    """

    store: MetadataStore
    project_id: str
    actor: str
    clock: Callable[[], datetime] = field(default=utc_now)
    trust: Trust = field(default_factory=Trust)
    sources: SourceChecker | None = None
