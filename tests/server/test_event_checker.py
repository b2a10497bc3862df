"""The server's event checkers: worker processes that check batches the server then stores.

What must hold: a batch checked in a worker comes back exactly as checked in-process (the
tables, the refusals with their indexes, ids and reasons, the exposed units); a malformed
body is refused with the same error; a worker that dies is replaced, and the batch it held
is either checked again by another worker or answered 503, never a 500, never half stored.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.errors import AblabError, PayloadTooLarge, Unavailable, ValidationError
from ablab.server.event_checker import EventChecker
from ablab.services.access.projects import ensure_project
from ablab.services.context import Context
from ablab.services.events.ingest import CheckedEvents, check_events
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment
from ablab.settings import Settings
from ablab.store.metadata import SqlMetadataStore
from ablab.store.open import open_metadata
from tests.server.conftest import Project, RunningServer, serving
from tests.server.test_sdk import setup_experiment

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


def good_events() -> list[dict[str, Any]]:
    return [
        {
            "event_id": "e1",
            "type": "exposure",
            "experiment": "trial",
            "unit_id": "d1",
            "variant": "control",
            "timestamp": at(10),
            "attributes": {"region": "eu", "score": 0.5},
        },
        {
            "event_id": "e2",
            "type": "prediction",
            "experiment": "trial",
            "unit_id": "d1",
            "variant": "control",
            "prediction_id": "p1",
            "latency_ms": 41.5,
            "error": False,
            "output": {"class": "pneumonia"},
            "timestamp": at(9),
        },
        {
            "event_id": "e3",
            "type": "label",
            "prediction_id": "p1",
            "correct": True,
            "timestamp": at(1),
        },
        {
            "event_id": "e4",
            "type": "metric",
            "experiment": "trial",
            "unit_id": "d1",
            "name": "revenue",
            "value": 12.5,
            "timestamp": at(5),
        },
        {
            "event_id": "e5",
            "type": "label",
            "prediction_id": "p2",
            "label": "normal",
            "timestamp": at(1),
        },
        {
            "event_id": "e6",
            "type": "exposure",
            "unit_id": "d2",  # the body's default experiment
            "variant": "treatment",
            "timestamp": at(3),
        },
    ]


def bad_events() -> list[Any]:
    exposure, prediction = good_events()[0], good_events()[1]
    return [
        "not an object",
        {**exposure, "event_id": "b1", "experiment": "ghost"},
        {**exposure, "event_id": "b2", "variant": "treatment_9"},
        {**exposure, "event_id": "b3", "timestamp": (NOW + timedelta(hours=1)).isoformat()},
        {**exposure, "event_id": "b4", "timestamp": "2026-11-23T11:00:00"},
        {**exposure, "event_id": "b5", "unit_id": 7},
        {**exposure, "event_id": "b6", "attributes": ["eu"]},
        {**prediction, "event_id": "b7", "latency_ms": -1},
        {**prediction, "event_id": "b8", "shadw": True},
        {"event_id": "b9", "type": "click"},
        {"event_id": "b10", "type": "label", "prediction_id": "p1", "correct": True, "label": "x"},
        {**good_events()[3], "event_id": "b11", "name": ""},
        {**exposure, "event_id": None},
    ]


def mixed_batch() -> list[Any]:
    """Good and bad events interleaved, so the indexes of the refusals mean something."""
    good, bad = good_events(), bad_events()
    mixed: list[Any] = []
    for i in range(max(len(good), len(bad))):
        mixed += good[i : i + 1] + bad[i : i + 1]
    return mixed


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A metadata store under a home of its own, with the running experiment ``trial``."""
    home = tmp_path_factory.mktemp("checkers")
    settings = Settings(home=home, monitor_interval=0)
    store = open_metadata(settings)
    try:
        project = ensure_project(store, "default")
        ctx = Context(store, project.id, actor="test:alice")
        for version in ("1.0.0", "2.0.0"):
            register_model_version(
                ctx, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/x")
            )
        create_experiment(
            ctx,
            ExperimentCreate(
                name="trial", model_id="m", control_version="1.0.0", treatment_version="2.0.0"
            ),
        )
    finally:
        store.close()
    return settings


@pytest.fixture(scope="module")
def store(settings: Settings) -> Iterator[SqlMetadataStore]:
    opened = open_metadata(settings)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def pool(settings: Settings) -> Iterator[EventChecker]:
    checker = EventChecker(settings, 2)
    yield checker
    checker.close()


