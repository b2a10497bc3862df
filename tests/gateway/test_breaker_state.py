"""Issue 18: the circuit breakers' state in ``/metrics`` and for the console, opened by real
failing calls through the real server's ``POST /v1/predict``, then half open after the
(short) open period, reopened by a failed probe and closed by a good one."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from functools import partial

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ablab.domain.keys import Scope
from ablab.gateway.breaker import BreakerReading, BreakerState, CircuitBreaker
from ablab.server.breakers import all_breaker_readings, breaker_readings, breaker_states
from tests.console.conftest import Console
from tests.console.test_stale_forms import signed_in
from tests.gateway import test_faults as faults
from tests.gateway.model_server import ModelServer
from tests.server.conftest import Project, RunningServer, serving
from tests.server.test_sdk import wait_for

# Long enough to read /metrics and the breakers after the failing calls on a loaded
# machine (those take milliseconds: the model answers 500 at once), short enough to wait.
OPEN_SECONDS = 3.0
CONTROL, TREATMENT = "radiology-v1@1.0.0", "radiology-v1@2.0.0"

Models = tuple[ModelServer, ModelServer]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    servers = serving(tmp_path_factory.mktemp("breakers"), model_timeout=1.0)
    running = next(servers)
    # The server's breakers with a short open period (the default is 5 s; no setting
    # changes it), set before any call makes one.
    running.state.gateway._new_breaker = partial(CircuitBreaker, open_seconds=OPEN_SECONDS)
    yield running
    next(servers, None)


def scrape(project: Project) -> dict[tuple[str, ...], float]:
    """The breaker samples of ``/metrics`` read with a ``read`` key, parsed by Prometheus's
    own parser: (sample name, project, backend[, state]) -> value."""
    answer = project.http(project.key(Scope.READ)).get("/metrics")
    assert answer.status_code == 200, answer.text
    samples: dict[tuple[str, ...], float] = {}
    for family in text_string_to_metric_families(answer.text):
        if family.name.startswith("ablab_breaker_"):
            for sample in family.samples:
                labels = sample.labels
                key = (sample.name, labels["project"], labels["backend"])
                samples[(*key, labels["state"]) if "state" in labels else key] = sample.value
    return samples


def shown(samples: dict[tuple[str, ...], float], project: str, backend: str) -> BreakerReading:
    """The one state /metrics gives 1 to (the others 0), and the count of openings."""
    states = {s: samples[("ablab_breaker_state", project, backend, s.value)] for s in BreakerState}
    assert sorted(states.values()) == [0.0, 0.0, 1.0], states
    (state,) = (s for s, value in states.items() if value == 1.0)
    opened = samples[("ablab_breaker_opened_total", project, backend)]
    return BreakerReading(state, int(opened))


def assert_reads(project: Project, treatment: BreakerReading) -> None:
    """/metrics, the console's function and the breakers themselves all say the same."""
    expected = {CONTROL: BreakerReading(BreakerState.CLOSED, 0), TREATMENT: treatment}
    samples = scrape(project)
    ids = version_ids(project)
    assert {b: shown(samples, project.id, ids[b]) for b in expected} == expected
    state = project.server.state
    assert breaker_readings(state, project.id) == expected
    assert breaker_states(state, project.id) == {b: r.state for b, r in expected.items()}


def version_ids(project: Project) -> dict[str, str]:
    """Backend (``model@version``) to the version id /metrics labels it with, as the
    project's own key reads it from ``GET /v1/models``."""
    models = project.http().get("/v1/models").json()
    return {f"{m['name']}@{v['version']}": v["id"] for m in models for v in m["versions"]}


def treatment_units(http: httpx.Client) -> list[str]:
    units = [f"d{i}" for i in range(100)]
    return [u for u in units if faults.predict(http, u).json()["variant"] == "treatment"]


def test_a_failing_backend_opens_its_breaker_and_every_reading_shows_it(
    project: Project, models: Models
) -> None:
    control, treatment = models
    faults.setup(project, control, treatment)
    http = project.http()
    units = treatment_units(http)  # both models answered: both breakers exist, closed
    assert_reads(project, BreakerReading(BreakerState.CLOSED, 0))

    treatment.mode = "error"
    started = time.monotonic()
    for unit in units[:8]:  # five failures in a row open it; the rest are refused at once
        answer = faults.predict(http, unit)
        assert answer.status_code == 200
        assert answer.json()["fallback"] is True
    assert_reads(project, BreakerReading(BreakerState.OPEN, 1))
    assert time.monotonic() - started < OPEN_SECONDS, "too slow to see it open: reads unsure"

    # After the open period it lets one probe through: half open, nothing called yet.
    calls = treatment.calls
    wait_for(lambda: breaker_states(project.server.state, project.id)[TREATMENT] == "half_open")
    assert_reads(project, BreakerReading(BreakerState.HALF_OPEN, 1))
    assert treatment.calls == calls

    # The probe fails: open again, and counted.
    assert faults.predict(http, units[0]).json()["fallback"] is True
    assert treatment.calls == calls + 1
    assert_reads(project, BreakerReading(BreakerState.OPEN, 2))

    # The model is back: the next probe closes it; the count stays.
    treatment.mode = "ok"
    wait_for(lambda: breaker_states(project.server.state, project.id)[TREATMENT] == "half_open")
    answer = faults.predict(http, units[0]).json()
    assert answer["fallback"] is False
    assert answer["prediction"] == "pneumonia"
    assert_reads(project, BreakerReading(BreakerState.CLOSED, 2))


def open_the_treatments_breaker(project: Project, models: Models) -> None:
    """The trial experiment, its treatment's model failing until its breaker opens."""
    control, treatment = models
    faults.setup(project, control, treatment)
    treatment.mode = "error"
    http = project.http()
    for i in range(40):
        faults.predict(http, f"u{i}")
    assert breaker_states(project.server.state, project.id)[TREATMENT] is BreakerState.OPEN


def test_each_project_sees_only_its_own_breakers(
    server: RunningServer, project: Project, models: Models
) -> None:
    open_the_treatments_breaker(project, models)

    other = server.project()
    assert breaker_states(server.state, other.id) == {}  # never called: absent, closed
    assert breaker_readings(server.state, other.id) == {}
    # /metrics is the operator's view of every project, read with any project's key: its
    # lines carry ids, never a project's or a model's name.
    ids = version_ids(project)
    lines = {(p, b) for p, b, _ in all_breaker_readings(server.state)}
    assert {(project.id, ids[CONTROL]), (project.id, ids[TREATMENT])} <= lines
    assert not any(p == other.id for p, _ in lines)
    text = other.http(other.key(Scope.READ)).get("/metrics").text
    assert project.name not in text
    assert "radiology-v1" not in text


def test_the_console_shows_each_variants_breaker(
    server: RunningServer, project: Project, models: Models
) -> None:
    open_the_treatments_breaker(project, models)
    browser, _ = signed_in(Console(server, project), Scope.READ)
    page = browser.get("/experiments/trial")
    assert page.status_code == 200
    badges = dict(
        re.findall(r'data-testid="breaker-(\w+)"><span class="badge breaker-(\w+)"', page.text)
    )
    assert badges == {"control": "closed", "treatment": "open"}
