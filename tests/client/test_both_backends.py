"""One scenario through the SDK, on the embedded store and against a served app: the same
answers and the same errors, step by step, and every operation taken on both.

Each operation is defined once (``_api.py``, ``_llm_api.py``): its function is what the
embedded store runs, its route what the server serves. This is where the two are seen to
agree. Ids, times, keys and actors differ between two stores and are masked; everything
else (statistics included) must be equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pydantic
import pytest

from ablab import AblabError, Client
from ablab.client import _api, _llm_api
from ablab.client._backend import Backend
from ablab.client._http import HttpBackend
from ablab.client._local import LocalBackend
from ablab.client._operation import Operation
from ablab.settings import Settings
from tests.llm.example_app import ExampleApp
from tests.server.conftest import RunningServer, serving

P = ParamSpec("P")
Out = TypeVar("Out")

OPERATIONS = {
    value
    for module in (_api, _llm_api)
    for value in vars(module).values()
    if isinstance(value, Operation)
}
SECRET = "a-secret-of-some-length"


class Recording:
    """A backend that notes each operation it is asked for, then asks ``inner``."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.called: list[Operation[..., Any]] = []

    def call(self, operation: Operation[P, Out], /, *args: P.args, **kwargs: P.kwargs) -> Out:
        self.called.append(operation)
        return self.inner.call(operation, *args, **kwargs)

    def close(self) -> None:
        self.inner.close()


# What differs between two stores by nature: generated ids (and ids within text), times
# and the rates over them, secrets, who acted, and the LLM runs' latency that ablab measured
# itself (a round trip, where the application reported none).
_ID = re.compile(r"\b[a-z]+_[0-9a-f]{8,}[0-9a-z_]*\b")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)?$")
_MASKED = {"id", "key", "prefix", "actor", "created_by", "days_run", "units_per_day",
           "minutes_in_step", "latency_mean_ms", "latency_p50_ms"}  # fmt: skip


