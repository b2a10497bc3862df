"""Runners: have the user's application answer one task under one configuration.

An offline LLM experiment runs every task of its task set under the baseline and under each
variant. ablab does not call a model itself: a runner hands the task and the configuration
to run it with to the user's pipeline and brings back what it answered. Two runners exist:

* :class:`WebhookRunner` POSTs a signed JSON body to the application, which answers at once
  (``200 {"output": ...}``) or later (``202``, then a signed POST to ablab's callback
  endpoint ``/v1/llm/callbacks/{test_id}``, which calls :meth:`WebhookRunner.deliver`).
* :class:`CallableRunner` calls a Python function ``fn(task_input, config)`` in this process.

Beside its output an application may report what the run spent (its latency, tokens, cost;
:mod:`ablab.llm.usage`): optional fields of the webhook's answer or the callback, or an
:class:`Answer` returned by the function. They arrive as the outcome's ``usage``.

A runner never raises for a task that failed: a timeout, a refused request or an unusable
answer becomes the ``error`` of that task's :class:`RunOutcome`, so one bad task fails that
task run and never the whole variant. :func:`run_all` runs a batch with bounded concurrency.

The modules: :mod:`~ablab.llm.runners.base` (a task run, its outcome, the protocol),
:mod:`~ablab.llm.runners.webhook`, :mod:`~ablab.llm.runners.in_process` and
:mod:`~ablab.llm.runners.batch`.
"""

from ablab.llm.runners.base import Runner, RunOutcome, TaskRun
from ablab.llm.runners.batch import run_all
from ablab.llm.runners.in_process import CallableRunner
from ablab.llm.runners.webhook import CALLBACK_TIMEOUT_ERROR, WebhookRunner
from ablab.llm.usage import Answer, Usage

__all__ = [
    "CALLBACK_TIMEOUT_ERROR",
    "Answer",
    "CallableRunner",
    "RunOutcome",
    "Runner",
    "TaskRun",
    "Usage",
    "WebhookRunner",
    "run_all",
]
