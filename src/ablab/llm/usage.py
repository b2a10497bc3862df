"""What a task run cost, as the application reports it: latency, tokens and money.

ablab times each run itself (from sending the task to its answer), but it cannot see what
the pipeline spent. An application may say so beside its output, in the answer to the
webhook (``200``) or in its signed callback, with optional top-level fields::

    {"output": "4",
     "latency_ms": 812.5,                        # the pipeline's own time, in ms
     "input_tokens": 120, "output_tokens": 48,   # or "total_tokens" alone
     "cost_usd": 0.00031}

Each field is optional and an answer without them is read as before. What is not reported
stays unknown (``None``): ablab never counts an unreported cost or token count as 0. A
total given without its parts is kept as given; parts given without a total are summed.
A :class:`~ablab.llm.runners.CallableRunner` function reports the same by returning an
:class:`Answer` instead of the bare output.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ablab.errors import ValidationError

__all__ = ["USAGE_FIELDS", "Answer", "Usage", "read_usage"]

# The answer's optional fields, in the order they are documented.
USAGE_FIELDS = ("latency_ms", "input_tokens", "output_tokens", "total_tokens", "cost_usd")
_TOKENS = ("input_tokens", "output_tokens", "total_tokens")


@dataclass(frozen=True, slots=True)
class Usage:
    """What one task run spent, as reported (each ``None`` when not reported).

    Attributes:
        latency_ms: The pipeline's own time for the task, in milliseconds.
        input_tokens: Prompt tokens, over every LLM call of the task.
        output_tokens: Completion tokens, likewise.
        total_tokens: All tokens (the sum of the two when both are given and it is not).
        cost_usd: What the task cost, in US dollars.
    """

    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None

    @property
    def reported(self) -> bool:
        """Whether anything was reported at all."""
        return any(getattr(self, name) is not None for name in USAGE_FIELDS)


def read_usage(answer: Mapping[str, Any]) -> Usage:
    """The usage fields of an application's answer, checked.

    Args:
        answer: The answer's JSON object (its other keys are ignored).

    Returns:
        The reported usage; fields absent or ``null`` stay ``None``.

    Raises:
        ValidationError: a field is not a finite number at or above 0, a token count is
            not a whole number, or a total is below the sum of its parts.

    Examples:
        >>> read_usage({"output": "4", "input_tokens": 10, "output_tokens": 2})
        Usage(latency_ms=None, input_tokens=10, output_tokens=2, total_tokens=12, cost_usd=None)
        >>> read_usage({"output": "4"}).reported
        False
        >>> read_usage({"cost_usd": -1})
        Traceback (most recent call last):
        ...
        ablab.errors.ValidationError: cost_usd must be a number at or above 0, got -1
    """
    values: dict[str, Any] = {}
    for name in USAGE_FIELDS:
        raw = answer.get(name)
        if raw is None:
            continue
        number = _number(name, raw)
        if name in _TOKENS:
            if not float(number).is_integer():
                raise ValidationError(
                    f"{name} must be a whole number of tokens, got {raw!r}", details={name: raw}
                )
            number = int(number)
        values[name] = number
    parts = values.get("input_tokens"), values.get("output_tokens")
    if parts[0] is not None and parts[1] is not None:
        summed = parts[0] + parts[1]
        total = values.setdefault("total_tokens", summed)
        if total < summed:
            raise ValidationError(
                f"total_tokens ({total}) is below input_tokens + output_tokens ({summed})",
                details={"total_tokens": total},
            )
    return Usage(**values)


def _number(name: str, raw: Any) -> float:
    # bool is an int to Python, but true tokens are a client's bug, not a count.
    is_number = isinstance(raw, int | float) and not isinstance(raw, bool)
    if not is_number or not math.isfinite(raw) or raw < 0:
        raise ValidationError(
            f"{name} must be a number at or above 0, got {raw!r}", details={name: repr(raw)}
        )
    return float(raw) if isinstance(raw, float) else raw


@dataclass(frozen=True, slots=True)
class Answer:
    """A :class:`~ablab.llm.runners.CallableRunner` function's output with what it spent.

    Return it instead of the bare output to report usage; a bare output reports none.

    Examples:
        >>> Answer("4", input_tokens=10, output_tokens=2, cost_usd=0.001).usage.total_tokens
        12
    """

    output: Any
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None

    @property
    def usage(self) -> Usage:
        """The usage, checked as :func:`read_usage` checks an answer (raises as it does)."""
        return read_usage({name: getattr(self, name) for name in USAGE_FIELDS})
