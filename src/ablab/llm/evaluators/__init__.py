"""Evaluators: whether one output of one task passes.

Each task of an LLM experiment carries one or more evaluator specifications such as
``{"kind": "regex", "params": {"pattern": "^(yes|no)$"}}``. :func:`parse_evaluator` checks a
specification once, up front (a bad pattern or schema is refused before anything runs);
:func:`evaluate` applies it to an output and returns a :class:`Verdict`. A task passes when
every one of its verdicts passes (see :func:`task_passed`); the pass rate of a variant is the
share of its tasks that pass.

===========  =======================================================  ==========================
kind         params                                                   passes when
===========  =======================================================  ==========================
exact_match  ``value``?, ``case_sensitive`` = true, ``strip`` = true  output equals the value
contains     ``value``, ``case_sensitive`` = true                     output contains the value
regex        ``pattern``                                              the pattern is found
json_schema  ``schema``                                               output (JSON) is valid
numeric      ``value``?, ``tolerance`` = 0, ``relative`` = false      the number is close enough
python       ``function`` (``"module:attr"``)                         the function says so
judge        ``judge`` (a registered name), ``rubric`` = ""           the judge says so
===========  =======================================================  ==========================

Without ``value``, exact_match and numeric compare with the task's expected output.
json_schema needs the ``jsonschema`` extra (``pip install 'ablab[jsonschema]'``).

A python function is called as ``f(output=..., expected=..., task_input=...)`` and a judge
(the LLM-as-judge hook: any callable the application registers, ablab downloads no model) as
``judge(task_input=..., output=..., expected=..., rubric=...)``. Both return a bool, a
``(bool, detail)`` pair or ``{"pass": bool, "score"?: number, "reason"?: str}``.

Two error channels, as everywhere in ablab: a specification that cannot work (a bad
parameter, a judge nobody registered, a function that does not import) raises
ValidationError; an evaluator that raises while judging one output gives that task a failed
verdict whose detail starts with ``error:``, so one broken case never stops a run.

The modules: :mod:`~ablab.llm.evaluators.base` (the kinds, a specification, a verdict),
one per family (:mod:`~ablab.llm.evaluators.matching` for exact_match, contains and regex,
:mod:`~ablab.llm.evaluators.json_schema`, :mod:`~ablab.llm.evaluators.numeric`,
:mod:`~ablab.llm.evaluators.calls` for python and judge), and
:mod:`~ablab.llm.evaluators.registry`, which maps each kind to its family.
"""

from ablab.llm.evaluators.base import EvaluatorKind, EvaluatorSpec, Verdict
from ablab.llm.evaluators.calls import load_function
from ablab.llm.evaluators.registry import evaluate, evaluate_all, parse_evaluator, task_passed

__all__ = [
    "EvaluatorKind",
    "EvaluatorSpec",
    "Verdict",
    "evaluate",
    "evaluate_all",
    "load_function",
    "parse_evaluator",
    "task_passed",
]
