"""``WebhookRunner``: the task goes, signed, to the user's application over HTTP.

The application answers at once (``200 {"output": ...}``) or later (``202``, then a signed
POST to ablab's callback endpoint ``/v1/llm/callbacks/{test_id}``, which calls
:meth:`WebhookRunner.deliver`). Connection errors, timeouts, 429 and 5xx are retried with
exponential back-off and jitter; every other answer is final.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from typing import Any

import httpx

from ablab.errors import Conflict, ValidationError
from ablab.llm.runners.base import RunOutcome, TaskRun, failed, since
from ablab.llm.signing import sign
from ablab.llm.usage import Usage, read_usage

__all__ = ["CALLBACK_TIMEOUT_ERROR", "WebhookRunner"]

CALLBACK_TIMEOUT_ERROR = "timed out waiting for the callback"

_EXCERPT = 200

# What deliver() hands to the waiting run: the output, the application's error, its usage.
_Delivery = tuple[Any, str | None, Usage]


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
    failure), or ``202`` to answer later through :meth:`deliver`. Either answer may carry
    what the run spent, ``latency_ms``, ``input_tokens``, ``output_tokens``,
    ``total_tokens`` and ``cost_usd`` (:mod:`ablab.llm.usage`); an answer whose usage is
    malformed fails its run, naming the field. Connection errors,
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

    def deliver(
        self, test_id: str, output: Any, error: str | None = None, usage: Usage | None = None
    ) -> bool:
        """Complete a run that is waiting for its output; safe to call from any thread.

        Args:
            test_id: The run's ``test_id``.
            output: The application's output.
            error: The application's own failure message, ``None`` when it succeeded.
            usage: What the application reported the run spent (checked by the caller,
                :func:`~ablab.llm.usage.read_usage`); nothing reported when ``None``.

        Returns:
            ``True`` if a run was waiting; ``False`` for an unknown ``test_id`` or one whose
            run has finished (answered, delivered already, or timed out).
        """
        with self._lock:
            entry = self._waiting.pop(test_id, None)
        if entry is None:
            return False
        loop, future = entry
        delivery = (output, None if error is None else str(error), usage or Usage())
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
                return failed(test_id, f"cannot send: {exc}", started, attempts)
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
                return failed(test_id, f"{problem} after {attempts} attempts", started, attempts)
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
            return failed(test_id, CALLBACK_TIMEOUT_ERROR, started, attempts)
        return _delivered(test_id, delivery, started, attempts)


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
        return failed(test_id, problem, started, attempts)
    try:
        answer = response.json()
    except ValueError:
        return failed(test_id, "the answer is not JSON", started, attempts)
    if not isinstance(answer, dict) or not ("output" in answer or "error" in answer):
        return failed(test_id, 'the answer has no "output"', started, attempts)
    try:
        usage = read_usage(answer)
    except ValidationError as exc:
        return failed(test_id, f"the answer's usage: {exc.message}", started, attempts)
    error = answer.get("error")
    return RunOutcome(
        test_id,
        answer.get("output"),
        None if error is None else str(error),
        since(started),
        attempts,
        usage,
    )


def _settle(future: asyncio.Future[_Delivery], delivery: _Delivery) -> None:
    if not future.done():  # the run may have timed out between deliver() and now
        future.set_result(delivery)


def _delivered(test_id: str, delivery: _Delivery, started: float, attempts: int) -> RunOutcome:
    output, error, usage = delivery
    return RunOutcome(test_id, output, error, since(started), attempts, usage)
