"""An LLM task run keeps what the application reported it spent.

Beside its output an application may report a task run's own latency, its tokens and its
cost (``ablab.llm.usage``): ``reported_latency_ms``, ``input_tokens``, ``output_tokens``,
``total_tokens`` and ``cost_usd`` on ``llm_runs``. Runs from before this migration, and
runs whose application reported nothing, keep NULL: unknown, never 0.

Revision ID: 0014
Revises: 0013
Create Date: 2027-03-20
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("reported_latency_ms", sa.Double()),
    ("input_tokens", sa.Integer()),
    ("output_tokens", sa.Integer()),
    ("total_tokens", sa.Integer()),
    ("cost_usd", sa.Double()),
)


def upgrade() -> None:
    # Plain ADD COLUMNs, never a batch: SQLite's batch mode would copy llm_runs.
    for name, kind in _COLUMNS:
        op.add_column("llm_runs", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    # DROP COLUMN (SQLite 3.35 and later), for the same reason as above.
    for name, _ in reversed(_COLUMNS):
        op.drop_column("llm_runs", name)
