"""The checks beside the comparisons: the sample ratio, and each guardrail per treatment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from ablab.domain.guardrails import Bound

__all__ = ["GuardrailResult", "GuardrailState", "SrmCheck", "SrmPeriod", "describe"]


@dataclass(frozen=True, slots=True)
class SrmPeriod:
    """The units first seen in one allocation period against that period's weights.

    ``weights`` are percent of the experiment's traffic by variant and ``coverage`` percent
    of eligible units, in force from ``started_at`` until the next period.
    """

    started_at: datetime
    weights: Mapping[str, float]
    coverage: float
    reason: str
    actor: str
    observed: Mapping[str, int]
    expected: Mapping[str, float]
    p_value: float | None


@dataclass(frozen=True, slots=True)
class SrmCheck:
    """The sample ratio mismatch test over every period at once, and over each alone.

    ``checked`` is False when the configured weights are unknown: no check was run (ablab
    never assumes an equal split), and ``note`` says why.
    """

    p_value: float | None
    mismatch: bool
    observed: Mapping[str, int]
    expected: Mapping[str, float]
    threshold: float
    checked: bool = True
    note: str = ""
    periods: tuple[SrmPeriod, ...] = ()


class GuardrailState(StrEnum):
    """Where a treatment's interval lies against a guardrail's bound."""

    PASS = "pass"  # wholly within the bound
    FAIL = "fail"  # wholly beyond it
    INCONCLUSIVE = "inconclusive"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class GuardrailResult:
    """One treatment against one guardrail.

    ``limit`` is the value the treatment must not cross: the threshold itself, or for a
    relative guardrail the control's value moved by the margin. ``violated`` is a ``fail``
    with the minimum samples reached: it stops the experiment.
    """

    metric: str
    variant: str
    bound: Bound
    threshold: float
    relative: bool
    limit: float | None
    value: float | None
    control_value: float | None
    state: GuardrailState
    violated: bool


class _Bounded(Protocol):
    @property
    def metric(self) -> str: ...
    @property
    def bound(self) -> str: ...
    @property
    def threshold(self) -> float: ...
    @property
    def relative(self) -> bool: ...


def describe(guardrail: _Bounded) -> str:
    """A guardrail in one line, from its result here or its wire form in the SDK.

    Examples:
        >>> from ablab.domain.guardrails import parse_guardrail
        >>> describe(parse_guardrail("error_rate<=0.01"))
        'error_rate<=0.01'
    """
    if guardrail.relative:
        return f"{guardrail.metric}{guardrail.bound}{guardrail.threshold * 100:+g}% of control"
    return f"{guardrail.metric}{guardrail.bound}{guardrail.threshold:g}"
