"""The metadata port's contract, run on the in-memory fake and on the SQL store alike.

Each test states one promise of ``ablab.services.ports`` that services rely on (uniqueness
raised as Conflict, optimistic locks, conditional lease writes, first-writer-wins
assignments, list orders, transactions) and passes on every store: so the fake the service
tests use behaves as SQLite and PostgreSQL do. One file on purpose (over 400 lines): the
contract reads as a whole, concern by concern.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from ablab.domain.allocations import AllocationPeriod, AllocationReason
from ablab.domain.audit import AuditEntry
from ablab.domain.experiments import Experiment, Variant
from ablab.domain.groups import DeviceGroup
from ablab.domain.keys import ApiKey, Scope
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.llm import LlmStatus
from ablab.domain.llm_records import LlmExperiment, LlmRun, LlmTask, RunState
from ablab.domain.metrics import Aggregation, CustomMetric, MetricKind
from ablab.domain.models import BackendKind, Model, ModelVersion
from ablab.domain.projects import Project
from ablab.domain.rollouts import Rollout, RolloutStatus
from ablab.domain.sequential import SequentialDesign, SequentialState
from ablab.domain.users import ConsoleSession, User
from ablab.errors import Conflict
from ablab.services.ports import MetadataSession, MetadataStore, ReadOnlySessionError
from ablab.store.metadata import SqlMetadataStore, open_metadata_store
from ablab.store.metadata.tables import Base
from tests.concurrently import together
from tests.fakes import InMemoryMetadataStore

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
P = "prj_contract"  # the project every test works in


def minutes(n: float) -> datetime:
    return NOW + timedelta(minutes=n)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    """The fake, or the SQL store on a new SQLite file or the emptied PostgreSQL database,
    with the project ``P`` (other tables refer to it)."""
    opened: MetadataStore
    if request.param == "memory":
        opened = InMemoryMetadataStore()
    elif request.param == "sqlite":
        opened = open_metadata_store(f"sqlite:///{tmp_path / 'ablab.db'}")
    else:
        opened = request.getfixturevalue("_postgres_store")  # tests/conftest.py's
        assert isinstance(opened, SqlMetadataStore)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with opened.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    with opened.session() as session:
        session.add_project(Project(P, "contract", NOW))
    yield opened
    if request.param == "sqlite":
        opened.close()


def experiment(name: str, created: float = 0, **changes: object) -> Experiment:
    made = Experiment(
        id=f"exp_{name}",
        project_id=P,
        name=name,
        status=ExperimentStatus.RUNNING,
        salt=name,
        created_at=minutes(created),
        updated_at=minutes(created),
        variants=(Variant("control", 50, config={"k": (1, 2)}, is_control=True),),
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def add(store: MetadataStore, *experiments: Experiment) -> None:
    with store.session() as session:
        for item in experiments:
            session.add_experiment(item)


# Transactions


def fail_after(store: MetadataStore, write: Callable[[MetadataSession], object]) -> None:
    """Run ``write`` in a session whose block then raises."""
    with store.session() as session:
        write(session)
        raise RuntimeError("the block fails after its writes")


def test_a_block_that_raises_leaves_nothing_behind(store: MetadataStore) -> None:
    def write(session: MetadataSession) -> None:
        session.add_experiment(experiment("gone"))
        session.add_audit(AuditEntry(P, "test", "create", "experiment", "exp_gone", NOW))
        assert session.get_experiment(P, "gone") is not None  # the block sees its writes

    with pytest.raises(RuntimeError, match="fails after its writes"):
        fail_after(store, write)
    with store.session() as session:
        assert session.get_experiment(P, "gone") is None
        assert session.list_audit(P) == []


def test_a_conflict_caught_in_the_block_keeps_the_session_usable(store: MetadataStore) -> None:
    with store.session() as session:
        session.add_model(Model("mdl_1", P, "radiology", NOW))
        with pytest.raises(Conflict) as refused:
            session.add_model(Model("mdl_2", P, "radiology", NOW))
        session.add_model(Model("mdl_3", P, "triage", NOW))
    assert refused.value.message == (
        "model 'radiology' was registered by another request meanwhile: retry"
    )
    assert refused.value.details == {"model": "radiology"}
    with store.session() as session:
        assert [m.id for m in session.list_models(P)] == ["mdl_1", "mdl_3"]


# Read-only sessions


def in_a_thread(call: Callable[[], object]) -> None:
    """Run ``call`` in another thread (its own connection) to its end; re-raise what it raised.

    The join's bound is liveness, not timing: a writer blocked by a lock would wait out the
    30 s busy timeout and fail with "database is locked".
    """
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # re-raised in the test's thread
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the other thread never finished"
    if raised:
        raise raised[0]


def test_a_read_only_session_sees_what_is_committed(store: MetadataStore) -> None:
    add(store, experiment("seen"))
    with store.session() as session:
        written = session.get_experiment(P, "seen")
    with store.session(read_only=True) as session:
        found = session.get_experiment(P, "seen")
        assert [e.name for e in session.list_experiments(P)] == ["seen"]
    assert found is not None
    assert found == written


def test_a_read_only_session_and_a_writer_do_not_wait_for_each_other(
    store: MetadataStore,
) -> None:
    """A writer's open transaction neither blocks a reader nor shows it its writes; a writer
    commits while a reader is open (on SQLite: the reader took no BEGIN IMMEDIATE), and the
    reader keeps the snapshot of its first read."""
    writing, reading_done = threading.Event(), threading.Event()

    def writer_left_open() -> None:
        with store.session() as session:
            session.add_experiment(experiment("uncommitted"))
            writing.set()
            assert reading_done.wait(120), "the reader never read"

    held = threading.Thread(target=writer_left_open)
    held.start()
    try:
        assert writing.wait(120), "the writer never wrote"
        with store.session(read_only=True) as session:
            unseen = session.get_experiment(P, "uncommitted")
    finally:
        reading_done.set()
        held.join(120)
    assert unseen is None

    with store.session(read_only=True) as session:
        before = [e.name for e in session.list_experiments(P)]
        in_a_thread(lambda: add(store, experiment("committed meanwhile", created=1)))
        after = [e.name for e in session.list_experiments(P)]
    assert before == after == ["uncommitted"]
    with store.session(read_only=True) as session:
        now = [e.name for e in session.list_experiments(P)]
    assert now == ["committed meanwhile", "uncommitted"]


WRITES: dict[str, Callable[[MetadataSession], object]] = {
    "insert": lambda s: s.add_experiment(experiment("written")),
    "update": lambda s: s.update_experiment(replace(experiment("existing"), hypothesis="new")),
    "conditional update of no row": lambda s: s.revoke_key("key_nobody", NOW),
    "delete": lambda s: s.delete_console_session("nobody's token"),
    "lock": lambda s: s.lock_sequential_states("exp_existing", [("accuracy", "control")]),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_a_read_only_session_refuses_writes(
    store: MetadataStore, write: Callable[[MetadataSession], object]
) -> None:
    add(store, experiment("existing"))
    with (
        pytest.raises(ReadOnlySessionError, match="read-only session"),
        store.session(read_only=True) as session,
    ):
        write(session)
    with store.session(read_only=True) as session:
        assert [e.name for e in session.list_experiments(P)] == ["existing"]
        stored = session.get_experiment(P, "existing")
        assert stored is not None
        assert stored.hypothesis == experiment("existing").hypothesis


# Projects, keys, users, console sessions, audit


def test_projects_by_name_unique(store: MetadataStore) -> None:
    with store.session() as session:
        session.add_project(Project("prj_a", "alpha", NOW))
        with pytest.raises(Conflict, match="project 'alpha' exists"):
            session.add_project(Project("prj_b", "alpha", NOW))
        assert [p.name for p in session.list_projects()] == ["alpha", "contract"]
        assert session.get_project_by_name("alpha") == Project("prj_a", "alpha", NOW)
        assert session.get_project_by_name("nobody") is None


def key(key_id: str, created: float) -> ApiKey:
    return ApiKey(key_id, P, "ci", "hash", frozenset({Scope.READ}), minutes(created), "test")


def test_keys_in_creation_order_revoked_once(store: MetadataStore) -> None:
    with store.session() as session:
        assert session.count_keys() == 0
        for key_id, created in (("key_b", 1), ("key_c", 0), ("key_a", 1)):
            session.add_key(key(key_id, created))
        with pytest.raises(Conflict, match="an API key with id 'key_a' exists"):
            session.add_key(key("key_a", 5))
    with store.session() as session:
        assert [k.id for k in session.list_keys(P)] == ["key_c", "key_a", "key_b"]
        assert session.revoke_key("key_a", minutes(2)) is True
        assert session.revoke_key("key_a", minutes(3)) is False
        assert session.revoke_key("key_nobody", minutes(3)) is False
        session.update_key_times("key_b", last_used_at=minutes(4))
        session.update_key_times("key_nobody", last_used_at=minutes(4))
        assert session.count_keys() == 3
    with store.session() as session:
        revoked, used = session.get_key("key_a"), session.get_key("key_b")
    assert revoked is not None
    assert revoked.revoked_at == minutes(2)
    assert used is not None
    assert (used.last_used_at, used.revoked_at) == (minutes(4), None)


def user(user_id: str, name: str, project_id: str = P) -> User:
    return User(user_id, project_id, name, "argon2-hash", Scope.READ, NOW, "test")


def browser(token: str, user_id: str | None, expires: float) -> ConsoleSession:
    return ConsoleSession(token, P, "user:x", Scope.READ, "csrf", NOW, minutes(expires), user_id)


def test_user_names_unique_across_projects(store: MetadataStore) -> None:
    with store.session() as session:
        session.add_project(Project("prj_other", "other", NOW))
        session.add_user(user("usr_2", "bob"))
        session.add_user(user("usr_1", "alice"))
        with pytest.raises(Conflict, match="a user named 'alice' exists"):
            session.add_user(user("usr_3", "alice", "prj_other"))
        assert [u.name for u in session.list_users(P)] == ["alice", "bob"]
        assert session.list_users("prj_other") == []
        assert (
            session.get_user_by_name("alice") == session.get_user("usr_1") == user("usr_1", "alice")
        )


def test_disabling_a_user_ends_their_sessions_and_hides_new_ones(store: MetadataStore) -> None:
    with store.session() as session:
        session.add_user(user("usr_1", "alice"))
        session.add_console_session(browser("t1", "usr_1", 60), expired_before=NOW)
        session.add_console_session(browser("t2", None, 60), expired_before=NOW)
    with store.session() as session:
        assert session.disable_user("usr_1", minutes(1)) is True
        assert session.disable_user("usr_1", minutes(2)) is False
        assert session.get_console_session("t1") is None
        # A sign-in that raced with disabling stores a session nobody may use.
        session.add_console_session(browser("t3", "usr_1", 60), expired_before=NOW)
        assert session.get_console_session("t3") is None
        assert session.get_console_session("t2") == browser("t2", None, 60)
        disabled = session.get_user("usr_1")
    assert disabled is not None
    assert disabled.disabled_at == minutes(1)


def test_console_sessions_sweep_the_expired_and_are_unique(store: MetadataStore) -> None:
    with store.session() as session:
        session.add_console_session(browser("old", None, 5), expired_before=NOW)
        session.add_console_session(browser("edge", None, 10), expired_before=NOW)
        session.add_console_session(browser("new", None, 60), expired_before=minutes(10))
        assert session.get_console_session("old") is None  # expired before minute 10
        assert session.get_console_session("edge") is not None  # not before: kept
        with pytest.raises(Conflict, match="this session exists"):
            session.add_console_session(browser("new", None, 90), expired_before=NOW)
        session.delete_console_session("new")
        session.delete_console_session("never-was")
        assert session.get_console_session("new") is None


def test_audit_newest_first_filtered_and_limited(store: MetadataStore) -> None:
    with store.session() as session:
        session.add_project(Project("prj_other", "other", NOW))
        for i, object_id in enumerate(["a", "b", "a", "a"]):
            entry = AuditEntry(P, "test", f"act{i}", "experiment", object_id, minutes(-i))
            session.add_audit(replace(entry, after={"step": i, "steps": (1, 2)}))
        session.add_audit(AuditEntry("prj_other", "test", "x", "experiment", "a", NOW))
    with store.session() as session:
        entries = session.list_audit(P)
        assert [e.action for e in entries] == ["act3", "act2", "act1", "act0"]
        ids = [e.id for e in entries]
        assert all(isinstance(i, int) for i in ids)
        assert ids == sorted(ids, reverse=True)  # type: ignore[type-var]
        assert entries[0].after == {"step": 3, "steps": [1, 2]}  # as JSON gives it back
        assert entries[0].before is None
        assert [e.action for e in session.list_audit(P, object_id="a", limit=2)] == [
            "act3",
            "act2",
        ]
        assert [e.project_id for e in session.list_audit("prj_other")] == ["prj_other"]


# Models, groups, metrics


def test_model_versions_oldest_first_and_unique(store: MetadataStore) -> None:
    def version(version_id: str, name: str, created: float) -> ModelVersion:
        return ModelVersion(
            version_id, "mdl_1", name, BackendKind.ENDPOINT, "http://m", minutes(created)
        )

    with store.session() as session:
        session.add_model(Model("mdl_1", P, "radiology", NOW, "x-rays"))
        for version_id, name, created in (("v1", "2.0.0", 0), ("v2", "1.0.0", 0), ("v3", "0.1", 1)):
            session.add_model_version(version(version_id, name, created))
        with pytest.raises(Conflict, match=r"version '2\.0\.0' exists"):
            session.add_model_version(version("v4", "2.0.0", 2))
    with store.session() as session:
        assert [v.version for v in session.list_model_versions("mdl_1")] == [
            "1.0.0",
            "2.0.0",
            "0.1",
        ]
        assert session.get_model_version("mdl_1", "0.1") == version("v3", "0.1", 1)
        assert session.get_model(P, "radiology") == Model("mdl_1", P, "radiology", NOW, "x-rays")
        assert session.get_model(P, "other") is None


def test_groups_and_metrics_by_name_unique_per_project(store: MetadataStore) -> None:
    condition = {"region": {"$in": ("eu", "uk")}}
    group = DeviceGroup("grp_1", P, "eu", NOW, condition=condition)
    with store.session() as session:
        session.add_group(group)
        session.add_group(DeviceGroup("grp_2", P, "beta", NOW, members=frozenset({"d2", "d1"})))
        with pytest.raises(Conflict, match="device group 'eu' already exists"):
            session.add_group(DeviceGroup("grp_3", P, "eu", NOW))
        for metric_id, name in (("met_1", "revenue"), ("met_2", "clicks")):
            metric = CustomMetric(
                metric_id, P, name, Aggregation.SUM, MetricKind.CONTINUOUS, True, NOW
            )
            session.add_metric(metric)
        with pytest.raises(Conflict, match="a metric called 'clicks' already exists"):
            session.add_metric(replace(metric, id="met_3"))
    with store.session() as session:
        assert [g.name for g in session.list_groups(P)] == ["beta", "eu"]
        assert session.get_group(P, "eu") == replace(
            group, condition={"region": {"$in": ["eu", "uk"]}}
        )
        beta = session.get_group(P, "beta")
        assert beta is not None
        assert beta.members == frozenset({"d1", "d2"})
        assert [m.name for m in session.list_metrics(P)] == ["clicks", "revenue"]
        assert session.get_metric(P, "clicks") == metric
        assert session.get_metric("prj_nobody", "clicks") is None


# Experiments and allocation periods


def test_experiments_newest_first_by_id_or_name(store: MetadataStore) -> None:
    paused = experiment("b-paused", 1, status=ExperimentStatus.PAUSED)
    add(store, experiment("c-old", 0), paused, experiment("a-new", 1))
    # A name equal to another experiment's id: the id wins.
    add(store, experiment("exp_c-old", 2, id="exp_z"))
    with store.session() as session:
        assert [e.name for e in session.list_experiments(P)] == [
            "exp_c-old", "a-new", "b-paused", "c-old",
        ]  # fmt: skip
        assert [e.name for e in session.list_experiments(P, ExperimentStatus.PAUSED)] == [
            "b-paused"
        ]
        by_id = session.get_experiment(P, "exp_c-old")
        stored = session.get_experiment(P, "b-paused")
        assert session.get_experiment("prj_nobody", "exp_c-old") is None
    assert by_id is not None
    assert by_id.name == "c-old"
    assert stored is not None
    assert stored.variants[0].config == {"k": [1, 2]}  # the JSON column's answer
    assert stored.variants[0].weight == 50.0
    assert isinstance(stored.variants[0].weight, float)


def test_experiment_names_unique_and_versions_checked(store: MetadataStore) -> None:
    add(store, experiment("trial"))
    with pytest.raises(Conflict, match="an experiment called 'trial' already exists"):
        add(store, experiment("trial", id="exp_other"))
    with store.session() as session:
        read = session.get_experiment(P, "trial")
        assert read is not None
        written = session.update_experiment(replace(read, hypothesis="better"))
        assert (written.version, written.hypothesis) == (read.version + 1, "better")
        with pytest.raises(Conflict, match="'trial' was changed by someone else") as stale:
            session.update_experiment(replace(read, hypothesis="stale"))
        assert stale.value.details == {"experiment": "exp_trial", "version": read.version}
    with store.session() as session:
        assert session.get_experiment(P, "trial") == written


def test_allocation_periods_in_start_order_with_the_change(store: MetadataStore) -> None:
    add(store, experiment("split"))

    def period(started: float, weights: dict[str, float]) -> AllocationPeriod:
        return AllocationPeriod(
            "exp_split", minutes(started), weights, 100, AllocationReason.SPLIT, "test"
        )

    with store.session() as session:
        session.add_allocation_period(period(10, {"control": 20, "treatment": 80}))
        session.add_allocation_period(period(0, {"control": 50, "treatment": 50}))
        session.add_allocation_period(period(10, {"control": 30, "treatment": 70}))
    with pytest.raises(RuntimeError, match="fails after its writes"):
        fail_after(store, lambda s: s.add_allocation_period(period(20, {"control": 0})))
    with store.session() as session:
        periods = session.list_allocation_periods("exp_split")
        assert session.list_allocation_periods("exp_nobody") == []
    assert [(p.started_at, p.weights["control"]) for p in periods] == [
        (minutes(0), 50.0), (minutes(10), 20.0), (minutes(10), 30.0),
    ]  # fmt: skip
    assert all(p.id is not None for p in periods)


# Assignments


def test_first_assignments_win_and_are_counted(store: MetadataStore) -> None:
    add(store, experiment("sticky"))
    with store.session() as session:
        assert session.add_assignments("exp_sticky", {}, NOW) == {}
        first = session.add_assignments("exp_sticky", {"u1": "control", "u2": "treatment"}, NOW)
        assert first == {"u1": "control", "u2": "treatment"}
    with store.session() as session:
        held = session.add_assignments("exp_sticky", {"u2": "control", "u3": "control"}, NOW)
        assert held == {"u2": "treatment", "u3": "control"}
        assert session.get_assignments("exp_sticky", ["u1", "u3", "u9"]) == {
            "u1": "control",
            "u3": "control",
        }
        assert session.count_assignments("exp_sticky") == {"control": 2, "treatment": 1}
        assert session.count_assignments("exp_nobody") == {}


# Rollouts


def rollout(
    rollout_id: str, model: str = "radiology", created: float = 0, **changes: object
) -> Rollout:
    made = Rollout(
        rollout_id, P, model, "2.0.0", "1.0.0", None, RolloutStatus.RUNNING, (10.0, 100.0), 0,
        minutes(created), minutes(created), minutes(created),
    )  # fmt: skip
    return replace(made, **changes)  # type: ignore[arg-type]


def test_one_rollout_in_progress_per_model(store: MetadataStore) -> None:
    with store.session() as session:
        session.add_rollout(rollout("ro_1", created=0, status=RolloutStatus.COMPLETED))
        session.add_rollout(rollout("ro_2", created=1))
        with pytest.raises(Conflict, match="'radiology' has a rollout in progress") as busy:
            session.add_rollout(rollout("ro_3", created=2, status=RolloutStatus.PAUSED))
        session.add_rollout(rollout("ro_4", model="triage", created=3))
    assert busy.value.details == {"model": "radiology"}
    with store.session() as session:
        active = session.active_rollout(P, "radiology")
        assert active is not None
        assert active.id == "ro_2"
        assert [r.id for r in session.list_rollouts(P)] == ["ro_4", "ro_2", "ro_1"]
        assert [r.id for r in session.list_rollouts(P, "radiology")] == ["ro_2", "ro_1"]
        assert session.get_rollout("prj_nobody", "ro_2") is None
        assert session.active_rollout(P, "nothing") is None


def test_rollout_revisions_are_checked(store: MetadataStore) -> None:
    with store.session() as session:
        session.add_rollout(rollout("ro_1"))
    with store.session() as session:
        read = session.get_rollout(P, "ro_1")
        assert read is not None
        written = session.update_rollout(replace(read, step=1, status=RolloutStatus.PAUSED))
        assert (written.revision, written.step) == (read.revision + 1, 1)
        with pytest.raises(Conflict, match="the rollout was changed by someone else"):
            session.update_rollout(replace(read, step=1))
        assert session.get_rollout(P, "ro_1") == written


# LLM tasks, experiments, leases and runs


def llm_experiment(
    experiment_id: str, name: str, created: float = 0, **changes: object
) -> LlmExperiment:
    made = LlmExperiment(
        experiment_id, P, name, LlmStatus.RUNNING_BASELINE, minutes(created), minutes(created),
        baseline={"answer": {"temperature": 0.2}}, running="baseline",
    )  # fmt: skip
    return replace(made, **changes)  # type: ignore[arg-type]


def test_llm_tasks_and_experiments_by_id_or_name(store: MetadataStore) -> None:
    task = LlmTask("tsk_1", P, "sum", {"q": (1, 2)}, NOW, expected_output="3")
    with store.session() as session:
        session.add_llm_task(task)
        session.add_llm_task(LlmTask("tsk_2", P, "add", "1+1", NOW))
        with pytest.raises(Conflict, match="a task named 'sum' exists"):
            session.add_llm_task(replace(task, id="tsk_3"))
        session.add_llm_experiment(llm_experiment("llm_b", "second", 1))
        session.add_llm_experiment(llm_experiment("llm_a", "first", 0, run_owner="ignored"))
        with pytest.raises(Conflict, match="an LLM experiment named 'first' exists"):
            session.add_llm_experiment(llm_experiment("llm_c", "first"))
    with store.session() as session:
        assert [t.name for t in session.list_llm_tasks(P)] == ["add", "sum"]
        stored_task = session.get_llm_task(P, "sum")
        assert stored_task is not None
        assert stored_task.input == {"q": [1, 2]}
        assert session.get_llm_task(P, "tsk_2") == LlmTask("tsk_2", P, "add", "1+1", NOW)
        assert [e.id for e in session.list_llm_experiments(P)] == ["llm_a", "llm_b"]
        first = session.get_llm_experiment(P, "first")
        assert session.get_llm_experiment("prj_nobody", "llm_a") is None
    assert first is not None
    assert first.run_owner is None  # an add never writes the lease


def test_an_update_keeps_the_lease_and_checks_the_revision(store: MetadataStore) -> None:
    with store.session() as session:
        session.add_llm_experiment(llm_experiment("llm_1", "run"))
        read = session.get_llm_experiment(P, "llm_1")
        assert read is not None
        assert session.take_llm_lease("llm_1", "server-a", minutes(1)) is True
        written = session.update_llm_experiment(replace(read, description="x", run_owner=None))
        assert (written.revision, written.run_owner) == (read.revision + 1, "server-a")
        assert written.lease_expires_at == minutes(1)
        with pytest.raises(Conflict, match="the experiment was changed by someone else"):
            session.update_llm_experiment(read)


def test_leases_taken_renewed_released_and_broken_once(store: MetadataStore) -> None:
    with store.session() as session:
        session.add_llm_experiment(llm_experiment("llm_1", "one"))
        session.add_llm_experiment(llm_experiment("llm_2", "two"))
        session.add_llm_experiment(llm_experiment("llm_idle", "idle", running=None))
    with store.session() as session:
        assert session.take_llm_lease("llm_1", "a", minutes(1)) is True
        assert session.take_llm_lease("llm_1", "b", minutes(1)) is False
        assert session.take_llm_lease("llm_idle", "a", minutes(1)) is False  # nothing runs
        assert session.take_llm_lease("llm_2", "b", minutes(5)) is True
        assert session.renew_llm_leases("a", ["llm_1", "llm_2", "llm_x"], minutes(3)) == {"llm_1"}
        assert session.renew_llm_leases("a", [], minutes(3)) == set()
        assert session.break_expired_llm_lease("llm_1", minutes(2)) is False  # live until 3
        assert [e.id for e in session.list_expired_llm_runs(minutes(4))] == ["llm_1"]
        assert [e.id for e in session.list_expired_llm_runs(minutes(6))] == ["llm_1", "llm_2"]
        assert session.release_llm_lease("llm_2", "a") is False  # b holds it
        assert session.release_llm_lease("llm_2", "b") is True
        assert session.break_expired_llm_lease("llm_1", minutes(4)) is True
        broken = session.get_llm_experiment(P, "llm_1")
    assert broken is not None
    assert (broken.run_owner, broken.lease_expires_at) == (None, None)


def test_an_expired_lease_is_broken_by_one_of_two_at_once(store: MetadataStore) -> None:
    with store.session() as session:
        session.add_llm_experiment(llm_experiment("llm_1", "one"))
        session.take_llm_lease("llm_1", "dead", minutes(1))

    def recover() -> bool:
        with store.session() as session:
            if not session.break_expired_llm_lease("llm_1", minutes(2)):
                return False
            time.sleep(0.05)  # widen the window in which an unlocked recovery would interleave
            ended = session.get_llm_experiment(P, "llm_1")
            assert ended is not None
            session.update_llm_experiment(replace(ended, running=None))  # the run ends
            return True

    assert sorted(together([recover, recover])) == [False, True]


def run(test_id: str, variant: str, task: str, trial: int, **changes: object) -> LlmRun:
    made = LlmRun(test_id, P, "llm_1", variant, task, trial, RunState.PENDING, NOW)
    return replace(made, **changes)  # type: ignore[arg-type]


def test_runs_in_task_order_written_while_pending(store: MetadataStore) -> None:
    with store.session() as session:
        session.add_llm_experiment(llm_experiment("llm_1", "runs"))
        session.add_llm_runs(
            [run("r3", "base", "t2", 0), run("r2", "base", "t1", 1), run("r1", "base", "t1", 0)]
        )
        session.add_llm_runs([run("r4", "v1", "t0", 0)])
    with store.session() as session:
        assert [r.test_id for r in session.list_llm_runs("llm_1")] == ["r4", "r1", "r2", "r3"]
        assert [r.test_id for r in session.list_llm_runs("llm_1", "base")] == ["r1", "r2", "r3"]
        answered = run("r1", "base", "t1", 0, state=RunState.PASSED, output={"a": (1,)})
        assert session.update_llm_run(answered) is True
        assert session.update_llm_run(run("r1", "base", "t1", 0, state=RunState.ERROR)) is False
        assert session.update_llm_run(run("r9", "base", "t9", 0)) is False
        session.delete_llm_runs("llm_1", "v1")
        stored = session.get_llm_run("r1")
        assert session.get_llm_run("r4") is None
    assert stored is not None
    assert (stored.state, stored.output) == (RunState.PASSED, {"a": [1]})


# Sequential states


def look(metric: str, variant: str, looks: int, mixing_variance: float = 0.5) -> SequentialState:
    design = SequentialDesign(tuning_units=1000, level=0.05)
    return SequentialState(
        "exp_seq", metric, variant, design, looks, 0.5, -1.0, 1.0, mixing_variance, minutes(looks)
    )


def test_sequential_states_locked_then_saved(store: MetadataStore) -> None:
    add(store, experiment("seq"))
    accuracy, latency = ("accuracy", "treatment"), ("latency_ms", "treatment")
    with store.session() as session:
        assert session.lock_sequential_states("exp_seq", []) == {}
        assert session.lock_sequential_states("exp_seq", [accuracy, latency]) == {}
        session.save_sequential_state(look(*accuracy, 1))
        session.save_sequential_state(look("never_locked", "treatment", 1))  # no row: no write
    with store.session() as session:
        # Every stored state of the experiment comes back, not only the keys asked for.
        assert session.lock_sequential_states("exp_seq", [latency]) == {
            accuracy: look(*accuracy, 1)
        }
        session.save_sequential_state(look(*latency, 1, mixing_variance=math.inf))
    with store.session() as session:
        found = session.lock_sequential_states("exp_seq", [accuracy])
    assert set(found) == {accuracy, latency}
    assert math.isnan(found[latency].mixing_variance)  # a non-finite variance is stored as NULL


def test_looks_taken_at_once_all_count(store: MetadataStore) -> None:
    add(store, experiment("seq"))
    key_ = ("accuracy", "treatment")

    def take_a_look() -> None:
        with store.session() as session:
            before = session.lock_sequential_states("exp_seq", [key_]).get(key_)
            time.sleep(0.05)  # widen the window in which an unlocked look would interleave
            session.save_sequential_state(look(*key_, before.looks + 1 if before else 1))

    together([take_a_look, take_a_look, take_a_look])
    with store.session() as session:
        assert session.lock_sequential_states("exp_seq", [key_])[key_].looks == 3
