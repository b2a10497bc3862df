"""Use cases of analysis sources: add one (read by its engine first), list, show, check."""

from __future__ import annotations

from collections.abc import Mapping

from ablab.domain.ids import new_id
from ablab.domain.sources import AnalysisSource, SourceTable, validate_source
from ablab.errors import Conflict, NotFound, ValidationError
from ablab.services.access.audit import record
from ablab.services.context import Context
from ablab.services.ports import MetadataSession, SourceChecker

__all__ = [
    "add_source",
    "check_source",
    "get_source",
    "list_sources",
    "refresh_source",
    "require_source",
]


def add_source(
    ctx: Context,
    name: str,
    engine: str,
    tables: Mapping[str, SourceTable],
    refresh_minutes: int | None = None,
) -> tuple[AnalysisSource, dict[str, int]]:
    """Add a source once its engine has read a sample of every table; the sample's rows.

    Raises:
        ValidationError: a malformed source, or one its engine cannot read (named).
        Conflict: the name is taken.
    """
    source = validate_source(
        AnalysisSource(
            id=new_id("src"),
            project_id=ctx.project_id,
            name=name,
            engine=engine,
            tables=dict(tables),
            created_at=ctx.clock(),
            refresh_minutes=refresh_minutes,
        )
    )
    with ctx.store.session(read_only=True) as session:
        _refuse_taken(session, source)
    sample = _checker(ctx).check(source)
    with ctx.store.session() as session:
        _refuse_taken(session, source)
        session.add_source(source)
        record(
            ctx,
            session,
            "create",
            "source",
            source.id,
            after={"name": source.name, "engine": source.engine, "tables": sorted(tables)},
        )
    return source, sample


def check_source(ctx: Context, name: str) -> tuple[AnalysisSource, dict[str, int]]:
    """Read a sample of every table of the source ``name`` again; its rows per event type."""
    source = get_source(ctx, name)
    return source, _checker(ctx).check(source)


def refresh_source(ctx: Context, name: str, *, full: bool = False) -> AnalysisSource:
    """Forget the answers kept from the source ``name``: the next reads ask its engine
    (this process's; each server keeps its own for ``refresh_minutes`` at most) for the
    days that may have changed; ``full`` forgets the kept per-unit days as well, so the
    next reads scan every day (after a late fix to old events)."""
    source = get_source(ctx, name)
    _checker(ctx).forget(source, kept=full)
    return source


def get_source(ctx: Context, name: str) -> AnalysisSource:
    with ctx.store.session(read_only=True) as session:
        return require_source(session, ctx.project_id, name)


def list_sources(ctx: Context) -> list[AnalysisSource]:
    with ctx.store.session(read_only=True) as session:
        return session.list_sources(ctx.project_id)


def require_source(session: MetadataSession, project_id: str, name: str) -> AnalysisSource:
    source = session.get_source(project_id, name)
    if source is None:
        raise NotFound(
            f"unknown source {name!r}: add it with `ablab source add`",
            details={"source": name},
        )
    return source


def _refuse_taken(session: MetadataSession, source: AnalysisSource) -> None:
    if session.get_source(source.project_id, source.name) is not None:
        raise Conflict(
            f"a source called {source.name!r} already exists", details={"source": source.name}
        )


def _checker(ctx: Context) -> SourceChecker:
    if ctx.sources is None:
        raise ValidationError("this ablab reads no analysis sources (no engine is set up)")
    return ctx.sources
