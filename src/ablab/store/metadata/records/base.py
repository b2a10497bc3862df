"""``SqlRecords``: what every SQL records class shares: the session, and the one place where
a broken constraint becomes a Conflict."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ablab.errors import Conflict

__all__ = ["SqlRecords", "chunks"]

# SQLite allows 32766 bound parameters; stay well below on every engine.
_CHUNK = 900


def chunks(items: Iterable[str], size: int = _CHUNK) -> Iterator[list[str]]:
    """``items`` in lists of at most ``size``, for ``IN (...)`` lists of bounded length."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class SqlRecords:
    """The base of each concern's records on one SQLAlchemy session (one transaction)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _add(
        self, row: object, conflict_message: str, details: Mapping[str, object] | None = None
    ) -> None:
        """Insert ``row``; the one place where a broken constraint becomes a Conflict.

        The uniqueness rules (names, versions, one rollout in progress per model) are the
        database's, so a writer racing another on a second server meets them too. Only the
        savepoint is undone here: the caller may catch the Conflict and go on in the same
        transaction, or let it roll the whole transaction back.
        """
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError:
            raise Conflict(conflict_message, details=details) from None
