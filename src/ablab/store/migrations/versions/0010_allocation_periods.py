"""Allocation periods: the weight history of each experiment as a table.

Before, the weights in force over time were parsed out of the audit log's experiment
snapshots. Now every launch, split, weight, coverage or bandit change writes a row of
``allocation_periods`` in its own transaction. This migration builds the rows of the
changes made before it from the same audit entries the old code read: an entry starts a
period when its snapshot is of a launched experiment (``started_at`` set) whose weights
or coverage differ from the previous period's. A launched experiment without any such
entry gets one period from its own row, as the old code assumed.

The audit log did not say whether an update was a bandit's rebalance; updates by the
monitor (``ablab:monitor``, the only automatic rebalancer) are taken as the bandit's,
every other one as a split change.

Revision ID: 0010
Revises: 0009
Create Date: 2027-02-15
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_INDEX = "ix_allocation_periods_experiment"
# As the monitor and the audit actions were named when this migration was written.
_MONITOR_ACTOR = "ablab:monitor"
_LAUNCHING_ACTIONS = ("create", "launch")
_MIGRATION_ACTOR = "ablab:migration"
_BATCH = 500

_audit = sa.table(
    "audit_log",
    sa.column("id", sa.Integer),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("object_type", sa.String),
    sa.column("object_id", sa.String),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("after", sa.JSON),
)
_experiments = sa.table(
    "experiments",
    sa.column("id", sa.String),
    sa.column("variants", sa.JSON),
    sa.column("coverage", sa.Double),
    sa.column("started_at", sa.DateTime(timezone=True)),
)


def _create_table() -> sa.Table:
    table = op.create_table(
        "allocation_periods",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("experiment_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("coverage", sa.Double(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("allocation_periods", schema=None) as batch_op:
        batch_op.create_index(_INDEX, ["experiment_id", "started_at"], unique=False)
    assert table is not None
    return table


def _allocation(snapshot: Mapping[str, Any]) -> tuple[dict[str, float], float]:
    weights = {str(v["name"]): float(v["weight"]) for v in snapshot["variants"]}
    return weights, float(snapshot.get("coverage", 100.0))


def _reason(action: str, actor: str, first: bool) -> str:
    if first or action in _LAUNCHING_ACTIONS:
        return "launch"
    return "bandit" if actor == _MONITOR_ACTOR else "split"


def _periods_from_audit(connection: sa.Connection) -> Iterator[dict[str, Any]]:
    """The periods the audit log's experiment snapshots show, in audit order."""
    last: dict[str, tuple[dict[str, float], float]] = {}
    # Streamed: a busy store's audit log holds many snapshots, and only a few start periods.
    entries = connection.execute(
        sa.select(_audit.c.object_id, _audit.c.action, _audit.c.actor, _audit.c.at, _audit.c.after)
        .where(_audit.c.object_type == "experiment")
        .order_by(_audit.c.id)
        .execution_options(yield_per=_BATCH)
    )
    for experiment_id, action, actor, at, after in entries:
        if not isinstance(after, dict) or not after.get("started_at") or not after.get("variants"):
            continue
        allocation = _allocation(after)
        if last.get(experiment_id) == allocation:
            continue
        first = experiment_id not in last
        last[experiment_id] = allocation
        yield {
            "experiment_id": experiment_id,
            "started_at": at,
            "weights": allocation[0],
            "coverage": allocation[1],
            "reason": _reason(action, actor, first),
            "actor": actor,
        }


def _fill(connection: sa.Connection, periods: sa.Table) -> None:
    existing = set(connection.execute(sa.select(_experiments.c.id)).scalars())
    # Read to the end before writing: no engine is asked to insert under an open cursor.
    rows = [
        period
        for period in _periods_from_audit(connection)
        # The audit log outlives a deleted experiment; the foreign key does not allow it.
        if period["experiment_id"] in existing
    ]
    covered = {period["experiment_id"] for period in rows}
    launched = connection.execute(
        sa.select(
            _experiments.c.id,
            _experiments.c.variants,
            _experiments.c.coverage,
            _experiments.c.started_at,
        ).where(_experiments.c.started_at.is_not(None))
    ).all()
    for experiment_id, variants, coverage, started_at in launched:
        if experiment_id in covered or not variants:
            continue
        weights, _ = _allocation({"variants": variants})
        rows.append(
            {
                "experiment_id": experiment_id,
                "started_at": started_at,
                "weights": weights,
                "coverage": float(coverage),
                "reason": "launch",
                "actor": _MIGRATION_ACTOR,
            }
        )
    for start in range(0, len(rows), _BATCH):
        connection.execute(sa.insert(periods), rows[start : start + _BATCH])


def upgrade() -> None:
    periods = _create_table()
    _fill(op.get_bind(), periods)


def downgrade() -> None:
    with op.batch_alter_table("allocation_periods", schema=None) as batch_op:
        batch_op.drop_index(_INDEX)
    op.drop_table("allocation_periods")