def project_id(store: SqlMetadataStore) -> str:
    return ensure_project(store, "default").id


def lookup(store: SqlMetadataStore) -> Any:
    def find(ref: str) -> Any:
        with store.session(read_only=True) as session:
            return session.get_experiment(project_id(store), ref)

    return find


def body(events: list[Any], experiment: str | None = "trial") -> bytes:
    data: dict[str, Any] = {"events": events}
    if experiment is not None:
        data["experiment"] = experiment
    return orjson.dumps(data)


def in_process(store: SqlMetadataStore, events: list[Any], default: str | None) -> CheckedEvents:
    return check_events(project_id(store), NOW, events, lookup(store), default_experiment=default)


def same(a: CheckedEvents, b: CheckedEvents) -> None:
    assert (a.received, a.rejected, a.exposed) == (b.received, b.rejected, b.exposed)
    assert a.batch.tables.keys() == b.batch.tables.keys()
    for kind, table in a.batch.tables.items():
        assert table.equals(b.batch.tables[kind], check_metadata=True), kind


@pytest.mark.parametrize(
    "events",
    [good_events(), bad_events(), mixed_batch(), [], [good_events()[1]] * 3],
    ids=["good", "bad", "mixed", "empty", "repeated"],
)
def test_a_worker_checks_as_the_server_does(
    pool: EventChecker, store: SqlMetadataStore, events: list[Any]
) -> None:
    pid = project_id(store)
    found = pool.check(pid, body(events), NOW, max_events=100, lookup=lookup(store))
    expected = in_process(store, events, "trial")
    same(found, expected)
    if events is not bad_events():
        assert found.received == len(events)


def test_the_mixed_batch_refuses_what_it_should(
    pool: EventChecker, store: SqlMetadataStore
) -> None:
    events = mixed_batch()
    found = pool.check(project_id(store), body(events), NOW, max_events=100, lookup=lookup(store))
    refused = {error.index for error in found.rejected}
    assert refused == {i for i, event in enumerate(events) if i % 2 or i >= 12}
    assert {e.event_id for e in found.rejected} >= {"b1", "b2", "b11", None}
    assert len(found.batch) == len(good_events())
    assert found.exposed == {next(iter(found.exposed)): {"d1": "control", "d2": "treatment"}}


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (b"not json", ValidationError, "the body is not JSON"),
        (b"[1, 2]", ValidationError, "the body must be a JSON object"),
        (b'{"events": {}}', ValidationError, 'the body must be {"events": [...]}'),
        (b'{"events": [], "extra": 1}', ValidationError, "unknown fields: extra"),
        (b'{"events": [], "experiment": ""}', ValidationError, "experiment must be"),
        (b'{"events": [{"value": NaN}]}', ValidationError, "is not a JSON number"),
        (body([{}] * 101), PayloadTooLarge, "a batch holds at most 100 events, got 101"),
    ],
)
def test_a_malformed_body_is_refused_alike(
    pool: EventChecker,
    store: SqlMetadataStore,
    raw: bytes,
    error: type[AblabError],
    message: str,
) -> None:
    pid = project_id(store)
    with pytest.raises(error) as in_worker:
        pool.check(pid, raw, NOW, max_events=100, lookup=lookup(store))
    local = EventChecker(pool._settings, 0)
    with pytest.raises(error) as here:
        local.check(pid, raw, NOW, max_events=100, lookup=lookup(store))
    assert message in in_worker.value.message
    assert in_worker.value.to_dict() == here.value.to_dict()


def stopped_worker_killed_mid_request(checker: EventChecker, store: SqlMetadataStore) -> Any:
    """Check a batch while its only worker is stopped, kill the worker, return what the
    check gave (its result or its error)."""
    (pid,) = checker.pids
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    outcome: list[Any] = []

    def check() -> None:
        try:
            outcome.append(
                checker.check(
                    project_id(store),
                    body(good_events()),
                    NOW,
                    max_events=100,
                    lookup=lookup(store),
                )
            )
        except AblabError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=check)
    thread.start()
    thread.join(0.3)  # the batch is (most likely) in the stopped worker's pipe by now
    os.kill(pid, signal.SIGKILL)
    thread.join(30)
    assert not thread.is_alive()
    (found,) = outcome
    return found


