"""``SqlMetadataSession``: the MetadataSession protocol on a SQLAlchemy session.

Each concern's records are a class of their own in ``store.metadata.records``, on the one
SQLAlchemy session they share (``SqlRecords``); this class is their sum, as
``services.ports.MetadataSession`` is the sum of the concern Protocols.
"""

from __future__ import annotations

from ablab.store.metadata.records.access import (
    SqlAuditRecords,
    SqlConsoleSessionRecords,
    SqlKeyRecords,
    SqlProjectRecords,
    SqlUserRecords,
)
from ablab.store.metadata.records.assignment import SqlAssignmentRecords
from ablab.store.metadata.records.experiments import (
    SqlAllocationPeriodRecords,
    SqlExperimentRecords,
    SqlGroupRecords,
    SqlMetricRecords,
    SqlModelRecords,
)
from ablab.store.metadata.records.llm import (
    SqlLlmExperimentRecords,
    SqlLlmLeaseRecords,
    SqlLlmRunRecords,
    SqlLlmTaskRecords,
)
from ablab.store.metadata.records.rollouts import SqlRolloutRecords
from ablab.store.metadata.records.sequential import SqlSequentialStateRecords
from ablab.store.metadata.records.sources import SqlSourceRecords

__all__ = ["SqlMetadataSession"]


class SqlMetadataSession(
    SqlProjectRecords,
    SqlKeyRecords,
    SqlUserRecords,
    SqlConsoleSessionRecords,
    SqlAuditRecords,
    SqlModelRecords,
    SqlGroupRecords,
    SqlMetricRecords,
    SqlExperimentRecords,
    SqlAllocationPeriodRecords,
    SqlAssignmentRecords,
    SqlRolloutRecords,
    SqlSequentialStateRecords,
    SqlSourceRecords,
    SqlLlmTaskRecords,
    SqlLlmExperimentRecords,
    SqlLlmLeaseRecords,
    SqlLlmRunRecords,
):
    """One transaction; commits or rolls back in the store's ``session()`` context."""
