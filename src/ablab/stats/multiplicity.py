"""Adjusted p-values for many comparisons (arms, metrics, segments)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias

import numpy as np

from ablab.errors import ValidationError

__all__ = ["MultiplicityMethod", "adjust_p_values"]

MultiplicityMethod: TypeAlias = Literal["bonferroni", "holm", "benjamini_hochberg"]
_METHODS: tuple[str, ...] = ("benjamini_hochberg", "bonferroni", "holm")


def adjust_p_values(
    p_values: Sequence[float], method: MultiplicityMethod = "holm"
) -> tuple[float, ...]:
    """Adjust a family of p-values; reject where the adjusted p-value is below alpha.

    With ``m`` tests and ``p_(1) <= ... <= p_(m)`` sorted:

    * ``"bonferroni"`` (family-wise error): ``min(1, m p)``;
    * ``"holm"`` (family-wise error, uniformly more powerful than Bonferroni):
      ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``;
    * ``"benjamini_hochberg"`` (false discovery rate, for independent or positively
      dependent tests): ``p~_(i) = min_{j >= i} min(1, m p_(j) / j)``.

    NaN p-values (comparisons whose status left no p-value) are not counted in ``m`` and stay
    NaN; the others keep their input order.

    Args:
        p_values: One p-value per comparison.
        method: ``"bonferroni"``, ``"holm"`` or ``"benjamini_hochberg"``.

    Returns:
        The adjusted p-values in input order.

    Raises:
        ValidationError: an unknown method, or a p-value outside [0, 1].

    References:
        Dunn, O. J. (1961). Multiple comparisons among means. Journal of the American
        Statistical Association 56(293), 52-64 (the Bonferroni bound).
        Holm, S. (1979). A simple sequentially rejective multiple test procedure.
        Scandinavian Journal of Statistics 6(2), 65-70.
        Benjamini, Y., Hochberg, Y. (1995). Controlling the false discovery rate: a practical
        and powerful approach to multiple testing. Journal of the Royal Statistical Society B
        57(1), 289-300.
        Wright, S. P. (1992). Adjusted p-values for simultaneous inference. Biometrics 48(4),
        1005-1013 (the adjusted p-value forms above).

    Examples:
        >>> adjust_p_values([0.01, 0.04, 0.03, 0.005], "holm")
        (0.03, 0.06, 0.06, 0.02)
        >>> [round(p, 4) for p in adjust_p_values([0.01, 0.04, 0.03, 0.005], "benjamini_hochberg")]
        [0.02, 0.04, 0.04, 0.02]
    """
    if method not in _METHODS:
        raise ValidationError(
            f"method must be one of {', '.join(_METHODS)}, got {method!r}",
            details={"method": method, "allowed": list(_METHODS)},
        )
    values = np.asarray(p_values, dtype=np.float64).ravel()
    present = ~np.isnan(values)
    tested = values[present]
    if np.any((tested < 0.0) | (tested > 1.0)):
        raise ValidationError(
            "p-values must lie in [0, 1]", details={"p_values": list(map(float, values))}
        )
    adjusted = np.full(values.shape, np.nan)
    count = tested.size
    if count == 0:
        return tuple(float(value) for value in adjusted)
    order = np.argsort(tested, kind="stable")
    ranked = tested[order]
    if method == "bonferroni":
        ranked_adjusted = np.minimum(1.0, count * ranked)
    elif method == "holm":
        ranked_adjusted = np.maximum.accumulate(
            np.minimum(1.0, (count - np.arange(count)) * ranked)
        )
    else:
        scaled = count * ranked / np.arange(1, count + 1)
        ranked_adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    in_order = np.empty(count)
    in_order[order] = ranked_adjusted
    adjusted[present] = in_order
    return tuple(float(value) for value in adjusted)