def test_a_worker_killed_mid_request_is_replaced_and_the_batch_checked_again(
    settings: Settings, store: SqlMetadataStore
) -> None:
    checker = EventChecker(settings, 1)
    try:
        before = checker.pids
        found = stopped_worker_killed_mid_request(checker, store)
        same(found, in_process(store, good_events(), "trial"))
        assert checker.pids != before
        assert checker.replaced == 1
    finally:
        checker.close()


def test_without_retries_the_request_gets_a_503_and_the_next_one_a_new_worker(
    settings: Settings, store: SqlMetadataStore
) -> None:
    checker = EventChecker(settings, 1, retries=0)
    try:
        before = checker.pids
        found = stopped_worker_killed_mid_request(checker, store)
        assert isinstance(found, Unavailable)
        assert found.http_status == 503
        assert "nothing of it was stored" in found.message
        assert checker.pids != before
        again = checker.check(
            project_id(store), body(good_events()), NOW, max_events=100, lookup=lookup(store)
        )
        same(again, in_process(store, good_events(), "trial"))
    finally:
        checker.close()


def test_a_stuck_worker_is_killed_after_the_timeout(
    settings: Settings, store: SqlMetadataStore
) -> None:
    checker = EventChecker(settings, 1, timeout=0.5)
    try:
        (pid,) = checker.pids
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        with pytest.raises(Unavailable):
            checker.check(
                project_id(store), body(good_events()), NOW, max_events=100, lookup=lookup(store)
            )
        assert checker.pids != [pid]
        with pytest.raises(ProcessLookupError):  # killed, not left stopped
            os.kill(pid, 0)
    finally:
        checker.close()


def test_close_stops_the_workers(settings: Settings) -> None:
    checker = EventChecker(settings, 2)
    pids = checker.pids
    checker.close()
    for pid in pids:
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_zero_checks_in_process_and_an_in_memory_database_too(tmp_path: Path) -> None:
    assert EventChecker(Settings(home=tmp_path, event_checkers=0)).size == 0
    memory = Settings(home=tmp_path, database_url="sqlite://")
    assert EventChecker(memory).size == 0


# Through the server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serving(tmp_path_factory.mktemp("server"), event_checkers=2)


def test_the_server_starts_its_checkers_and_replaces_a_killed_one(
    server: RunningServer, project: Project
) -> None:
    checker = server.state.event_checker
    assert checker is not None
    assert checker.size == 2
    http = project.http()
    setup_experiment(project, "trial")
    pids = checker.pids
    answers = []
    for pid in pids:
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)

    def post(i: int) -> None:
        events = [
            {**good_events()[1], "event_id": f"k{i}", "timestamp": datetime.now(UTC).isoformat()}
        ]
        answers.append(http.post("/v1/events", json={"events": events}))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(0.2)
    for pid in pids:
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
    for thread in threads:
        thread.join(30)
    # Checked again by a new worker, or refused whole: never a 500, never half stored.
    assert {a.status_code for a in answers} <= {200, 503}
    for answer in answers:
        if answer.status_code == 503:
            assert answer.json()["error"]["code"] == "unavailable"
        else:
            assert answer.json()["stored"] == 1
    acknowledged = sum(a.status_code == 200 for a in answers)
    server.state.events.ping()
    stored = server.state.events.count("prediction")
    assert stored >= acknowledged
    assert set(checker.pids).isdisjoint(pids)
    assert len(checker.pids) == 2
    after = http.post(
        "/v1/events",
        json={"events": [{**good_events()[1], "event_id": "after", "timestamp": at(0)}]},
    )
    assert after.status_code == 200
    assert after.json()["stored"] == 1


def test_a_new_experiment_is_seen_by_the_workers_at_once(
    server: RunningServer, project: Project
) -> None:
    http = project.http()
    event = {**good_events()[0], "experiment": "fresh", "timestamp": datetime.now(UTC).isoformat()}
    first = http.post("/v1/events", json={"events": [event]})
    assert first.json()["rejected"][0]["reason"].startswith("unknown experiment")
    setup_experiment(project, "fresh")
    # Within the cache's second: the write through this server invalidates the workers' copies.
    second = http.post("/v1/events", json={"events": [event]})
    assert second.json()["rejected"] == []
    assert second.json()["stored"] == 1
