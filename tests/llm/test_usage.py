"""What a task run spent, reported by the application beside its output: the webhook's
answer, its callback, a Python function's ``Answer``; kept with each run, summed per
configuration in the results, and unknown (never 0) when nothing was reported."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ablab import Client
from ablab.contract.llm import LlmExperimentCreate, LlmTaskCreate
from ablab.errors import ValidationError
from ablab.llm.runners import Answer, CallableRunner
from ablab.llm.signing import sign
from ablab.llm.usage import Usage, read_usage
from ablab.services.context import Context
from ablab.services.llm import experiments as llm
from ablab.services.llm.results import llm_results
from ablab.services.llm.runs import run_configuration
from tests.llm.example_app import ExampleApp
from tests.llm.test_api import SECRET, settle, setup
from tests.server.conftest import Project, RunningServer, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serving(tmp_path_factory.mktemp("llm-usage"))


@pytest.fixture
def project(server: RunningServer) -> Project:
    return server.project()


@pytest.fixture
def app() -> Iterator[ExampleApp]:
    with ExampleApp(secret=SECRET) as running:
        yield running


def test_an_answer_without_usage_reports_nothing() -> None:
    assert read_usage({"output": "4"}) == Usage()
    assert read_usage({"output": "4", "cost_usd": None}) == Usage()


def test_parts_make_the_total_and_a_total_alone_is_kept() -> None:
    assert read_usage({"input_tokens": 3, "output_tokens": 4}).total_tokens == 7
    alone = read_usage({"total_tokens": 9, "latency_ms": 12.5, "cost_usd": 0})
    assert (alone.input_tokens, alone.total_tokens, alone.latency_ms, alone.cost_usd) == (
        None, 9, 12.5, 0
    )  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"cost_usd": -0.1}, "cost_usd must be a number at or above 0"),
        ({"cost_usd": "0.1"}, "cost_usd must be a number"),
        ({"latency_ms": float("inf")}, "latency_ms must be a number"),
        ({"input_tokens": 1.5}, "input_tokens must be a whole number"),
        ({"output_tokens": True}, "output_tokens must be a number"),
        ({"input_tokens": 5, "output_tokens": 5, "total_tokens": 3}, "total_tokens (3) is below"),
    ],
)
def test_malformed_usage_is_refused_naming_the_field(answer: dict[str, Any], message: str) -> None:
    with pytest.raises(
        ValidationError, match="^" + message.replace("(", r"\(").replace(")", r"\)")
    ):
        read_usage(answer)


def _experiment(ctx: Context, name: str, tasks: int = 4) -> None:
    names = []
    for n in range(tasks):
        spec = LlmTaskCreate(
            name=f"{name}-{n}", input={"n": n}, expected_output=str(n),
            evaluators=[{"kind": "exact_match"}],
        )  # fmt: skip
        names.append(llm.create_task(ctx, spec).name)
    experiment = LlmExperimentCreate(
        name=name, steps=["writer"], tasks=names, baseline={"writer": {"temperature": 0.2}}
    )
    llm.create_llm_experiment(ctx, experiment)


def test_a_function_reports_usage_with_an_answer(ctx: Context) -> None:
    _experiment(ctx, "priced")

    def pipeline(task: dict[str, Any], config: Any) -> Answer | str:
        if task["n"] == 3:  # one task says nothing of what it spent
            return str(task["n"])
        return Answer(
            str(task["n"]), latency_ms=10.0 * (task["n"] + 1), input_tokens=100,
            output_tokens=task["n"], cost_usd=0.25,
        )  # fmt: skip

    run_configuration(ctx, "priced", runner=CallableRunner(pipeline))
    (baseline,) = llm_results(ctx, "priced").variants
    assert baseline.pass_rate == 1.0
    assert (baseline.input_tokens, baseline.output_tokens, baseline.total_tokens) == (300, 3, 303)
    assert (baseline.token_runs, baseline.cost_runs) == (3, 3)
    assert baseline.cost_usd == pytest.approx(0.75)
    # Three runs reported their latency and one did not: its round trip stands in for it.
    assert baseline.latency_source == "mixed"
    assert baseline.latency_p50_ms is not None


def test_nothing_reported_is_unknown_not_zero(ctx: Context) -> None:
    _experiment(ctx, "silent")
    run_configuration(ctx, "silent", runner=CallableRunner(lambda task, config: str(task["n"])))
    (baseline,) = llm_results(ctx, "silent").variants
    assert (baseline.total_tokens, baseline.cost_usd, baseline.token_runs) == (None, None, 0)
    assert baseline.latency_source == "measured"
    assert baseline.latency_mean_ms is not None
    assert baseline.latency_mean_ms >= 0


def test_a_bad_usage_fails_that_run_naming_the_field(ctx: Context) -> None:
    _experiment(ctx, "bad", tasks=2)
    run_configuration(
        ctx,
        "bad",
        runner=CallableRunner(lambda task, config: Answer(str(task["n"]), cost_usd=-1)),
    )
    (baseline,) = llm_results(ctx, "bad").variants
    assert baseline.errors == 2
    assert "the answer's usage: cost_usd must be a number at or above 0" in (
        baseline.tasks[0].reason or ""
    )


def _task_ids(http: httpx.Client) -> dict[str, str]:
    return {t["name"]: t["id"] for t in http.get("/v1/llm/tasks").json()}


def test_the_webhook_and_its_callback_report_usage(
    server: RunningServer, project: Project, app: ExampleApp
) -> None:
    http = setup(project, app, tasks=4)
    ids = _task_ids(http)
    app.state.usage = {
        ids["t0"]: {"latency_ms": 40, "input_tokens": 100, "output_tokens": 20, "cost_usd": 0.002},
        ids["t1"]: {"latency_ms": 60, "total_tokens": 90, "cost_usd": 0.001},
        ids["t2"]: {"latency_ms": 50, "input_tokens": 10, "output_tokens": 5},
    }
    # t1 answers later, by a signed callback that carries its usage.
    app.state.task_modes[ids["t1"]] = "later"
    app.state.callback_url = f"{server.url}/v1/llm/callbacks"
    assert http.post("/v1/llm/experiments/answers/run").status_code == 202
    assert settle(http, "answers")["status"] == "baseline_complete"
    (baseline,) = http.get("/v1/llm/experiments/answers/results").json()["variants"]
    assert baseline["total_tokens"] == 120 + 90 + 15
    assert (baseline["input_tokens"], baseline["output_tokens"]) == (110, 25)
    assert baseline["token_runs"] == 3
    assert baseline["cost_usd"] == pytest.approx(0.003)
    assert baseline["cost_runs"] == 2
    assert baseline["latency_source"] == "mixed"  # t3 reported nothing
    # Each run, with its output and what it spent, from GET .../runs.
    found = http.get("/v1/llm/experiments/answers/runs", params={"task": "t1"})
    assert found.status_code == 200, found.text
    (one,) = found.json()
    assert (one["task_name"], one["variant_name"], one["state"], one["output"]) == (
        "t1", "baseline", "passed", "3"
    )  # fmt: skip
    assert (one["reported_latency_ms"], one["total_tokens"], one["cost_usd"]) == (60, 90, 0.001)
    assert one["input_tokens"] is None
    assert one["latency_ms"] > 0
    everything = http.get("/v1/llm/experiments/answers/runs").json()
    assert [r["task_name"] for r in everything] == ["t0", "t1", "t2", "t3"]
    assert http.get("/v1/llm/experiments/answers/runs?task=ghost").status_code == 404
    # A malformed usage in a callback is refused naming the field, before anything else.
    test_id = app.state.later[0]
    body = b'{"test_id": "%s", "output": "3", "input_tokens": -4}' % test_id.encode()
    refused = httpx.post(
        f"{server.url}/v1/llm/callbacks/{test_id}",
        content=body,
        headers=sign(SECRET, body, int(time.time())),
    )
    assert refused.status_code == 422
    assert "input_tokens must be a number at or above 0" in refused.json()["error"]["message"]


def test_a_webhook_answer_with_bad_usage_fails_its_run(project: Project, app: ExampleApp) -> None:
    http = setup(project, app, tasks=2)
    ids = _task_ids(http)
    app.state.usage = {ids["t0"]: {"cost_usd": "a lot"}}
    assert http.post("/v1/llm/experiments/answers/run").status_code == 202
    assert settle(http, "answers")["status"] == "baseline_failed"
    (baseline,) = http.get("/v1/llm/experiments/answers/results").json()["variants"]
    reasons = [t["reason"] for t in baseline["tasks"] if t["reason"]]
    assert reasons == ["the answer's usage: cost_usd must be a number at or above 0, got 'a lot'"]


def test_the_client_reads_each_run_with_its_spend(tmp_path: Path) -> None:
    with Client(home=tmp_path) as client:
        client.llm.create_task(
            "two", input={"q": "1+1"}, expected_output="2", evaluators=[{"kind": "exact_match"}]
        )
        client.llm.create("sums", steps=["answerer"], tasks=["two"])
        client.llm.run("sums", runner=lambda task, config: Answer("2", cost_usd=0.5))
        (run,) = client.llm.runs("sums")
        assert (run.output, run.state, run.cost_usd, run.total_tokens) == ("2", "passed", 0.5, None)
        assert client.llm.results("sums").variants[0].cost_usd == 0.5
