"""Runners against a real application over HTTP: body, signature, retries, callbacks,
timeouts, concurrency; and the in-process callable runner.

Timeouts and back-offs are tenths of a second: long beside a loopback round trip, short
enough that the whole file runs in a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ablab.errors import Conflict, Unauthorized, ValidationError
from ablab.llm.runners import (
    CALLBACK_TIMEOUT_ERROR,
    CallableRunner,
    RunOutcome,
    TaskRun,
    WebhookRunner,
    run_all,
)
from ablab.llm.signing import verify
from ablab.server.embedded import ServerThread, free_port
from tests.llm.example_app import ExampleApp

SECRET = "whsec_runner_tests"
HOT = {"response_generator": {"temperature": 0.9}}
T = TypeVar("T")


@pytest.fixture
def app() -> Iterator[ExampleApp]:
    with ExampleApp(secret=SECRET) as running:
        yield running


class Callbacks:
    """ablab's side of a 202: ``POST /v1/llm/callbacks/{test_id}``, verified, then
    ``runner.deliver`` from the server's thread (not the runner's)."""

    def __init__(self) -> None:
        self.runner: WebhookRunner | None = None
        self.delivered: list[bool] = []

        async def receive(request: Request) -> Response:
            raw = await request.body()
            try:
                verify(SECRET, raw, request.headers)
            except Unauthorized as exc:
                return JSONResponse({"error": exc.message}, status_code=401)
            body = json.loads(raw)
            assert self.runner is not None
            found = self.runner.deliver(
                request.path_params["test_id"], body["output"], body["error"]
            )
            self.delivered.append(found)
            return JSONResponse({"delivered": found}, status_code=200 if found else 404)

        routes = [Route("/v1/llm/callbacks/{test_id}", receive, methods=["POST"])]
        self._server = ServerThread(Starlette(routes=routes), free_port())
        self.url = self._server.url + "/v1/llm/callbacks"


@pytest.fixture
def callbacks() -> Iterator[Callbacks]:
    receiver = Callbacks()
    receiver._server.start()
    yield receiver
    receiver._server.stop()


BASELINE_CONFIG = {"response_generator": {"temperature": 0.7, "model": "small"}}


def task(number: int, *, changes: Mapping[str, Mapping[str, Any]] | None = None) -> TaskRun:
    """Task ``task-{number}``: "n+n" answers "2n"; under the baseline, or with ``changes``."""
    changes = changes or {}
    config = {"response_generator": {**BASELINE_CONFIG["response_generator"],
                                     **changes.get("response_generator", {})}}  # fmt: skip
    return TaskRun(
        test_id=f"exp-1:{'hot' if changes else 'base'}:task-{number}:0",
        task_id=f"task-{number}",
        task_input={"question": f"{number}+{number}", "answer": str(2 * number)},
        expected=str(2 * number),
        experiment_id="exp-1",
        variant_id="var-hot" if changes else None,
        changes=changes,
        config=config,
    )


def webhook(app: ExampleApp, **options: Any) -> WebhookRunner:
    options = {"timeout": 2.0, "backoff": 0.01, "callback_timeout": 2.0} | options
    return WebhookRunner(app.url, SECRET, **options)


def with_runner(runner: WebhookRunner, work: Callable[[WebhookRunner], Awaitable[T]]) -> T:
    async def main() -> T:
        async with runner:
            return await work(runner)

    return asyncio.run(main())


def run_one(runner: WebhookRunner, run: TaskRun) -> RunOutcome:
    return with_runner(runner, lambda r: r.run(run))


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not become true in time")


# -- what the application receives -----------------------------------------------------


def test_the_app_receives_the_task_and_the_whole_configuration_signed(app: ExampleApp) -> None:
    outcome = run_one(webhook(app), task(3, changes=HOT))

    assert app.state.received == [
        {
            "test_id": "exp-1:hot:task-3:0",
            "task": {
                "id": "task-3",
                "input": {"question": "3+3", "answer": "6"},
                "expected_output": "6",
            },
            "experiment": {
                "id": "exp-1",
                "variant_id": "var-hot",
                # What to run with: the baseline's configuration with the branch's changes.
                "overrides": {"response_generator": {"temperature": 0.9, "model": "small"}},
                "changes": {"response_generator": {"temperature": 0.9}},
            },
        }
    ]
    assert app.state.headers[0]["content-type"] == "application/json"
    assert app.state.headers[0]["x-ablab-signature"].startswith("sha256=")
    assert outcome.test_id == "exp-1:hot:task-3:0"
    assert outcome.error is None
    assert outcome.output == "7"  # the hot variant gets odd tasks wrong
    assert outcome.attempts == 1
    assert outcome.latency_ms > 0


def test_the_baseline_is_sent_with_its_whole_configuration(app: ExampleApp) -> None:
    outcome = run_one(webhook(app), task(3))

    assert app.state.received[0]["experiment"] == {
        "id": "exp-1",
        "variant_id": None,
        "overrides": BASELINE_CONFIG,
        "changes": {},
    }
    assert outcome.output == "6"


def test_the_app_answers_deterministically_per_configuration(app: ExampleApp) -> None:
    mild = {"response_generator": {"temperature": 0.8}}
    runs = (
        [task(n) for n in range(1, 5)]
        + [task(n, changes=HOT) for n in range(1, 5)]
        + [
            TaskRun(f"mild-{n}", f"task-{n}", {"answer": "x"}, "x", "exp-1", "var-mild", mild, mild)
            for n in (1, 2)
        ]
    )
    outcomes = with_runner(webhook(app), lambda r: run_all(r, runs))

    assert [o.output for o in outcomes] == ["2", "4", "6", "8", "3", "4", "7", "8", "x", "x"]


def test_a_wrong_secret_gets_a_401_from_the_app_and_is_not_retried(app: ExampleApp) -> None:
    runner = WebhookRunner(app.url, "not-the-secret", backoff=0.01)
    outcome = run_one(runner, task(1))

    assert outcome.error is not None
    assert outcome.error.startswith("HTTP 401")
    assert "does not match" in outcome.error
    assert outcome.attempts == 1
    assert app.state.requests == 1
    assert app.state.received == []


def test_a_client_passed_in_is_used_and_left_open(app: ExampleApp) -> None:
    async def main() -> tuple[RunOutcome, bool]:
        async with httpx.AsyncClient(headers={"X-Trace": "abc"}) as client:
            runner = WebhookRunner(app.url, SECRET, client=client)
            outcome = await runner.run(task(2))
            await runner.aclose()
            return outcome, client.is_closed

    outcome, closed = asyncio.run(main())

    assert outcome.output == "4"
    assert app.state.headers[0]["x-trace"] == "abc"
    assert closed is False


# -- retries ------------------------------------------------------------------------------


def test_503s_are_retried_until_the_app_answers(app: ExampleApp) -> None:
    app.state.fail_first = 2
    outcome = run_one(webhook(app, retries=3), task(2))

    assert outcome.error is None
    assert outcome.output == "4"
    assert outcome.attempts == 3
    assert app.state.requests == 3
    assert [body["test_id"] for body in app.state.received] == [task(2).test_id] * 3


def test_retries_run_out(app: ExampleApp) -> None:
    app.state.fail_first = 10
    outcome = run_one(webhook(app, retries=2), task(2))

    assert outcome.error == "HTTP 503 after 3 attempts"
    assert outcome.output is None
    assert outcome.attempts == 3
    assert app.state.requests == 3


def test_no_retries_means_one_attempt(app: ExampleApp) -> None:
    app.state.fail_first = 1
    outcome = run_one(webhook(app, retries=0), task(2))

    assert outcome.error == "HTTP 503 after 1 attempts"
    assert app.state.requests == 1


def test_a_400_is_not_retried(app: ExampleApp) -> None:
    app.state.mode = "reject"
    outcome = run_one(webhook(app, retries=3), task(2))

    assert outcome.error is not None
    assert outcome.error.startswith("HTTP 400: ")
    assert "refuses the task" in outcome.error
    assert outcome.attempts == 1
    assert app.state.requests == 1


def test_a_refused_connection_is_retried_then_reported() -> None:
    runner = WebhookRunner(f"http://127.0.0.1:{free_port()}/run", SECRET, retries=1, backoff=0.01)
    outcome = run_one(runner, task(1))

    assert outcome.error is not None
    assert outcome.error.startswith("ConnectError")
    assert outcome.error.endswith("after 2 attempts")
    assert outcome.attempts == 2


def test_a_hanging_app_times_out_each_attempt(app: ExampleApp) -> None:
    app.state.mode = "hang"
    outcome = run_one(webhook(app, timeout=0.2, retries=1), task(1))

    assert outcome.error == "ReadTimeout after 2 attempts"
    assert outcome.attempts == 2
    assert app.state.requests == 2
    assert 150 < outcome.latency_ms < 1500  # the last attempt only, not the back-off


# -- answers that are not outputs -------------------------------------------------------


def test_the_apps_own_failure_is_the_error(app: ExampleApp) -> None:
    app.state.mode = "fail"
    outcome = run_one(webhook(app), task(1))

    assert outcome.error == "the pipeline failed"
    assert outcome.output is None
    assert outcome.attempts == 1


def test_an_answer_that_is_not_json_is_an_error_and_not_retried(app: ExampleApp) -> None:
    app.state.mode = "garbage"
    outcome = run_one(webhook(app), task(1))

    assert outcome.error == "the answer is not JSON"
    assert app.state.requests == 1


def test_a_task_that_is_not_json_is_never_sent(app: ExampleApp) -> None:
    run = TaskRun("t-nan", "task-1", {"x": float("nan")}, None, "exp-1", None)
    outcome = run_one(webhook(app), run)

    assert outcome.error is not None
    assert outcome.error.startswith("the task is not JSON")
    assert outcome.attempts == 0
    assert app.state.requests == 0


# -- 202 and the callback ---------------------------------------------------------------


def test_a_202_waits_for_deliver_from_another_thread(app: ExampleApp) -> None:
    app.state.mode = "later"
    run = task(2)

    async def work(runner: WebhookRunner) -> tuple[RunOutcome, list[bool]]:
        pending = asyncio.create_task(runner.run(run))
        await until(lambda: run.test_id in app.state.later)
        await asyncio.sleep(0.05)
        assert not pending.done()
        first = await asyncio.to_thread(runner.deliver, run.test_id, "4")
        outcome = await pending
        return outcome, [first, runner.deliver(run.test_id, "again"), runner.deliver("nope", 1)]

    outcome, found = with_runner(webhook(app), work)

    assert outcome.output == "4"
    assert outcome.error is None
    assert outcome.attempts == 1
    assert outcome.latency_ms >= 50
    assert found == [True, False, False]


def test_a_delivered_error_is_the_error(app: ExampleApp) -> None:
    app.state.mode = "later"
    run = task(2)

    async def work(runner: WebhookRunner) -> RunOutcome:
        pending = asyncio.create_task(runner.run(run))
        await until(lambda: run.test_id in app.state.later)
        assert runner.deliver(run.test_id, None, error="the model was overloaded")
        return await pending

    outcome = with_runner(webhook(app), work)

    assert outcome.error == "the model was overloaded"
    assert outcome.output is None


def test_the_app_posts_the_callback_and_the_runs_complete(
    app: ExampleApp, callbacks: Callbacks
) -> None:
    app.state.mode = "later"
    app.state.callback_url = callbacks.url
    app.state.callback_delay = 0.05
    runner = webhook(app)
    callbacks.runner = runner
    runs = [task(n, changes=HOT) for n in range(1, 5)]

    async def work(runner: WebhookRunner) -> list[RunOutcome]:
        outcomes = await run_all(runner, runs)
        # The runs end on deliver(), a moment before the app hears back from the callback.
        await until(lambda: len(app.state.callback_statuses) == len(runs))
        return outcomes

    outcomes = with_runner(runner, work)

    assert [o.error for o in outcomes] == [None] * 4
    assert [o.output for o in outcomes] == ["3", "4", "7", "8"]
    assert sorted(app.state.later) == sorted(run.test_id for run in runs)
    assert app.state.callback_statuses == [200] * 4
    assert callbacks.delivered == [True] * 4


def test_a_missing_callback_times_out_that_run_only(app: ExampleApp) -> None:
    app.state.task_modes["task-2"] = "later"
    runs = [task(n) for n in range(1, 5)]

    async def work(runner: WebhookRunner) -> tuple[list[RunOutcome], bool]:
        outcomes = await run_all(runner, runs)
        return outcomes, runner.deliver(runs[1].test_id, "4")

    outcomes, late = with_runner(webhook(app, callback_timeout=0.2), work)

    assert [o.error for o in outcomes] == [None, CALLBACK_TIMEOUT_ERROR, None, None]
    assert [o.output for o in outcomes] == ["2", None, "6", "8"]
    assert outcomes[1].attempts == 1
    assert late is False  # a delivery after the timeout finds nothing waiting


def test_the_same_test_id_cannot_run_twice_at_once(app: ExampleApp) -> None:
    app.state.mode = "later"
    run = task(1)

    async def work(runner: WebhookRunner) -> RunOutcome:
        pending = asyncio.create_task(runner.run(run))
        await until(lambda: run.test_id in app.state.later)
        with pytest.raises(Conflict, match="already running"):
            await runner.run(run)
        runner.deliver(run.test_id, "2")
        return await pending

    assert with_runner(webhook(app), work).output == "2"


# -- run_all ----------------------------------------------------------------------------


def test_concurrency_is_limited_and_progress_reported(app: ExampleApp) -> None:
    app.state.delay = 0.05
    runs = [task(n) for n in range(1, 13)]
    calls: list[tuple[int, int]] = []

    outcomes = with_runner(
        webhook(app),
        lambda r: run_all(r, runs, concurrency=3, progress=lambda *c: calls.append(c)),
    )

    assert app.state.max_in_flight == 3
    assert calls == [(done, 12) for done in range(1, 13)]
    assert [o.test_id for o in outcomes] == [run.test_id for run in runs]
    assert [o.output for o in outcomes] == [str(2 * n) for n in range(1, 13)]


def test_results_come_in_input_order_whatever_order_they_finish_in() -> None:
    async def slower_first(task_input: Any, config: Any) -> Any:
        await asyncio.sleep(0.01 * (5 - int(task_input["answer"]) // 2))
        return task_input["answer"]

    finished: list[int] = []
    runs = [task(n) for n in range(1, 5)]
    outcomes = asyncio.run(
        run_all(CallableRunner(slower_first), runs, progress=lambda done, _: finished.append(done))
    )

    assert [o.output for o in outcomes] == ["2", "4", "6", "8"]
    assert finished == [1, 2, 3, 4]


def test_run_all_of_nothing_is_nothing() -> None:
    calls: list[tuple[int, int]] = []
    runner = CallableRunner(lambda task_input, config: task_input)
    assert asyncio.run(run_all(runner, [], progress=lambda *c: calls.append(c))) == []
    assert calls == []


def test_run_all_refuses_duplicate_test_ids_and_no_concurrency() -> None:
    runner = CallableRunner(lambda task_input, config: task_input)
    with pytest.raises(ValidationError, match="unique") as caught:
        asyncio.run(run_all(runner, [task(1), task(2), task(1)]))
    assert caught.value.details == {"duplicates": [task(1).test_id]}
    with pytest.raises(ValidationError, match="at least 1"):
        asyncio.run(run_all(runner, [task(1)], concurrency=0))


@pytest.mark.parametrize(
    ("url", "secret"),
    [("ftp://example.com/run", SECRET), ("not a url", SECRET), ("http://x/run", "")],
)
def test_a_webhook_runner_refuses_bad_settings(url: str, secret: str) -> None:
    with pytest.raises(ValidationError):
        WebhookRunner(url, secret)


# -- CallableRunner -------------------------------------------------------------------------


def test_a_sync_function_gets_input_and_config_in_a_worker_thread() -> None:
    seen: list[tuple[Any, Any, bool]] = []

    def pipeline(task_input: Any, config: Mapping[str, Any]) -> Any:
        is_main = threading.current_thread() is threading.main_thread()
        seen.append((task_input, config, is_main))
        return task_input["answer"]

    outcome = asyncio.run(CallableRunner(pipeline).run(task(2, changes=HOT)))

    assert outcome == RunOutcome(task(2, changes=HOT).test_id, "4", None, outcome.latency_ms, 1)
    assert seen == [
        (
            {"question": "2+2", "answer": "4"},
            {"response_generator": {"temperature": 0.9, "model": "small"}},
            False,
        )
    ]


def test_an_async_function_is_awaited() -> None:
    async def pipeline(task_input: Any, config: Any) -> Any:
        await asyncio.sleep(0)
        return {"text": task_input["answer"], "temperature": config["response_generator"]}

    outcome = asyncio.run(CallableRunner(pipeline).run(task(1)))

    assert outcome.output == {"text": "2", "temperature": BASELINE_CONFIG["response_generator"]}
    assert outcome.error is None


def test_an_object_with_an_async_call_is_awaited() -> None:
    class Pipeline:
        async def __call__(self, task_input: Any, config: Any) -> Any:
            return task_input["answer"]

    assert asyncio.run(CallableRunner(Pipeline()).run(task(3))).output == "6"


def test_an_exception_becomes_the_error() -> None:
    def pipeline(task_input: Any, config: Any) -> Any:
        raise ValueError("no answer for that")

    outcome = asyncio.run(CallableRunner(pipeline).run(task(1)))

    assert outcome.error == "ValueError: no answer for that"
    assert outcome.output is None
    assert outcome.attempts == 1


def test_a_slow_sync_function_times_out() -> None:
    release = threading.Event()

    def pipeline(task_input: Any, config: Any) -> Any:
        release.wait(5)
        return "late"

    async def main() -> RunOutcome:
        try:
            return await CallableRunner(pipeline, timeout=0.1).run(task(1))
        finally:
            release.set()  # let the abandoned thread end, so asyncio.run can close at once

    outcome = asyncio.run(main())

    assert outcome.error == "timed out after 0.1 s"
    assert outcome.output is None


def test_a_slow_async_function_times_out() -> None:
    async def pipeline(task_input: Any, config: Any) -> Any:
        await asyncio.sleep(5)

    outcome = asyncio.run(CallableRunner(pipeline, timeout=0.1).run(task(1)))

    assert outcome.error == "timed out after 0.1 s"


def test_the_functions_own_timeout_is_reported_as_its_failure() -> None:
    def pipeline(task_input: Any, config: Any) -> Any:
        raise TimeoutError("the LLM provider did not answer")

    outcome = asyncio.run(CallableRunner(pipeline, timeout=5).run(task(1)))

    assert outcome.error == "TimeoutError: the LLM provider did not answer"
