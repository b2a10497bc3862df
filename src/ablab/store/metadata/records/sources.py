"""The analysis sources' records on SQL (``ports.analysis.SourceRecords``)."""

from __future__ import annotations

from sqlalchemy import select

from ablab.domain.sources import AnalysisSource
from ablab.store.metadata import mapping
from ablab.store.metadata.records.base import SqlRecords
from ablab.store.metadata.tables import SourceRow

__all__ = ["SqlSourceRecords"]


class SqlSourceRecords(SqlRecords):
    """``ports.analysis.SourceRecords``."""

    def get_source(self, project_id: str, name: str) -> AnalysisSource | None:
        row = self._session.scalar(
            select(SourceRow).where(SourceRow.project_id == project_id, SourceRow.name == name)
        )
        return mapping.source_from_row(row) if row else None

    def list_sources(self, project_id: str) -> list[AnalysisSource]:
        rows = self._session.scalars(
            select(SourceRow).where(SourceRow.project_id == project_id).order_by(SourceRow.name)
        )
        return [mapping.source_from_row(r) for r in rows]

    def add_source(self, source: AnalysisSource) -> None:
        self._add(mapping.source_to_row(source), f"a source called {source.name!r} already exists")
