"""Guardrails: bounds a metric must keep in every treatment while an experiment runs.

Two forms:

- an absolute threshold, as in ``error_rate<=0.01`` or ``latency_p95_ms<=200``;
- a non-inferiority margin against the control, as in ``latency_ms<=+10%`` (the treatment's
  latency may be at most 10% above the control's) or ``accuracy>=-2%`` (at most 2% below).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from ablab.domain.metrics import validate_metric_name
from ablab.errors import ValidationError

__all__ = ["Bound", "Guardrail", "parse_guardrail"]


class Bound(StrEnum):
    AT_MOST = "<="
    AT_LEAST = ">="


@dataclass(frozen=True, slots=True)
class Guardrail:
    """``metric`` must stay ``bound`` ``threshold`` in every treatment.

    With ``relative``, ``threshold`` is a fraction of the control's value: the treatment must
    stay ``bound`` ``control * (1 + threshold)``.
    """

    metric: str
    bound: Bound
    threshold: float
    relative: bool = False

    def __str__(self) -> str:
        if self.relative:
            return f"{self.metric}{self.bound.value}{self.threshold * 100:+g}%"
        return f"{self.metric}{self.bound.value}{self.threshold:g}"

    def limit(self, control_value: float | None) -> float | None:
        """The value a treatment must not cross (None for a relative bound without a control)."""
        if not self.relative:
            return self.threshold
        if control_value is None:
            return None
        return control_value * (1.0 + self.threshold)

    def is_violated_by(self, value: float, limit: float | None = None) -> bool:
        """Whether an observed ``value`` breaks the bound (``limit`` defaults to the threshold)."""
        edge = self.threshold if limit is None else limit
        if self.bound is Bound.AT_MOST:
            return value > edge
        return value < edge


_SPEC = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*(%?)\s*$")


def parse_guardrail(spec: str) -> Guardrail:
    """Parse ``"latency_p95_ms<=200"``, ``"accuracy>=0.8"`` or ``"latency_ms<=+10%"``.

    Raises:
        ValidationError: the text is not ``metric<=number``, ``metric>=number`` or one of
            those with a signed percentage.
    """
    match = _SPEC.fullmatch(spec)
    if match is None:
        raise ValidationError(
            f"invalid guardrail {spec!r}: expected METRIC<=NUMBER, METRIC>=NUMBER "
            "or a margin against the control such as METRIC<=+10%",
            details={"guardrail": spec},
        )
    name, bound, number, percent = match.groups()
    try:
        threshold = float(number)
    except ValueError:
        threshold = math.nan
    if not math.isfinite(threshold):
        raise ValidationError(
            f"invalid guardrail {spec!r}: the threshold must be a finite number",
            details={"guardrail": spec},
        )
    relative = percent == "%"
    if relative:
        threshold /= 100.0
        if threshold <= -1.0:
            raise ValidationError(
                f"invalid guardrail {spec!r}: a margin must be above -100%",
                details={"guardrail": spec},
            )
    return Guardrail(validate_metric_name(name), Bound(bound), threshold, relative)
