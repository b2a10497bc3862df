"""The lease on an LLM experiment's run, on both stores: a live lease survives any other
process's recovery, an expired one is ended once however many recover at once, and only
the owner renews or releases it. Time is a clock the tests move; nothing sleeps."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from ablab.contract.llm import LlmExperimentCreate, LlmTaskCreate
from ablab.domain.llm import LlmStatus
from ablab.domain.llm_records import BASELINE, LlmExperiment, RunState
from ablab.errors import InvalidTransition
from ablab.llm.runners import CallableRunner
from ablab.services.context import Context
from ablab.services.llm import experiments as llm
from ablab.services.llm.leases import LeaseKeeper, RunLease
from ablab.services.llm.run_end import RECOVERY_ACTOR, end_run
from ablab.services.llm.runs import begin_run, execute_run, recover_interrupted, run_configuration
from ablab.services.ports import MetadataSession, MetadataStore
from ablab.store.metadata import SqlMetadataStore
from tests.concurrently import together

START = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
TASKS = 4
SERVER_A = RunLease("server@a:1:aaaaaaaaaaaa", seconds=30)
SERVER_B = RunLease("server@b:2:bbbbbbbbbbbb", seconds=30)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clocked(ctx: Context) -> Context:
    """The project's context on a clock the test moves, with four tasks to run."""
    moved = replace(ctx, clock=Clock())
    for i in range(TASKS):
        llm.create_task(
            moved,
            LlmTaskCreate(
                name=f"echo-{i}",
                input={"n": i},
                expected_output=str(i),
                evaluators=[{"kind": "exact_match"}],
            ),
        )
    return moved


def clock_of(ctx: Context) -> Clock:
    assert isinstance(ctx.clock, Clock)
    return ctx.clock


def started(ctx: Context, name: str = "leased", lease: RunLease = SERVER_A) -> LlmExperiment:
    """An experiment whose baseline ``lease.owner`` began to run at the clock's time."""
    spec = LlmExperimentCreate(
        name=name, steps=["writer"], tasks=[f"echo-{i}" for i in range(TASKS)]
    )
    llm.create_llm_experiment(ctx, spec)
    return begin_run(ctx, name, lease=lease)


def stored(ctx: Context, experiment_id: str) -> LlmExperiment:
    return llm.get_llm_experiment(ctx, experiment_id)


def endings(ctx: Context, experiment_id: str) -> list[tuple[str, str]]:
    """The audit entries that ended a run of the experiment: (action, actor)."""
    with ctx.store.session() as session:
        entries = session.list_audit(ctx.project_id, experiment_id)
    ends = {"baseline_failed", "baseline_succeeded", "variant_finished"}
    return [(e.action, e.actor) for e in entries if e.action in ends]


def test_beginning_a_run_takes_its_lease(clocked: Context) -> None:
    experiment = started(clocked)
    assert experiment.run_owner == SERVER_A.owner
    assert experiment.lease_expires_at == START + timedelta(seconds=30)
    assert (experiment.running, experiment.status) == (BASELINE, LlmStatus.RUNNING_BASELINE)


def test_a_live_lease_survives_another_instances_recovery(clocked: Context) -> None:
    experiment = started(clocked)
    clock = clock_of(clocked)
    clock.advance(20)
    assert recover_interrupted(clocked.store, clock=clock) == []
    # The owner renews; past the first expiry the run is still its own.
    keeper = LeaseKeeper(clocked.store, SERVER_A, lambda: {experiment.id}, clock=clock)
    assert keeper.renew() == {experiment.id}
    clock.advance(25)  # 45 s after it began, 25 s after the renewal
    assert recover_interrupted(clocked.store, clock=clock) == []
    found = stored(clocked, experiment.id)
    assert (found.running, found.run_owner) == (BASELINE, SERVER_A.owner)
    assert found.lease_expires_at == START + timedelta(seconds=50)
    with clocked.store.session() as session:
        runs = session.list_llm_runs(experiment.id, BASELINE)
    assert {r.state for r in runs} == {RunState.PENDING}
    assert endings(clocked, experiment.id) == []


