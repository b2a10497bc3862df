"""The access room's records: projects, API keys, console users and their sessions, and the
audit log (``services.access``)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ablab.domain.audit import AuditEntry
from ablab.domain.keys import ApiKey
from ablab.domain.projects import Project
from ablab.domain.users import ConsoleSession, User

__all__ = ["AuditRecords", "ConsoleSessionRecords", "KeyRecords", "ProjectRecords", "UserRecords"]


class ProjectRecords(Protocol):
    """The tenants: found by name when a server or the local store starts."""

    def get_project_by_name(self, name: str) -> Project | None: ...
    def list_projects(self) -> list[Project]:
        """Every project, by name."""
        ...

    def add_project(self, project: Project) -> None:
        """Raises Conflict when the name is taken (a replica created it meanwhile)."""
        ...


class KeyRecords(Protocol):
    """API keys, stored hashed; a key is looked up by its id, the part before the secret."""

    def get_key(self, key_id: str) -> ApiKey | None: ...
    def list_keys(self, project_id: str) -> list[ApiKey]:
        """The project's keys, oldest first (by creation time, then id)."""
        ...

    def add_key(self, key: ApiKey) -> None:
        """Raises Conflict when a key with this id exists."""
        ...

    def update_key_times(
        self,
        key_id: str,
        *,
        last_used_at: datetime | None = None,
        revoked_at: datetime | None = None,
    ) -> None:
        """Set the times given (None leaves one as it is); nothing for an unknown key."""
        ...

    def revoke_key(self, key_id: str, at: datetime) -> bool:
        """Mark the key revoked at ``at``; False when it was revoked already (or is unknown)."""
        ...

    def count_keys(self) -> int:
        """Keys of every project, revoked ones included (0 on a fresh store)."""
        ...


class UserRecords(Protocol):
    """Console users. Names are unique across projects: the sign-in form asks no project."""

    def get_user_by_name(self, name: str) -> User | None: ...
    def get_user(self, user_id: str) -> User | None: ...
    def disable_user(self, user_id: str, at: datetime) -> bool:
        """Mark the user disabled and end every console session of theirs; False when the
        user was disabled already."""
        ...

    def list_users(self, project_id: str) -> list[User]:
        """The project's users, by name."""
        ...

    def add_user(self, user: User) -> None:
        """Raises Conflict when the name is taken."""
        ...


class ConsoleSessionRecords(Protocol):
    """Signed-in browsers of the console, by the SHA-256 of their token."""

    def get_console_session(self, token_hash: str) -> ConsoleSession | None:
        """The session, unless it is unknown or its user is disabled (expiry is the
        caller's to check)."""
        ...

    def add_console_session(self, session: ConsoleSession, *, expired_before: datetime) -> None:
        """Store ``session`` and drop every session that expired before ``expired_before``."""
        ...

    def delete_console_session(self, token_hash: str) -> None: ...


class AuditRecords(Protocol):
    """The audit log: every change, written in the transaction of the change."""

    def add_audit(self, entry: AuditEntry) -> None:
        """Append ``entry``; the store gives it its id (``entry.id`` is not read)."""
        ...

    def list_audit(
        self, project_id: str, object_id: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """The newest ``limit`` entries of the project (of one object, if given), newest
        first."""
        ...
