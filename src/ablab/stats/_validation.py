"""Checks for misuse: arguments no experiment could legitimately produce.

Each check raises :class:`ablab.errors.ValidationError` naming the argument and its value.
Expected data conditions (an empty arm, zero variance) are not checked here: the methods
return them as a result ``status``.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Literal, TypeAlias

from ablab.errors import ValidationError

Alternative: TypeAlias = Literal["two-sided", "greater", "less"]

ALTERNATIVES: tuple[str, ...] = ("two-sided", "greater", "less")


def check_alpha(alpha: object, name: str = "alpha") -> float:
    """Return ``alpha`` as a float if it lies strictly between 0 and 1."""
    if type(alpha) is float and 0.0 < alpha < 1.0:
        return alpha
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0.0 < float(alpha) < 1.0:
        raise ValidationError(
            f"{name} must be a number strictly between 0 and 1, got {alpha!r}",
            details={name: alpha},
        )
    return float(alpha)


def check_alternative(alternative: str) -> Alternative:
    """Return ``alternative`` if it is one of the three supported hypotheses."""
    if alternative == "two-sided":
        return "two-sided"
    if alternative == "greater":
        return "greater"
    if alternative == "less":
        return "less"
    raise ValidationError(
        f"alternative must be one of {', '.join(ALTERNATIVES)}, got {alternative!r}",
        details={"alternative": alternative, "allowed": list(ALTERNATIVES)},
    )


def check_count(value: object, name: str) -> int:
    """Return ``value`` if it is a non-negative integer (a number of units or events)."""
    if type(value) is int and value >= 0:
        return value
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValidationError(
            f"{name} must be a non-negative integer, got {value!r}", details={name: value}
        )
    return int(value)


def check_finite(value: object, name: str) -> float:
    """Return ``value`` as a float if it is a finite real number."""
    if type(value) is float and math.isfinite(value):
        return value
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValidationError(
            f"{name} must be a finite number, got {value!r}", details={name: value}
        )
    return float(value)


def check_positive(value: object, name: str) -> float:
    """Return ``value`` as a float if it is finite and strictly positive."""
    number = check_finite(value, name)
    if number <= 0.0:
        raise ValidationError(
            f"{name} must be greater than 0, got {value!r}", details={name: value}
        )
    return number


def check_fraction(value: object, name: str, *, allow_one: bool = False) -> float:
    """Return ``value`` if it lies in (0, 1), or in (0, 1] when ``allow_one``."""
    number = check_finite(value, name)
    upper_ok = number <= 1.0 if allow_one else number < 1.0
    if not (number > 0.0 and upper_ok):
        interval = "(0, 1]" if allow_one else "(0, 1)"
        raise ValidationError(
            f"{name} must lie in {interval}, got {value!r}", details={name: value}
        )
    return number
