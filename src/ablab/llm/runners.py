"""Runners: have the user's application answer one task under one configuration.

An offline LLM experiment runs every task of its task set under the baseline and under each
variant. ablab does not call a model itself: a runner hands the task and the configuration
to run it with to the user's pipeline and brings back what it answered. Two runners exist:

* :class:`WebhookRunner` POSTs a signed JSON body to the application, which answers at once
  (``200 {"output": ...}``) or later (``202``, then a signed POST to ablab's callback
  endpoint ``/v1/llm/callbacks/{test_id}``, which calls :meth:`WebhookRunner.deliver`).
* :class:`CallableRunner` calls a Python function ``fn(task_input, config)`` in this process.

A runner never raises for a task that failed: a timeout, a refused request or an unusable
answer becomes the ``error`` of that task's :class:`RunOutcome`, so one bad task fails that
task run and never the whole variant. :func:`run_all` runs a batch with bounded concurrency.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from ablab.errors import Conflict, ValidationError
from ablab.llm.signing import sign

__all__ = [
    "CALLBACK_TIMEOUT_ERROR",
    "CallableRunner",
    "RunOutcome",
    "Runner",
    "TaskRun",
    "WebhookRunner",
    "run_all",
]

CALLBACK_TIMEOUT_ERROR = "timed out waiting for the callback"

_EXCERPT = 200

# What deliver() hands to the waiting run: the output and the application's error.
_Delivery = tuple[Any, str | None]


@dataclass(frozen=True, slots=True)
class TaskRun:
    """One task to run under one configuration.

    Attributes:
        test_id: Unique per task run (task x variant x trial); the application may use it as
            an idempotency key, since a retried request carries the same one.
        task_id: The task's id in the task set.
        task_input: The task's input, any JSON value.
        expected: The task's expected output (for the evaluators; sent along for the
            application's own logging).
        experiment_id: The experiment's id.
        variant_id: The variant's id, ``None`` for the baseline.
        changes: What the variant's branch changes from the baseline, by inference step
            ``external_id``: ``{"response_generator": {"temperature": 0.9}}`` (nothing for
            the baseline).
        config: The configuration to run with, by step: the baseline's whole configuration
            with every change on the variant's branch applied. The application applies it
            (the webhook's ``overrides``); :class:`CallableRunner` passes it to the function.
        trial: Which repetition of the same task and configuration this is, from 0.
    """

    test_id: str
    task_id: str
    task_input: Any
    expected: Any
    experiment_id: str
    variant_id: str | None
    changes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    trial: int = 0


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What came back for one :class:`TaskRun`.

    Attributes:
        test_id: The run's ``test_id``.
        output: The application's output (``None`` when there is none).
        error: ``None`` when the application answered; otherwise one line saying why not.
        latency_ms: Time of the last attempt, from sending it to its answer (the callback
            included when the answer came later); back-off pauses between attempts are left
            out, since they measure the retry policy and not the configuration.
        attempts: Requests sent (1 without retries; 0 when nothing could be sent).
    """

    test_id: str
    output: Any
    error: str | None
    latency_ms: float
    attempts: int

    @property
    def ok(self) -> bool:
        """Whether the application answered (the answer may still fail evaluation)."""
        return self.error is None


class Runner(Protocol):
    """Something that gets one task run answered; it never raises for a failed task."""

    async def run(self, run: TaskRun) -> RunOutcome: ...


class WebhookRunner:
    """POST each task, signed, to the user's application, and wait for its output.

    The body (signed with :func:`ablab.llm.signing.sign`)::

        {"test_id": "llr_...",
         "task": {"id": "llt_...", "input": ..., "expected_output": ...},
         "experiment": {"id": "lle_...", "variant_id": "llv_..." | null,
                        "overrides": {step: {parameter: value}},
                        "changes": {step: {parameter: value}}}}

    ``overrides`` is the whole configuration to run with, the baseline's with every change
    on the variant's branch applied (the baseline's own for the baseline), keyed by
    inference step as seed 002's payload is: an application that applies it over its own
    defaults runs exactly what ablab records. ``changes`` is what the variant's branch
    changes from the baseline (``{}`` for the baseline), for the application's logs. The
    application answers ``200 {"output": ...}`` (or ``{"error": "..."}`` to report its own
    failure), or ``202`` to answer later through :meth:`deliver`. Connection errors,
    timeouts, 429 and 5xx are retried with exponential back-off; other answers are final.

    Use one runner within one event loop, and close it there (``await runner.aclose()`` or
    ``async with``): its connection pool belongs to that loop.

    Args:
        url: The application's webhook URL.
        secret: The secret shared with the application.
        timeout: Seconds allowed for each phase of a request (connect, send, each read).
        callback_timeout: Seconds to wait for :meth:`deliver` after a 202.
        retries: Attempts after the first, for failures that may pass.
        backoff: Pause before the first retry, in seconds; it doubles for each next one.
        client: An httpx client to send with (left open); one is made and owned otherwise.
        transport: The httpx transport of the client this runner makes (the server's
            enforces its outbound policy); httpx's own when ``None``.
        rng: The source of the back-off jitter (seed it for reproducible pauses).

    Raises:
        ValidationError: the URL is not http(s), the secret is empty, or a number is negative.
    """

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout: float = 30.0,
        callback_timeout: float = 300.0,
        retries: int = 3,
        backoff: float = 0.5,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        try:
            scheme = httpx.URL(url).scheme
        except httpx.InvalidURL as exc:
            raise ValidationError(f"invalid webhook URL {url!r}: {exc}") from None
        if scheme not in {"http", "https"}:
            raise ValidationError(f"the webhook URL must be http or https, got {url!r}")
        if not secret:
            raise ValidationError("a webhook secret must not be empty")
        if min(timeout, callback_timeout, retries, backoff) < 0:
            raise ValidationError("timeouts, retries and backoff must not be negative")
        self.url = url
        self._secret = secret
        self._timeout = timeout
        self._callback_timeout = callback_timeout
        self._retries = retries
        self._backoff = backoff
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout, transport=transport)
        self._rng = rng or random.Random()
        # deliver() comes from the server's thread while run() waits in this one; the lock
        # makes "find and remove the waiting run" one step, so each run is settled once.
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[_Delivery]]] = {}

    async def __aenter__(self) -> WebhookRunner:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client, if this runner made it."""
        if self._owns_client:
            await self._client.aclose()

    def deliver(self, test_id: str, output: Any, error: str | None = None) -> bool:
        """Complete a run that is waiting for its output; safe to call from any thread.

        Args:
            test_id: The run's ``test_id``.
            output: The application's output.
            error: The application's own failure message, ``None`` when it succeeded.

        Returns:
            ``True`` if a run was waiting; ``False`` for an unknown ``test_id`` or one whose
            run has finished (answered, delivered already, or timed out).
        """
        with self._lock:
            entry = self._waiting.pop(test_id, None)
        if entry is None:
            return False
        loop, future = entry
        delivery = (output, None if error is None else str(error))
        try:
            loop.call_soon_threadsafe(_settle, future, delivery)
        except RuntimeError:  # the loop closed: the run cannot be waiting any more
            return False
        return True

    async def run(self, run: TaskRun) -> RunOutcome:
        """Send ``run`` to the application and return what it answered, or why it did not."""
        try:
            body = _body(run)
        except (TypeError, ValueError) as exc:
            return RunOutcome(run.test_id, None, f"the task is not JSON: {exc}", 0.0, 0)
        future = self._register(run.test_id)
        try:
            return await self._send(run.test_id, body, future)
        finally:
            # From here on deliver() answers False for this test_id.
            with self._lock:
                entry = self._waiting.get(run.test_id)
                if entry is not None and entry[1] is future:
                    del self._waiting[run.test_id]
            future.cancel()

    def _register(self, test_id: str) -> asyncio.Future[_Delivery]:
        # Registered before the first request: a fast application may post the callback
        # before its 202 reaches us.
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Delivery] = loop.create_future()
        with self._lock:
            if test_id in self._waiting:
                raise Conflict(
                    f"test_id {test_id!r} is already running", details={"test_id": test_id}
                )
            self._waiting[test_id] = (loop, future)
        return future

    async def _send(
        self, test_id: str, body: bytes, future: asyncio.Future[_Delivery]
    ) -> RunOutcome:
        attempts = 0
        while True:
            attempts += 1
            started = time.perf_counter()
            # Signed again for each attempt, so that a retry after a long back-off is still
            # within the receiver's tolerance.
            headers = {
                "Content-Type": "application/json",
                **sign(self._secret, body, int(time.time())),
            }
            try:
                response = await self._client.post(
                    self.url, content=body, headers=headers, timeout=self._timeout
                )
            except httpx.UnsupportedProtocol as exc:  # a refused destination too: final
                return _failed(test_id, f"cannot send: {exc}", started, attempts)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}" + (f": {exc}" if str(exc) else "")
            else:
                if response.status_code == httpx.codes.ACCEPTED:
                    return await self._wait(test_id, future, started, attempts)
                # 429 asks us to slow down and a 5xx says the application is in trouble:
                # both may pass. Any other answer is about the request itself, and sending
                # the same bytes again would get the same answer.
                status = response.status_code
                if status != httpx.codes.TOO_MANY_REQUESTS and status < 500:
                    return _answer(test_id, response, started, attempts)
                problem = f"HTTP {status}"
            if future.done():  # delivered while an attempt failed: the output is here
                return _delivered(test_id, future.result(), started, attempts)
            if attempts > self._retries:
                return _failed(test_id, f"{problem} after {attempts} attempts", started, attempts)
            pause = self._backoff * 2 ** (attempts - 1)
            # Jitter keeps runs that failed together (the application restarting) from
            # retrying in lockstep.
            await asyncio.sleep(pause + self._rng.uniform(0, pause / 10))

    async def _wait(
        self, test_id: str, future: asyncio.Future[_Delivery], started: float, attempts: int
    ) -> RunOutcome:
        try:
            delivery = await asyncio.wait_for(future, self._callback_timeout)
        except TimeoutError:
            return _failed(test_id, CALLBACK_TIMEOUT_ERROR, started, attempts)
        return _delivered(test_id, delivery, started, attempts)


class CallableRunner:
    """Run each task through a Python function of this process: ``fn(task_input, config)``.

    A plain function runs in a worker thread, so a slow pipeline never blocks the event
    loop; an ``async def`` runs in the loop. Either way the wait is bounded by ``timeout``;
    a thread that overruns is abandoned, not stopped (Python cannot stop a thread), so a
    function that can hang should enforce its own deadline as well.

    Args:
        fn: Called with the task's input and the run's effective ``config``.
        timeout: Seconds allowed for each call.
    """

    def __init__(
        self, fn: Callable[[Any, Mapping[str, Mapping[str, Any]]], Any], *, timeout: float = 30.0
    ) -> None:
        if not callable(fn):
            raise ValidationError(f"the runner needs a callable, got {type(fn).__name__}")
        if timeout < 0:
            raise ValidationError("the timeout must not be negative")
        self._fn = fn
        self._timeout = timeout

    async def run(self, run: TaskRun) -> RunOutcome:
        """Call the function on ``run``; its exception or timeout becomes the ``error``."""
        started = time.perf_counter()
        deadline = asyncio.timeout(self._timeout)
        try:
            async with deadline:
                output = await self._call(run)
        except Exception as exc:
            # A TimeoutError of the function's own (its HTTP client gave up) is its failure,
            # reported like any other; only our deadline is reported as ours.
            if deadline.expired():
                problem = f"timed out after {self._timeout:g} s"
            else:
                problem = f"{type(exc).__name__}: {exc}"
            return _failed(run.test_id, problem, started, 1)
        return RunOutcome(run.test_id, output, None, _since(started), 1)

    async def _call(self, run: TaskRun) -> Any:
        if inspect.iscoroutinefunction(self._fn):
            return await self._fn(run.task_input, run.config)
        result = await asyncio.to_thread(self._fn, run.task_input, run.config)
        # An object whose __call__ is async looks synchronous until it returns a coroutine.
        return await result if inspect.isawaitable(result) else result


async def run_all(
    runner: Runner,
    runs: Sequence[TaskRun],
    *,
    concurrency: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> list[RunOutcome]:
    """Run every task run, at most ``concurrency`` at a time.

    Args:
        runner: The runner to use.
        runs: The task runs, each with its own ``test_id``.
        concurrency: How many runs may be in flight at once.
        progress: Called as ``progress(done, total)`` in the event loop after each run ends.

    Returns:
        One outcome per run, in the order of ``runs``.

    Raises:
        ValidationError: ``concurrency`` is below 1, or two runs share a ``test_id``.
    """
    if concurrency < 1:
        raise ValidationError(f"concurrency must be at least 1, got {concurrency}")
    test_ids = [run.test_id for run in runs]
    if len(set(test_ids)) != len(test_ids):
        duplicates = sorted({t for t in test_ids if test_ids.count(t) > 1})
        raise ValidationError("test_id must be unique per run", details={"duplicates": duplicates})
    limit = asyncio.Semaphore(concurrency)
    outcomes: list[RunOutcome | None] = [None] * len(runs)
    done = 0

    async def one(index: int, run: TaskRun) -> None:
        nonlocal done
        async with limit:
            outcomes[index] = await runner.run(run)
        done += 1
        if progress is not None:
            progress(done, len(runs))

    # A runner that raises breaks its contract: the group cancels the other runs and
    # re-raises, rather than leaving them running unwatched.
    async with asyncio.TaskGroup() as group:
        for index, run in enumerate(runs):
            group.create_task(one(index, run))
    return [outcome for outcome in outcomes if outcome is not None]


def _body(run: TaskRun) -> bytes:
    # Serialised once: the signature covers these exact bytes, and they are what is sent.
    return json.dumps(
        {
            "test_id": run.test_id,
            "task": {"id": run.task_id, "input": run.task_input, "expected_output": run.expected},
            "experiment": {
                "id": run.experiment_id,
                "variant_id": run.variant_id,
                "overrides": {step: dict(values) for step, values in run.config.items()},
                "changes": {step: dict(values) for step, values in run.changes.items()},
            },
        },
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,  # NaN is not JSON, and many applications' parsers refuse it
    ).encode()


def _answer(test_id: str, response: httpx.Response, started: float, attempts: int) -> RunOutcome:
    if response.status_code != httpx.codes.OK:
        excerpt = response.text[:_EXCERPT].strip()
        problem = f"HTTP {response.status_code}" + (f": {excerpt}" if excerpt else "")
        return _failed(test_id, problem, started, attempts)
    try:
        answer = response.json()
    except ValueError:
        return _failed(test_id, "the answer is not JSON", started, attempts)
    if not isinstance(answer, dict) or not ("output" in answer or "error" in answer):
        return _failed(test_id, 'the answer has no "output"', started, attempts)
    error = answer.get("error")
    return RunOutcome(
        test_id,
        answer.get("output"),
        None if error is None else str(error),
        _since(started),
        attempts,
    )


def _settle(future: asyncio.Future[_Delivery], delivery: _Delivery) -> None:
    if not future.done():  # the run may have timed out between deliver() and now
        future.set_result(delivery)


def _delivered(test_id: str, delivery: _Delivery, started: float, attempts: int) -> RunOutcome:
    output, error = delivery
    return RunOutcome(test_id, output, error, _since(started), attempts)


def _failed(test_id: str, error: str, started: float, attempts: int) -> RunOutcome:
    return RunOutcome(test_id, None, error, _since(started), attempts)


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
