"""The access records on SQL: projects, API keys, console users and sessions, the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select, update

from ablab.domain.audit import AuditEntry
from ablab.domain.keys import ApiKey
from ablab.domain.projects import Project
from ablab.domain.users import ConsoleSession, User
from ablab.store.metadata import mapping
from ablab.store.metadata.records.base import SqlRecords
from ablab.store.metadata.tables import ApiKeyRow, AuditRow, ConsoleSessionRow, ProjectRow, UserRow

__all__ = [
    "SqlAuditRecords",
    "SqlConsoleSessionRecords",
    "SqlKeyRecords",
    "SqlProjectRecords",
    "SqlUserRecords",
]


class SqlProjectRecords(SqlRecords):
    """``ports.access.ProjectRecords``."""

    def get_project_by_name(self, name: str) -> Project | None:
        row = self._session.scalar(select(ProjectRow).where(ProjectRow.name == name))
        return mapping.project_from_row(row) if row else None

    def list_projects(self) -> list[Project]:
        rows = self._session.scalars(select(ProjectRow).order_by(ProjectRow.name))
        return [mapping.project_from_row(r) for r in rows]

    def add_project(self, project: Project) -> None:
        self._add(mapping.project_to_row(project), f"project {project.name!r} exists")


class SqlKeyRecords(SqlRecords):
    """``ports.access.KeyRecords``."""

    def get_key(self, key_id: str) -> ApiKey | None:
        row = self._session.get(ApiKeyRow, key_id)
        return mapping.key_from_row(row) if row else None

    def list_keys(self, project_id: str) -> list[ApiKey]:
        rows = self._session.scalars(
            select(ApiKeyRow)
            .where(ApiKeyRow.project_id == project_id)
            .order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        )
        return [mapping.key_from_row(r) for r in rows]

    def add_key(self, key: ApiKey) -> None:
        self._add(mapping.key_to_row(key), f"an API key with id {key.id!r} exists")

    def update_key_times(
        self,
        key_id: str,
        *,
        last_used_at: datetime | None = None,
        revoked_at: datetime | None = None,
    ) -> None:
        values: dict[str, datetime] = {}
        if last_used_at is not None:
            values["last_used_at"] = last_used_at
        if revoked_at is not None:
            values["revoked_at"] = revoked_at
        if values:
            self._session.execute(update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(**values))

    def revoke_key(self, key_id: str, at: datetime) -> bool:
        # Conditional: of two revocations at once, one writes (and is audited), the other
        # finds the key revoked already.
        result = self._session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        self._session.expire_all()  # a later get_key reads what the database holds
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def count_keys(self) -> int:
        return int(self._session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)


class SqlUserRecords(SqlRecords):
    """``ports.access.UserRecords``."""

    def get_user_by_name(self, name: str) -> User | None:
        row = self._session.scalar(select(UserRow).where(UserRow.name == name))
        return mapping.user_from_row(row) if row else None

    def list_users(self, project_id: str) -> list[User]:
        rows = self._session.scalars(
            select(UserRow).where(UserRow.project_id == project_id).order_by(UserRow.name)
        )
        return [mapping.user_from_row(r) for r in rows]

    def get_user(self, user_id: str) -> User | None:
        row = self._session.get(UserRow, user_id)
        return mapping.user_from_row(row) if row else None

    def disable_user(self, user_id: str, at: datetime) -> bool:
        result = self._session.execute(
            update(UserRow)
            .where(UserRow.id == user_id, UserRow.disabled_at.is_(None))
            .values(disabled_at=at)
        )
        # Signed-in browsers of the user are signed out with it (a sign-in racing with this
        # may still add one: get_console_session never returns a disabled user's session).
        self._session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.user_id == user_id))
        self._session.expire_all()  # a later get_user reads what the database holds
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def add_user(self, user: User) -> None:
        self._add(mapping.user_to_row(user), f"a user named {user.name!r} exists")


class SqlConsoleSessionRecords(SqlRecords):
    """``ports.access.ConsoleSessionRecords``."""

    def get_console_session(self, token_hash: str) -> ConsoleSession | None:
        # The user's state is read with the session, not checked once at sign-in: a sign-in
        # that raced with disabling the user left a session nobody may use.
        row = self._session.scalar(
            select(ConsoleSessionRow)
            .outerjoin(UserRow, UserRow.id == ConsoleSessionRow.user_id)
            .where(ConsoleSessionRow.token_hash == token_hash, UserRow.disabled_at.is_(None))
        )
        return mapping.console_session_from_row(row) if row else None

    def add_console_session(self, session: ConsoleSession, *, expired_before: datetime) -> None:
        # Each sign-in sweeps the sessions that expired: the table never grows unbounded.
        self._session.execute(
            delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at < expired_before)
        )
        self._add(mapping.console_session_to_row(session), "this session exists")

    def delete_console_session(self, token_hash: str) -> None:
        self._session.execute(
            delete(ConsoleSessionRow).where(ConsoleSessionRow.token_hash == token_hash)
        )


class SqlAuditRecords(SqlRecords):
    """``ports.access.AuditRecords``."""

    def add_audit(self, entry: AuditEntry) -> None:
        self._session.execute(
            insert(AuditRow).values(
                project_id=entry.project_id,
                actor=entry.actor,
                action=entry.action,
                object_type=entry.object_type,
                object_id=entry.object_id,
                at=entry.at,
                before=dict(entry.before) if entry.before is not None else None,
                after=dict(entry.after) if entry.after is not None else None,
            )
        )

    def list_audit(
        self, project_id: str, object_id: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        query = select(AuditRow).where(AuditRow.project_id == project_id)
        if object_id is not None:
            query = query.where(AuditRow.object_id == object_id)
        rows = self._session.scalars(query.order_by(AuditRow.id.desc()).limit(limit))
        return [mapping.audit_from_row(r) for r in rows]
