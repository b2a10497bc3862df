"""Projects: the embedded store opens (and on first use creates) the one it works in."""

from __future__ import annotations

from ablab.domain.experiments import validate_name
from ablab.domain.ids import new_id
from ablab.domain.projects import Project
from ablab.errors import Conflict
from ablab.services.context import utc_now
from ablab.services.ports import MetadataStore

__all__ = ["ensure_project"]


def ensure_project(store: MetadataStore, name: str) -> Project:
    """The project called ``name``, created if it does not exist yet."""
    validate_name(name, "project name")
    try:
        with store.session() as session:
            project = session.get_project_by_name(name)
            if project is None:
                project = Project(id=new_id("prj"), name=name, created_at=utc_now())
                session.add_project(project)
            return project
    except Conflict:
        # Another process (a replica starting at the same moment) created it first.
        with store.session(read_only=True) as session:
            found = session.get_project_by_name(name)
        if found is None:
            raise
        return found
