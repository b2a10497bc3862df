"""Rules the database holds, not a read before the write, on SQLite and PostgreSQL.

Each test gives the second writer the same stale view the first one had (as two servers
racing would), so what decides is the write: a unique index, or a conditional UPDATE.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ablab.contract.catalogue import ModelVersionCreate
from ablab.domain.keys import Scope
from ablab.domain.llm import LlmStatus
from ablab.domain.llm_records import LlmExperiment, LlmRun, RunState
from ablab.domain.rollouts import Rollout, RolloutStatus
from ablab.domain.users import ConsoleSession
from ablab.errors import Conflict
from ablab.services.access.audit import list_audit
from ablab.services.access.keys import create_key, revoke_key
from ablab.services.access.projects import ensure_project
from ablab.services.access.users import create_user, disable_user
from ablab.services.context import Context
from ablab.services.experiments.catalogue import get_model, register_model_version
from ablab.store.metadata import SqlMetadataStore

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


def rollout(
    ctx: Context, rollout_id: str, model: str = "radiology-v1", **changes: object
) -> Rollout:
    made = Rollout(
        id=rollout_id,
        project_id=ctx.project_id,
        model=model,
        version="2.0.0",
        previous_version="1.0.0",
        experiment_id=None,
        status=RolloutStatus.RUNNING,
        steps=(10.0, 50.0, 100.0),
        step=0,
        step_started_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def test_one_rollout_in_progress_per_model(ctx: Context, metadata_store: SqlMetadataStore) -> None:
    with metadata_store.session() as session:
        session.add_rollout(rollout(ctx, "ro_first"))
        session.add_rollout(rollout(ctx, "ro_other_model", model="fraud-v2"))
        session.add_rollout(rollout(ctx, "ro_done", status=RolloutStatus.COMPLETED))
        session.add_rollout(rollout(ctx, "ro_undone", status=RolloutStatus.ROLLED_BACK))
    for status in (RolloutStatus.RUNNING, RolloutStatus.PAUSED):
        with (
            pytest.raises(Conflict, match="'radiology-v1' has a rollout in progress"),
            metadata_store.session() as session,
        ):
            session.add_rollout(rollout(ctx, f"ro_second_{status.value}", status=status))
    with metadata_store.session() as session:
        stored = session.list_rollouts(ctx.project_id, "radiology-v1")
        first = session.get_rollout(ctx.project_id, "ro_first")
        assert first is not None
        session.update_rollout(replace(first, status=RolloutStatus.ROLLED_BACK))
        session.add_rollout(rollout(ctx, "ro_after"))  # the model is free again
    assert sorted(r.id for r in stored) == ["ro_done", "ro_first", "ro_undone"]


def test_racing_inserts_of_a_rollout_one_wins(
    ctx: Context, metadata_store: SqlMetadataStore
) -> None:
    """The second insert waits for the first transaction, then meets the index."""
    outcome: list[BaseException | None] = []
    first_inserted = threading.Event()

    def second() -> None:
        first_inserted.wait(10)
        try:
            with metadata_store.session() as session:
                session.add_rollout(rollout(ctx, "ro_second"))
            outcome.append(None)
        except BaseException as exc:  # reported to the test's thread below
            outcome.append(exc)

    racer = threading.Thread(target=second)
    racer.start()
    with metadata_store.session() as session:
        session.add_rollout(rollout(ctx, "ro_first"))
        first_inserted.set()
        racer.join(0.5)  # blocked on the first writer (SQLite's lock, PostgreSQL's index)
        assert racer.is_alive()
    racer.join(30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], Conflict), outcome
    with metadata_store.session() as session:
        assert [r.id for r in session.list_rollouts(ctx.project_id)] == ["ro_first"]


def test_revoking_a_key_twice_at_once_audits_one_revocation(
    ctx: Context, metadata_store: SqlMetadataStore
) -> None:
    key, _ = create_key(ctx, "ci", [Scope.READ])
    with metadata_store.session() as session:
        assert session.revoke_key(key.id, NOW)
        assert not session.revoke_key(key.id, NOW + timedelta(minutes=1))
        stored = session.get_key(key.id)
    assert stored is not None
    assert stored.revoked_at == NOW
    again = revoke_key(ctx, key.id)
    assert again.revoked_at == NOW
    assert [e.action for e in list_audit(ctx, object_id=key.id)] == ["create"]


def test_disabling_a_user_twice_audits_once_and_ends_late_sessions(
    ctx: Context, metadata_store: SqlMetadataStore
) -> None:
    user = create_user(ctx, "dana", "correct horse battery", Scope.READ)
    disabled = disable_user(ctx, "dana")
    assert disabled.disabled_at is not None
    with metadata_store.session() as session:
        assert not session.disable_user(user.id, NOW)
        # A sign-in that checked the password before the user was disabled stores its
        # session afterwards: nobody can use it.
        session.add_console_session(
            ConsoleSession(
                token_hash="f" * 64,
                project_id=ctx.project_id,
                actor="user:dana",
                role=Scope.READ,
                csrf_token="c" * 43,
                created_at=NOW,
                expires_at=datetime.now(UTC) + timedelta(hours=1),
                user_id=user.id,
            ),
            expired_before=NOW - timedelta(days=1),
        )
    again = disable_user(ctx, "dana")
    with metadata_store.session() as session:
        assert session.get_console_session("f" * 64) is None
    assert again.disabled_at == disabled.disabled_at
    assert [e.action for e in list_audit(ctx, object_id=user.id)] == ["disable", "create"]


def test_a_task_run_is_ended_once(ctx: Context, metadata_store: SqlMetadataStore) -> None:
    """Its answer and "broke off" (a server's recovery) race: the first to land stays."""
    experiment = LlmExperiment(
        id="lle_race",
        project_id=ctx.project_id,
        name="race",
        status=LlmStatus.RUNNING_BASELINE,
        created_at=NOW,
        updated_at=NOW,
    )
    pending = LlmRun(
        test_id="llr_race",
        project_id=ctx.project_id,
        experiment_id=experiment.id,
        variant_id="baseline",
        task_id="llt_1",
        trial=0,
        state=RunState.PENDING,
        created_at=NOW,
    )
    with metadata_store.session() as session:
        session.add_llm_experiment(experiment)
        session.add_llm_runs([pending])
    with metadata_store.session() as session:
        assert session.update_llm_run(replace(pending, state=RunState.PASSED, output="4"))
        assert not session.update_llm_run(
            replace(pending, state=RunState.ERROR, error="the run broke off")
        )
        stored = session.get_llm_run(pending.test_id)
    assert stored is not None
    assert (stored.state, stored.output, stored.error) == (RunState.PASSED, "4", None)


@pytest.mark.postgres
def test_first_writes_racing_on_postgres_both_succeed(request: pytest.FixtureRequest) -> None:
    """Two replicas creating one project, or registering the first two versions of one
    model, at the same moment: the loser of the insert reads the winner's row and goes on.

    On PostgreSQL only: SQLite's writers take the write lock first (BEGIN IMMEDIATE), so
    they never interleave there.
    """
    store: SqlMetadataStore = request.getfixturevalue("_postgres_store")
    name = f"raced-{uuid.uuid4().hex[:8]}"
    barrier = threading.Barrier(2)
    found: dict[str, object] = {}

    def project(n: int) -> None:
        barrier.wait()
        found[f"project{n}"] = ensure_project(store, name).id

    def version(n: int) -> None:
        ctx = Context(store, str(found["project1"]), "test:race")
        spec = ModelVersionCreate(model=name, version=f"{n}.0.0", endpoint="http://x/")
        barrier.wait()
        found[f"version{n}"] = register_model_version(ctx, spec)[0].id

    for target in (project, version):
        threads = [threading.Thread(target=target, args=(n,)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert found["project1"] == found["project2"]
    assert found["version1"] == found["version2"]
    ctx = Context(store, str(found["project1"]), "test:race")
    _, versions = get_model(ctx, name)
    assert sorted(v.version for v in versions) == ["1.0.0", "2.0.0"]
