"""Migration 0010 builds the allocation periods of existing experiments from the audit log.

The store is built at revision 0009 and filled the way the code before 0010 filled it:
experiments, and audit entries holding each change's experiment snapshot. After the
upgrade each experiment's periods are those the old audit parser would have found, with
who made each change and why.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, insert, inspect

from ablab.domain.audit import AuditEntry
from ablab.domain.experiments import Experiment, Variant
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.projects import Project
from ablab.services.access.audit import experiment_snapshot
from ablab.store.metadata import SqlMetadataStore, mapping
from ablab.store.metadata.migrate import HEAD_REVISION, alembic_config, current_revision
from ablab.store.metadata.tables import ExperimentRow

T0 = datetime(2027, 1, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def old_store(empty_database: Engine) -> Engine:
    """An engine on a new database migrated to 0009, the revision before the table."""
    command.upgrade(alembic_config(empty_database), "0009")
    return empty_database


def experiment(experiment_id: str, *, started: bool = True, control: float = 50.0) -> Experiment:
    return Experiment(
        id=experiment_id,
        project_id="prj_1",
        name=experiment_id,
        status=ExperimentStatus.RUNNING if started else ExperimentStatus.DRAFT,
        salt=experiment_id,
        created_at=T0,
        updated_at=T0,
        variants=(
            Variant("control", control, "1", is_control=True),
            Variant("treatment", 100.0 - control, "2"),
        ),
        started_at=T0 if started else None,
    )


def split(old: Experiment, control: float) -> Experiment:
    variants = tuple(
        replace(v, weight=control if v.is_control else 100.0 - control) for v in old.variants
    )
    return replace(old, variants=variants)


def _add_as_at_0009(engine: Engine, experiment: Experiment) -> None:
    """Insert ``experiment`` with the columns its table had at 0009 (later migrations added
    others, which the ORM row would name)."""
    existing = {column["name"] for column in inspect(engine).get_columns("experiments")}
    row = ExperimentRow(**mapping.experiment_columns(experiment))
    table = ExperimentRow.__table__
    attributes = inspect(ExperimentRow)
    values = {
        c.key: getattr(row, attributes.get_property_by_column(c).key)
        for c in table.columns
        if c.name in existing
    }
    with engine.begin() as connection:
        connection.execute(insert(table).values(**values))


def fill_the_old_way(engine: Engine) -> None:
    """Experiments and the audit entries the code before 0010 wrote for their changes."""
    store = SqlMetadataStore(engine)
    minute = timedelta(minutes=1)
    a = experiment("exp_a")
    a1 = replace(a, hypothesis="sharper")
    a2 = split(a1, 20.0)
    a3 = replace(a2, status=ExperimentStatus.PAUSED)
    a4 = replace(a3, status=ExperimentStatus.RUNNING)
    a5 = split(a4, 10.0)
    a6 = replace(a5, coverage=50.0)
    b = experiment("exp_b", started=False, control=70.0)
    b1 = split(b, 60.0)
    b2 = replace(b1, status=ExperimentStatus.RUNNING, started_at=T0 + 3 * minute)
    history = [  # (minute, actor, action, before, after)
        (0, "local:alice", "create", None, a),
        (0, "local:alice", "create", None, b),
        (1, "local:alice", "update", a, a1),
        (2, "key:k1 (ci)", "update", a1, a2),
        (2, "local:bob", "update", b, b1),
        (3, "local:bob", "launch", b1, b2),
        (4, "local:alice", "pause", a2, a3),
        (5, "local:alice", "resume", a3, a4),
        (6, "ablab:monitor", "update", a4, a5),
        (7, "key:k2 (ops)", "update", a5, a6),
    ]
    with store.session() as session:
        session.add_project(Project("prj_1", "default", T0))
    for final in (a6, b2, experiment("exp_c", control=90.0), experiment("exp_d", started=False)):
        _add_as_at_0009(engine, final)
    with store.session() as session:
        for minutes, actor, action, before, after in history:
            session.add_audit(
                AuditEntry(
                    project_id="prj_1",
                    actor=actor,
                    action=action,
                    object_type="experiment",
                    object_id=after.id,
                    at=T0 + minutes * minute,
                    before=experiment_snapshot(before) if before else None,
                    after=experiment_snapshot(after),
                )
            )
        # Other objects' entries, and those of an experiment no longer stored, are not read.
        gone = experiment("exp_gone")
        for object_type, snapshot in (("rollout", {"status": "running"}), ("experiment", None)):
            session.add_audit(
                AuditEntry("prj_1", "x", "update", object_type, "exp_a", T0, after=snapshot)
            )
        session.add_audit(
            AuditEntry(
                "prj_1",
                "x",
                "create",
                "experiment",
                "exp_gone",
                T0,
                after=experiment_snapshot(gone),
            )
        )


def periods_by_experiment(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    store = SqlMetadataStore(engine)
    found: dict[str, list[tuple[object, ...]]] = {}
    with store.session() as session:
        for experiment_id in ("exp_a", "exp_b", "exp_c", "exp_d"):
            found[experiment_id] = [
                (
                    (p.started_at - T0) // timedelta(minutes=1),
                    p.reason.value,
                    p.actor,
                    p.weights["control"],
                    p.coverage,
                )
                for p in session.list_allocation_periods(experiment_id)
            ]
    return found


EXPECTED = {
    "exp_a": [
        (0, "launch", "local:alice", 50.0, 100.0),
        (2, "split", "key:k1 (ci)", 20.0, 100.0),
        (6, "bandit", "ablab:monitor", 10.0, 100.0),
        (7, "split", "key:k2 (ops)", 10.0, 50.0),
    ],
    "exp_b": [(3, "launch", "local:bob", 60.0, 100.0)],
    "exp_c": [(0, "launch", "ablab:migration", 90.0, 100.0)],
    "exp_d": [],
}


def test_0010_turns_the_audit_log_into_allocation_periods(old_store: Engine) -> None:
    fill_the_old_way(old_store)
    command.upgrade(alembic_config(old_store), "0010")
    assert current_revision(old_store) == "0010"
    assert periods_by_experiment(old_store) == EXPECTED


def test_0010_downgrades_and_upgrades_again(old_store: Engine) -> None:
    fill_the_old_way(old_store)
    command.upgrade(alembic_config(old_store), "0010")
    command.downgrade(alembic_config(old_store), "0009")
    assert not inspect(old_store).has_table("allocation_periods")
    command.upgrade(alembic_config(old_store), "head")
    assert current_revision(old_store) == HEAD_REVISION
    assert periods_by_experiment(old_store) == EXPECTED
