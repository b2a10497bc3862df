"""Guardrails: bounds a metric must keep while an experiment runs (``error_rate<=0.01``)."""

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
    """``metric`` must stay ``bound`` ``threshold`` in every treatment."""

    metric: str
    bound: Bound
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric}{self.bound.value}{self.threshold:g}"

    def is_violated_by(self, value: float) -> bool:
        """Whether an observed ``value`` breaks the bound."""
        if self.bound is Bound.AT_MOST:
            return value > self.threshold
        return value < self.threshold


_SPEC = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


def parse_guardrail(spec: str) -> Guardrail:
    """Parse ``"latency_p95_ms<=200"`` or ``"accuracy>=0.8"``.

    Raises:
        ValidationError: the text is not ``metric<=number`` or ``metric>=number``.
    """
    match = _SPEC.match(spec)
    if match is None:
        raise ValidationError(
            f"invalid guardrail {spec!r}: expected METRIC<=NUMBER or METRIC>=NUMBER",
            details={"guardrail": spec},
        )
    name, bound, number = match.groups()
    try:
        threshold = float(number)
    except ValueError:
        threshold = math.nan
    if not math.isfinite(threshold):
        raise ValidationError(
            f"invalid guardrail {spec!r}: the threshold must be a finite number",
            details={"guardrail": spec},
        )
    return Guardrail(validate_metric_name(name), Bound(bound), threshold)
