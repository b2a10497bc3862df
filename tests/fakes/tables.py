"""The fake metadata store's tables: plain dicts of frozen domain values, and the base of
every concern's records, which read and write one transaction's copy of them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from typing import Any, NoReturn

from ablab.domain.allocations import AllocationPeriod
from ablab.domain.audit import AuditEntry
from ablab.domain.experiments import Experiment
from ablab.domain.groups import DeviceGroup
from ablab.domain.keys import ApiKey
from ablab.domain.llm_records import LlmExperiment, LlmRun, LlmTask
from ablab.domain.metrics import CustomMetric
from ablab.domain.models import Model, ModelVersion
from ablab.domain.projects import Project
from ablab.domain.rollouts import Rollout
from ablab.domain.sequential import SequentialState
from ablab.domain.sources import AnalysisSource
from ablab.domain.users import ConsoleSession, User
from ablab.errors import Conflict

__all__ = [
    "FakeRecords",
    "MetadataTables",
    "StoreRefused",
    "as_json",
    "finite",
    "refuse",
    "refuse_naive",
]


class StoreRefused(Exception):
    """A write the SQL store's database refuses with an IntegrityError that it does not turn
    into a Conflict (a duplicate run, a second rollout in progress made by an update):
    services never make these, so the fake fails loudly where the database would."""


@dataclass
class MetadataTables:
    """Every table, keyed as the database's primary key is.

    Values are frozen domain objects, so a transaction's copy is a copy of each dict.
    ``sequential_states`` holds None for the empty row a first look creates and locks;
    ``audit`` and ``allocation_periods`` are keyed by the id the store gives them.
    """

    projects: dict[str, Project] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    console_sessions: dict[str, ConsoleSession] = field(default_factory=dict)
    audit: dict[int, AuditEntry] = field(default_factory=dict)
    models: dict[str, Model] = field(default_factory=dict)
    model_versions: dict[str, ModelVersion] = field(default_factory=dict)
    groups: dict[str, DeviceGroup] = field(default_factory=dict)
    metrics: dict[str, CustomMetric] = field(default_factory=dict)
    sources: dict[str, AnalysisSource] = field(default_factory=dict)
    experiments: dict[str, Experiment] = field(default_factory=dict)
    allocation_periods: dict[int, AllocationPeriod] = field(default_factory=dict)
    assignments: dict[tuple[str, str], str] = field(default_factory=dict)
    rollouts: dict[str, Rollout] = field(default_factory=dict)
    sequential_states: dict[tuple[str, str, str], SequentialState | None] = field(
        default_factory=dict
    )
    llm_tasks: dict[str, LlmTask] = field(default_factory=dict)
    llm_experiments: dict[str, LlmExperiment] = field(default_factory=dict)
    llm_runs: dict[str, LlmRun] = field(default_factory=dict)

    def copy(self) -> MetadataTables:
        """A copy whose writes leave this one as it is (the values are immutable)."""
        return MetadataTables(**{f.name: dict(getattr(self, f.name)) for f in fields(self)})


class FakeRecords:
    """The base of each concern's records: one transaction's copy of the tables."""

    def __init__(self, tables: MetadataTables) -> None:
        self._work: MetadataTables | None = tables

    @property
    def _tables(self) -> MetadataTables:
        if self._work is None:
            raise RuntimeError("this session's transaction has ended: open a new session")
        return self._work

    def _end(self) -> None:
        """Called when the block ends: later calls fail instead of writing nowhere."""
        self._work = None


def refuse(message: str, details: dict[str, object] | None = None) -> NoReturn:
    """The Conflict the SQL store raises for a broken uniqueness rule, word for word."""
    raise Conflict(message, details=details)


def refuse_naive(item: Any) -> None:
    """Refuse a naive datetime, as the SQL store's column type does (``tables.UtcDateTime``)."""
    values = [getattr(item, f.name) for f in fields(item)] if is_dataclass(item) else [item]
    for value in values:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")


def as_json(value: Any) -> Any:
    """``value`` as a JSON column gives it back: tuples become lists, keys strings."""
    return json.loads(json.dumps(value))


def finite(value: float) -> float:
    """A float column that stores non-finite values as NULL and reads NULL back as NaN."""
    return value if math.isfinite(value) else math.nan