def masked(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return masked(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {k: "<masked>" if k in _MASKED else masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, str):
        return "<time>" if _TIME.match(value) else _ID.sub("<id>", value)
    return value


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two masked answers differ, as paths (``results.variants.0.units``)."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = list(a) + [k for k in b if k not in a]
        return [d for k in keys for d in differences(a.get(k), b.get(k), f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in differences(x, y, f"{where}.{i}")]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


class Steps:
    """Runs the scenario's steps, keeping each one's answer or error, masked."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    def __call__(self, name: str, step: Callable[[], Any]) -> Any:
        try:
            found = step()
        except AblabError as exc:
            self.seen[name] = ("error", type(exc).__name__, _ID.sub("<id>", str(exc)))
            return None
        self.seen[name] = masked(found)
        return found


def _events(experiment: str) -> list[dict[str, Any]]:
    """Events of 40 units, each exposed to a variant chosen here: each store hashes units
    with a salt of its own, so units assigned there would split differently."""
    now = datetime.now(UTC).isoformat()
    events: list[dict[str, Any]] = []
    for unit in range(40):
        unit_id = f"device-{unit}"
        variant = "treatment" if unit % 4 < 2 else "control"
        base = {"experiment": experiment, "unit_id": unit_id, "timestamp": now}
        prediction = f"p-{unit}"
        correct = unit % 3 != 0 if variant == "treatment" else unit % 2 == 0
        events += [
            {**base, "event_id": f"x-{unit}", "type": "exposure", "variant": variant,
             "attributes": {"region": "eu" if unit % 2 else "us"}},
            {**base, "event_id": f"p-{unit}", "type": "prediction", "variant": variant,
             "prediction_id": prediction, "latency_ms": 10.0 + unit, "error": False},
            {"event_id": f"l-{unit}", "type": "label", "prediction_id": prediction,
             "correct": correct, "timestamp": now},
            {**base, "event_id": f"m-{unit}", "type": "metric", "name": "revenue",
             "value": float(unit % 5)},
        ]  # fmt: skip
    return events


def scenario(client: Client, webhook: str) -> dict[str, Any]:
    step = Steps()
    for version in ("1.0.0", "2.0.0"):
        step(f"register {version}", lambda v=version: client.models.register(
            "radiology-v1", v, endpoint=f"http://127.0.0.1:9/{v}"))  # fmt: skip
    step("model", lambda: client.models.get("radiology-v1"))
    step("models", client.models.list)
    step("ghost model", lambda: client.models.get("ghost"))
    step("group", lambda: client.groups.create("eu", rule={"region": {"$in": ["eu"]}}))
    step("get group", lambda: client.groups.get("eu"))
    step("groups", client.groups.list)
    step("metric", lambda: client.metrics.create("revenue", aggregation="sum"))
    step("metrics", client.metrics.list)
    # No folder is open to sources here: refused alike, and nothing to show or test.
    mapping = {"unit_id": "u", "name": "n", "value": "v", "ts": "t"}
    step("source", lambda: client.sources.add(
        "lake", tables={"metric": {"path": "/srv/lake/metrics", "columns": mapping}}))  # fmt: skip
    step("sources", client.sources.list)
    step("ghost source", lambda: client.sources.get("lake"))
    step("ghost source test", lambda: client.sources.test("lake"))
    step("ghost source refresh", lambda: client.sources.refresh("lake"))

    short = {"model_id": "radiology-v1", "control_version": "1.0.0", "treatment_version": "2.0.0"}
    step(
        "create", lambda: client.experiments.create("trial", **short, secondary_metrics=["revenue"])
    )
    step("again", lambda: client.experiments.create("trial", **short))
    step("bad create", lambda: client.experiments.create("bad", **short, alpha=2))
    step("get", lambda: client.experiments.get("trial"))
    step("split", lambda: client.experiments.update_split("trial", traffic_split=60))
    step("log", lambda: client.events.log([*_events("trial"), {"type": "nonsense"}]))
    step("log again", lambda: client.events.log(_events("trial")[:4]))
    step("track", lambda: client.track({"type": "nonsense"}))
    step("counts", lambda: client.experiments.assignment_counts("trial"))
    # Which variant is the salt's choice; that the unit is in, and stays, is the same.
    step("assign", lambda: client.assign("trial", "probe", {"region": "eu"}).reason)
    step("sticky", lambda: len({client.assign("trial", "probe").variant for _ in range(3)}))
    step("results", lambda: client.experiments.results("trial"))
    step("by region", lambda: client.experiments.results("trial", segment="region"))
    step("uniform prior", lambda: client.experiments.results("trial", prior="uniform"))
    step("timeseries", lambda: client.experiments.timeseries("trial", interval="day"))
    step("rebalance", lambda: client.experiments.rebalance("trial"))
    step("pause", lambda: client.experiments.pause("trial"))
    step("pause again", lambda: client.experiments.pause("trial"))
    step("resume", lambda: client.experiments.resume("trial"))
    step("promote", lambda: client.experiments.promote("trial", force=True, steps=[50, 100]))
    rollouts = step("rollouts", lambda: client.rollouts.list("radiology-v1")) or []
    for rollout in rollouts:
        step("rollout", lambda r=rollout.id: client.rollouts.get(r))
        step("rollout pause", lambda r=rollout.id: client.rollouts.pause(r, "look first"))
        step("rollout resume", lambda r=rollout.id: client.rollouts.resume(r))
        step("rollout advance", lambda r=rollout.id: client.rollouts.advance(r, "by hand"))
        step("rollout back", lambda r=rollout.id: client.rollouts.rollback(r, "enough"))
    step("archive", lambda: client.experiments.archive("trial"))

    step("draft", lambda: client.experiments.create("drafted", **short, group="eu", draft=True))
    step("variant", lambda: client.experiments.add_variant("drafted", "third", weight=0))
    step("update", lambda: client.experiments.update("drafted", hypothesis="eu first"))
    step("launch", lambda: client.experiments.launch("drafted"))
    step("stop", lambda: client.experiments.stop("drafted"))
    step("list", lambda: client.experiments.list(status="stopped"))
    step("audit", lambda: client.experiments.audit("trial"))
    step("project audit", lambda: client.audit(limit=5))

    key = step("key", lambda: client.keys.create("reader", scopes=["read"]))
    step("keys", lambda: [k for k in client.keys.list() if k.name == "reader"])
    step("revoke", lambda: client.keys.revoke(key.id if key else "none"))

    for n in range(4):
        step(f"task {n}", lambda n=n: client.llm.create_task(
            f"t{n}", input={"answer": str(n), "fragile": n % 2 == 1},
            expected_output=str(n), evaluators=[{"kind": "exact_match"}]))  # fmt: skip
    step("tasks", client.llm.tasks)
    step("llm create", lambda: client.llm.create(
        "answers", steps=["response_generator"], tasks=["t0", "t1"],
        webhook_url=webhook, webhook_secret=SECRET))  # fmt: skip
    step("llm tasks", lambda: client.llm.select_tasks("answers", ["t0", "t1", "t2", "t3"]))
    step("llm baseline", lambda: client.llm.set_baseline(
        "answers", {"response_generator": {"temperature": 0.2}}))  # fmt: skip
    step("llm get", lambda: client.llm.get("answers"))
    step("llm list", client.llm.list)
    step("llm run", lambda: client.llm.run("answers", timeout=60))
    hot = {"step": "response_generator", "parameter": "temperature", "value": 0.9}
    step("llm variant", lambda: client.llm.add_variant("answers", "hot", **hot))
    step("llm run hot", lambda: client.llm.run("answers", "hot", timeout=60))
    step("llm results", lambda: client.llm.results("answers"))
    # A run's latency is ablab's own round trip when the application reports none.
    unmeasured = lambda runs: [r.model_copy(update={"latency_ms": None}) for r in runs]  # noqa: E731
    step("llm runs", lambda: unmeasured(client.llm.runs("answers")))
    step("llm runs of a task", lambda: unmeasured(client.llm.runs("answers", task="t1")))
    step("llm complete", lambda: client.llm.complete("answers", winner="hot"))
    step("llm complete baseline", lambda: client.llm.complete("answers", winner="baseline"))
    step("llm archive", lambda: client.llm.archive("answers"))
    return step.seen


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serving(tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="module")
def webhook() -> Iterator[str]:
    with ExampleApp(secret=SECRET) as app:
        yield app.url


def test_the_embedded_store_and_a_server_answer_alike(
    server: RunningServer, webhook: str, tmp_path: Path
) -> None:
    local = Recording(LocalBackend(Settings(home=tmp_path / "local")))
    remote = Recording(HttpBackend(server.url, server.project().admin_key))
    with Client(backend=local) as here, Client(backend=remote) as there:
        on_the_store = scenario(here, webhook)
        on_the_server = scenario(there, webhook)
    assert list(on_the_store) == list(on_the_server)
    found = differences(on_the_store, on_the_server)
    assert not found, "\n".join(found)
    # The scenario did what it means to: real answers, real refusals, every operation.
    assert on_the_store["again"][:2] == ("error", "Conflict")
    assert on_the_store["bad create"][:2] == ("error", "ValidationError")
    assert on_the_store["ghost model"][:2] == ("error", "NotFound")
    assert on_the_store["source"][:2] == ("error", "ValidationError")
    assert on_the_store["ghost source test"][:2] == ("error", "NotFound")
    assert on_the_store["pause again"][:2] == ("error", "InvalidTransition")
    assert on_the_store["log"]["stored"] == 160
    assert on_the_store["results"]["variants"][0]["units"] > 0
    assert on_the_store["llm results"]["variants"][1]["pass_rate"] == 0.5
    # (a server's run is polled for: more calls there, of the same operations)
    assert set(local.called) == set(remote.called) == OPERATIONS