def test_an_expired_lease_is_ended_by_recovery(clocked: Context) -> None:
    experiment = started(clocked)
    clock = clock_of(clocked)
    clock.advance(30)  # the very end of the lease: still held
    assert recover_interrupted(clocked.store, clock=clock) == []
    clock.advance(0.001)
    assert recover_interrupted(clocked.store, clock=clock) == [experiment.id]
    found = stored(clocked, experiment.id)
    assert (found.status, found.running) == (LlmStatus.BASELINE_FAILED, None)
    assert (found.run_owner, found.lease_expires_at) == (None, None)
    with clocked.store.session() as session:
        runs = session.list_llm_runs(experiment.id, BASELINE)
    assert {r.state for r in runs} == {RunState.ERROR}
    assert endings(clocked, experiment.id) == [("baseline_failed", RECOVERY_ACTOR)]
    assert recover_interrupted(clocked.store, clock=clock) == []
    # The baseline may run again, under a new owner, with a fresh lease.
    again = begin_run(clocked, experiment.id, lease=SERVER_B)
    assert (again.run_owner, again.lease_expires_at) == (
        SERVER_B.owner,
        clock.now + timedelta(seconds=30),
    )


def test_renewal_or_release_by_a_non_owner_does_nothing(clocked: Context) -> None:
    experiment = started(clocked)
    clock = clock_of(clocked)
    clock.advance(20)
    intruder = LeaseKeeper(clocked.store, SERVER_B, lambda: {experiment.id}, clock=clock)
    assert intruder.renew() == set()
    with clocked.store.session() as session:
        assert session.release_llm_lease(experiment.id, SERVER_B.owner) is False
    assert stored(clocked, experiment.id).lease_expires_at == START + timedelta(seconds=30)
    with pytest.raises(InvalidTransition, match="belongs to another process"):
        execute_run(
            clocked, experiment.id, CallableRunner(lambda task, config: "x"), lease=SERVER_B
        )
    assert stored(clocked, experiment.id).run_owner == SERVER_A.owner
    # The owner's lease was not extended by any of that: it expires on time.
    clock.advance(10.001)
    assert recover_interrupted(clocked.store, clock=clock) == [experiment.id]


def test_an_owner_that_lost_its_lease_ends_nothing(clocked: Context) -> None:
    """A stalled owner comes back after another process ended its run: its answers and its
    own end of the run are refused by the conditional writes."""
    experiment = started(clocked)
    clock = clock_of(clocked)
    clock.advance(31)
    assert recover_interrupted(clocked.store, clock=clock) == [experiment.id]
    keeper = LeaseKeeper(clocked.store, SERVER_A, lambda: {experiment.id}, clock=clock)
    assert keeper.renew() == set()
    claim = _owner_claim(experiment.id, SERVER_A.owner)
    assert end_run(clocked, experiment.id, claim) is None
    assert endings(clocked, experiment.id) == [("baseline_failed", RECOVERY_ACTOR)]


def test_a_stopping_server_hands_its_leases_back(clocked: Context) -> None:
    """A server shutting down lets its runs' leases expire at once: the next recovery (a
    replica's, or its own after a restart) need not wait a lease."""
    experiment = started(clocked)
    clock = clock_of(clocked)
    clock.advance(5)
    keeper = LeaseKeeper(clocked.store, SERVER_A, lambda: {experiment.id}, clock=clock)
    keeper.stop(hand_back=True)
    assert stored(clocked, experiment.id).lease_expires_at == clock.now
    clock.advance(0.001)
    assert recover_interrupted(clocked.store, clock=clock) == [experiment.id]


def test_a_local_run_holds_its_lease_while_it_runs(clocked: Context) -> None:
    """``run_configuration`` (the CLI and the local client) owns its run under an id of its
    own: a server's recovery meanwhile leaves it alone, and it ends it itself."""
    seen: list[tuple[str | None, list[str]]] = []

    def pipeline(task: dict[str, Any], config: dict[str, Any]) -> str:
        found = stored(clocked, "local")
        seen.append((found.run_owner, recover_interrupted(clocked.store, clock=clocked.clock)))
        return str(task["n"])

    spec = LlmExperimentCreate(
        name="local", steps=["writer"], tasks=[f"echo-{i}" for i in range(TASKS)]
    )
    llm.create_llm_experiment(clocked, spec)
    done = run_configuration(clocked, "local", runner=CallableRunner(pipeline))
    assert done.status is LlmStatus.BASELINE_COMPLETE
    assert (done.run_owner, done.lease_expires_at) == (None, None)
    assert len(seen) == TASKS
    owners = {owner for owner, _ in seen}
    assert len(owners) == 1
    (owner,) = owners
    assert owner is not None
    assert owner.startswith("local@")
    assert all(ended == [] for _, ended in seen)
    assert endings(clocked, done.id) == [("baseline_succeeded", clocked.actor)]


