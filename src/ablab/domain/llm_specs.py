"""What a person asks of an LLM experiment: a task, an experiment, a variant.

The wire's ``LlmTaskCreate``, ``LlmExperimentCreate`` and ``LlmVariantCreate`` check a
request's shape and turn it into one of these with ``to_spec()``; the services judge the
rest. Field names and defaults are the schemas'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ablab.domain.llm import Parameter

__all__ = ["LlmExperimentSpec", "LlmTaskSpec", "LlmVariantSpec"]


@dataclass(frozen=True, slots=True)
class LlmTaskSpec:
    """A task: the ``input`` sent to the application, the ``expected_output`` if any, and
    the ``evaluators`` that judge an answer (``{"kind": "exact_match"}``...)."""

    name: str
    input: Any
    expected_output: Any = None
    evaluators: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True, slots=True)
class LlmExperimentSpec:
    """A draft experiment over ``steps`` (by external id) and ``tasks`` (names or ids), run
    ``trials`` times per task, ``concurrency`` at a time, through a webhook if given."""

    name: str
    steps: Sequence[str]
    description: str = ""
    tasks: Sequence[str] = ()
    baseline: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    trials: int = 1
    concurrency: int = 8
    webhook_url: str | None = None
    webhook_secret: str | None = None


@dataclass(frozen=True, slots=True)
class LlmVariantSpec:
    """A variant overriding ``parameter`` of ``step`` with ``value``, branching from
    ``parent`` (a variant's name or id; None: the baseline)."""

    name: str
    step: str
    parameter: Parameter
    value: Any
    parent: str | None = None
    hypothesis: str = ""
