"""A small LLM application for experiments to call: real HTTP, deterministic answers.

It stands for a user's pipeline behind a webhook. It checks ablab's signature (401 when
wrong), then answers each task with ``task.input["answer"]``, except that a hot
``response_generator`` (``temperature`` above 0.8; 0.7 when not overridden) gets every
fragile task wrong: one whose input says ``"fragile": true``, or (without that key) whose id
ends in an odd digit. A baseline therefore passes every task and a
``{"response_generator": {"temperature": 0.9}}`` variant fails the odd ones.

From a test::

    with ExampleApp(secret="s3cret") as app:
        app.state.fail_first = 2                  # two 503s before it answers
        app.state.task_modes["task-3"] = "later"  # 202, then a signed callback
        app.state.callback_url = callbacks.url + "/v1/llm/callbacks"
        runner = WebhookRunner(app.url, "s3cret")
        ...
        app.state.received                        # the bodies it accepted

Standalone (to try a webhook runner against a running ablab by hand)::

    ABLAB_WEBHOOK_SECRET=... python -m tests.llm.example_app 8765

What it does with a task is its ``mode`` (``state.task_modes[task_id]``, else
``state.mode``):

``answer``   ``200 {"output": ...}`` (with ``state.usage[task_id]``'s fields, if any)
``later``    ``202``; if ``callback_url`` is set, a signed ``POST {callback_url}/{test_id}``
             of ``{"test_id", "output", "error": null}`` after ``callback_delay`` seconds
``hang``     no answer for ``hang_seconds`` (or until the app stops)
``reject``   ``400`` (a request the application refuses: never worth retrying)
``fail``     ``200 {"output": null, "error": "..."}`` (the pipeline reporting its own failure)
``garbage``  ``200`` with a body that is not JSON
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ablab.errors import Unauthorized
from ablab.llm.signing import sign, verify
from ablab.server.embedded import ServerThread, free_port

Mode = Literal["answer", "later", "hang", "reject", "fail", "garbage"]

STEP = "response_generator"
DEFAULT_TEMPERATURE = 0.7
HOT_TEMPERATURE = 0.8
PATH = "/run"


def answer(task_id: str, task_input: Mapping[str, Any], overrides: Mapping[str, Any]) -> str:
    """The app's output for a task under ``overrides`` (its whole "LLM pipeline")."""
    expected = str(task_input["answer"])
    temperature = float(overrides.get(STEP, {}).get("temperature", DEFAULT_TEMPERATURE))
    # A task may say whether it is fragile; otherwise its id decides (odd last digit).
    fragile = bool(task_input.get("fragile", task_id[-1:] in set("13579")))
    if temperature > HOT_TEMPERATURE and fragile:
        return str(int(expected) + 1) if expected.lstrip("-").isdigit() else f"not {expected}"
    return expected


@dataclass
class AppState:
    """What the app does and what it saw; a test changes the first group and reads the second.

    Handlers run in the server's one event loop, so they never race with each other; a
    test reads the record after its runs have finished.
    """

    secret: str
    mode: Mode = "answer"
    task_modes: dict[str, Mode] = field(default_factory=dict)
    fail_first: int = 0
    delay: float = 0.0
    hang_seconds: float = 10.0
    callback_url: str | None = None
    callback_delay: float = 0.0
    # What each answer (and callback) reports the run spent, by task id, beside its output:
    # {"latency_ms": 12, "input_tokens": 30, ...}; nothing for a task not in it.
    usage: dict[str, dict[str, Any]] = field(default_factory=dict)

    requests: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    later: list[str] = field(default_factory=list)
    callback_statuses: list[int] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    closing: bool = False


def create_app(state: AppState) -> Starlette:
    """The app, answering ``POST /run``."""

    async def run(request: Request) -> Response:
        state.requests += 1
        raw = await request.body()
        try:
            verify(state.secret, raw, request.headers)
        except Unauthorized as exc:
            return JSONResponse({"error": exc.message}, status_code=401)
        body = json.loads(raw)
        state.received.append(body)
        state.headers.append(dict(request.headers))
        if state.fail_first > 0:
            state.fail_first -= 1
            return JSONResponse({"error": "warming up"}, status_code=503)
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            return await respond(body)
        finally:
            state.in_flight -= 1

    async def respond(body: dict[str, Any]) -> Response:
        task, test_id = body["task"], body["test_id"]
        mode = state.task_modes.get(task["id"], state.mode)
        await asyncio.sleep(state.delay)
        if mode == "hang":
            deadline = time.monotonic() + state.hang_seconds
            while time.monotonic() < deadline and not state.closing:
                await asyncio.sleep(0.01)
        if mode == "reject":
            return JSONResponse({"error": "this app refuses the task"}, status_code=400)
        if mode == "fail":
            return JSONResponse({"output": None, "error": "the pipeline failed"})
        if mode == "garbage":
            return PlainTextResponse("<html>oops</html>")
        output = answer(task["id"], task["input"], body["experiment"]["overrides"])
        if mode == "later":
            state.later.append(test_id)
            if state.callback_url is None:
                return Response(status_code=202)
            spent = state.usage.get(task["id"], {})
            return Response(
                status_code=202, background=BackgroundTask(callback, test_id, output, spent)
            )
        return JSONResponse({"output": output, **state.usage.get(task["id"], {})})

    async def callback(test_id: str, output: Any, spent: Mapping[str, Any]) -> None:
        await asyncio.sleep(state.callback_delay)
        answer = {"test_id": test_id, "output": output, "error": None, **spent}
        content = json.dumps(answer).encode()
        headers = {
            "Content-Type": "application/json",
            **sign(state.secret, content, int(time.time())),
        }
        async with httpx.AsyncClient(timeout=5.0) as client:
            try:
                response = await client.post(
                    f"{state.callback_url}/{test_id}", content=content, headers=headers
                )
            except httpx.HTTPError:
                state.callback_statuses.append(-1)
            else:
                state.callback_statuses.append(response.status_code)

    return Starlette(routes=[Route(PATH, run, methods=["POST"])])


class ExampleApp:
    """The app served by uvicorn on a free loopback port; ``url`` is its webhook URL."""

    def __init__(self, secret: str = "example-secret") -> None:
        self.state = AppState(secret=secret)
        self._server = ServerThread(create_app(self.state), free_port())
        self.url = self._server.url + PATH

    def start(self) -> ExampleApp:
        self._server.start()
        return self

    def stop(self) -> None:
        self.state.closing = True  # hanging requests end, so uvicorn can shut down at once
        self._server.stop()

    def __enter__(self) -> ExampleApp:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


if __name__ == "__main__":
    uvicorn.run(
        create_app(AppState(secret=os.environ["ABLAB_WEBHOOK_SECRET"])),
        port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765,
    )