def test_a_local_run_ends_a_dead_ones_run_once_its_lease_expired(clocked: Context) -> None:
    """A CLI run killed mid-way: trying again is refused while its lease holds, and works
    once it has expired, with no server to recover it."""
    dead = RunLease("local@laptop:9:deaddeaddead", seconds=30)
    experiment = started(clocked, lease=dead)
    echo = CallableRunner(lambda task, config: str(task["n"]))
    with pytest.raises(InvalidTransition):
        run_configuration(clocked, experiment.id, runner=echo)
    clock_of(clocked).advance(31)
    done = run_configuration(clocked, experiment.id, runner=echo)
    assert done.status is LlmStatus.BASELINE_COMPLETE
    assert endings(clocked, experiment.id) == [
        ("baseline_succeeded", clocked.actor),
        ("baseline_failed", RECOVERY_ACTOR),
    ]


def _owner_claim(experiment_id: str, owner: str) -> Callable[[MetadataSession], bool]:
    return lambda session: session.release_llm_lease(experiment_id, owner)


def test_racing_recoveries_end_an_expired_run_once(clocked: Context) -> None:
    experiments = [started(clocked, f"race-{i}") for i in range(3)]
    clock = clock_of(clocked)
    clock.advance(31)
    store = clocked.store
    ended = together([lambda: recover_interrupted(store, clock=clock) for _ in range(4)])
    assert sorted(i for one in ended for i in one) == sorted(e.id for e in experiments)
    for experiment in experiments:
        found = stored(clocked, experiment.id)
        assert (found.status, found.running) == (LlmStatus.BASELINE_FAILED, None)
        assert endings(clocked, experiment.id) == [("baseline_failed", RECOVERY_ACTOR)]


def test_the_owner_and_a_recovery_racing_end_the_run_once(clocked: Context) -> None:
    """The owner comes back just as its lease expired and another process recovers."""
    for round_ in range(4):
        experiment = started(clocked, f"late-{round_}")
        clock = clock_of(clocked)
        clock.advance(31)
        by_owner, by_recovery = together(
            [
                partial(
                    end_run, clocked, experiment.id, _owner_claim(experiment.id, SERVER_A.owner)
                ),
                partial(recover_interrupted, clocked.store, clock=clock),
            ]
        )
        assert (by_owner is not None) != (by_recovery == [experiment.id])
        assert len(endings(clocked, experiment.id)) == 1


class AnswerArrivesMidway:
    """The store, except that while a run is being ended, between its reading the pending
    task runs and its marking them unanswered, one answer lands from another connection
    (the owner's last webhook reply): what PostgreSQL's READ COMMITTED lets happen."""

    def __init__(self, store: MetadataStore, answer: Callable[[], None]) -> None:
        self._store, self._answer = store, answer
        self.delivered = False

    @contextmanager
    def session(self) -> Iterator[Any]:
        with self._store.session() as session:
            yield _Spy(session, self)

    def close(self) -> None:
        self._store.close()


class _Spy:
    def __init__(self, session: MetadataSession, outer: AnswerArrivesMidway) -> None:
        self._session, self._outer = session, outer

    def list_llm_runs(self, experiment_id: str, variant_id: str | None = None) -> Any:
        runs = self._session.list_llm_runs(experiment_id, variant_id)
        if not self._outer.delivered:
            self._outer.delivered = True
            worker = threading.Thread(target=self._outer._answer)  # its own connection
            worker.start()
            worker.join(30)
        return runs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


@pytest.mark.parametrize(
    "metadata_store", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_the_errors_counted_are_the_ones_stored(
    clocked: Context, metadata_store: SqlMetadataStore
) -> None:
    """An answer stored between the end's read and its conditional writes counts as an
    answer, not as an error (SQLite cannot interleave them: its writers take turns)."""
    experiment = started(clocked)
    with clocked.store.session() as session:
        first = session.list_llm_runs(experiment.id, BASELINE)[0]

    def answer() -> None:
        with metadata_store.session() as session:
            done = replace(first, state=RunState.PASSED, output="0", completed_at=START)
            assert session.update_llm_run(done)

    spied = AnswerArrivesMidway(metadata_store, answer)
    ctx = replace(clocked, store=spied)
    finished = end_run(ctx, experiment.id, _owner_claim(experiment.id, SERVER_A.owner))
    assert spied.delivered
    assert finished is not None
    with clocked.store.session() as session:
        entries = session.list_audit(clocked.project_id, experiment.id)
        states = sorted(r.state.value for r in session.list_llm_runs(experiment.id, BASELINE))
    assert states == ["error"] * (TASKS - 1) + ["passed"]
    (ending,) = [e for e in entries if e.action == "baseline_failed"]
    assert ending.after == {"ran": BASELINE, "runs": TASKS, "errors": TASKS - 1}
