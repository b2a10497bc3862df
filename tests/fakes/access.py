"""The access records in memory: projects, API keys, console users and sessions, the audit
log (``ablab.services.ports.access``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ablab.domain.audit import AuditEntry
from ablab.domain.keys import ApiKey
from ablab.domain.projects import Project
from ablab.domain.users import ConsoleSession, User
from tests.fakes.tables import FakeRecords, as_json, refuse, refuse_naive

__all__ = [
    "FakeAuditRecords",
    "FakeConsoleSessionRecords",
    "FakeKeyRecords",
    "FakeProjectRecords",
    "FakeUserRecords",
]


class FakeProjectRecords(FakeRecords):
    def get_project_by_name(self, name: str) -> Project | None:
        return next((p for p in self._tables.projects.values() if p.name == name), None)

    def list_projects(self) -> list[Project]:
        return sorted(self._tables.projects.values(), key=lambda p: p.name)

    def add_project(self, project: Project) -> None:
        refuse_naive(project)
        projects = self._tables.projects
        if project.id in projects or self.get_project_by_name(project.name) is not None:
            refuse(f"project {project.name!r} exists")
        projects[project.id] = project


class FakeKeyRecords(FakeRecords):
    def get_key(self, key_id: str) -> ApiKey | None:
        return self._tables.keys.get(key_id)

    def list_keys(self, project_id: str) -> list[ApiKey]:
        keys = (k for k in self._tables.keys.values() if k.project_id == project_id)
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    def add_key(self, key: ApiKey) -> None:
        refuse_naive(key)
        if key.id in self._tables.keys:
            refuse(f"an API key with id {key.id!r} exists")
        self._tables.keys[key.id] = key

    def update_key_times(
        self,
        key_id: str,
        *,
        last_used_at: datetime | None = None,
        revoked_at: datetime | None = None,
    ) -> None:
        refuse_naive(last_used_at)
        refuse_naive(revoked_at)
        key = self._tables.keys.get(key_id)
        if key is None:
            return
        if last_used_at is not None:
            key = replace(key, last_used_at=last_used_at)
        if revoked_at is not None:
            key = replace(key, revoked_at=revoked_at)
        self._tables.keys[key_id] = key

    def revoke_key(self, key_id: str, at: datetime) -> bool:
        refuse_naive(at)
        key = self._tables.keys.get(key_id)
        if key is None or key.revoked_at is not None:
            return False
        self._tables.keys[key_id] = replace(key, revoked_at=at)
        return True

    def count_keys(self) -> int:
        return len(self._tables.keys)


class FakeUserRecords(FakeRecords):
    def get_user_by_name(self, name: str) -> User | None:
        return next((u for u in self._tables.users.values() if u.name == name), None)

    def get_user(self, user_id: str) -> User | None:
        return self._tables.users.get(user_id)

    def disable_user(self, user_id: str, at: datetime) -> bool:
        refuse_naive(at)
        sessions = self._tables.console_sessions
        for token_hash in [t for t, s in sessions.items() if s.user_id == user_id]:
            del sessions[token_hash]
        user = self._tables.users.get(user_id)
        if user is None or user.disabled_at is not None:
            return False
        self._tables.users[user_id] = replace(user, disabled_at=at)
        return True

    def list_users(self, project_id: str) -> list[User]:
        users = (u for u in self._tables.users.values() if u.project_id == project_id)
        return sorted(users, key=lambda u: u.name)

    def add_user(self, user: User) -> None:
        refuse_naive(user)
        if user.id in self._tables.users or self.get_user_by_name(user.name) is not None:
            refuse(f"a user named {user.name!r} exists")
        self._tables.users[user.id] = user


class FakeConsoleSessionRecords(FakeRecords):
    def get_console_session(self, token_hash: str) -> ConsoleSession | None:
        session = self._tables.console_sessions.get(token_hash)
        if session is None or session.user_id is None:
            return session
        user = self._tables.users.get(session.user_id)
        return session if user is None or user.disabled_at is None else None

    def add_console_session(self, session: ConsoleSession, *, expired_before: datetime) -> None:
        refuse_naive(session)
        refuse_naive(expired_before)
        sessions = self._tables.console_sessions
        for token_hash in [t for t, s in sessions.items() if s.expires_at < expired_before]:
            del sessions[token_hash]
        if session.token_hash in sessions:
            refuse("this session exists")
        sessions[session.token_hash] = session

    def delete_console_session(self, token_hash: str) -> None:
        self._tables.console_sessions.pop(token_hash, None)


class FakeAuditRecords(FakeRecords):
    def add_audit(self, entry: AuditEntry) -> None:
        refuse_naive(entry)
        audit = self._tables.audit
        # The next id of an INTEGER PRIMARY KEY on SQLite: one above the largest stored.
        entry_id = max(audit, default=0) + 1
        audit[entry_id] = replace(
            entry,
            id=entry_id,
            before=as_json(dict(entry.before)) if entry.before is not None else None,
            after=as_json(dict(entry.after)) if entry.after is not None else None,
        )

    def list_audit(
        self, project_id: str, object_id: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        entries = [
            e
            for _, e in sorted(self._tables.audit.items(), reverse=True)
            if e.project_id == project_id and (object_id is None or e.object_id == object_id)
        ]
        return entries[:limit]
