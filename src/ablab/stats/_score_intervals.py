"""Score intervals for two independent proportions: the inversions of the pooled z test.

The two-proportion z test standardises the difference by its standard error under the null
of equal proportions, computed at the pooled rate. Its score generalisation tests
``p_t - p_c = delta`` (or ``p_t / p_c = rho``) with the variance at the maximum-likelihood
proportions restricted to that null; at ``delta = 0`` (``rho = 1``) the restricted estimate
is the pooled rate and the score statistic is the pooled z statistic itself. The interval is
the set of nulls the score test keeps, so the interval excludes 0 (the ratio 1) exactly when
the z test rejects. The variance has no ``N / (N - 1)`` factor (Farrington and Manning's
form, not Miettinen and Nurminen's), since that factor would break the identity at 0.

Each statistic decreases in the null value, so a bound is one root, found by Brent's method
between the estimate (where the statistic is 0) and the edge of the parameter space (where
it is infinite).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy.optimize import brentq

from ablab.stats._validation import Alternative

Interval = tuple[float, float]

# Brent's method stops within this absolute distance of a bound (far below what is shown).
_TOLERANCE = 1e-15
# A difference bound stays this far inside (-1, 1), where the restricted variance is 0.
_EDGE = 1e-12


def restricted_difference(
    control_rate: float,
    control_units: int,
    treatment_rate: float,
    treatment_units: int,
    delta: float,
) -> tuple[float, float]:
    """Maximum-likelihood ``(p_c, p_t)`` under ``p_t - p_c = delta`` (a closed-form cubic root).

    References:
        Miettinen, O., Nurminen, M. (1985). Comparative analysis of two rates. Statistics in
        Medicine 4(2), 213-226, Appendix 1 (the cubic and its trigonometric root).
        Farrington, C. P., Manning, G. (1990). Test statistics and sample size formulae for
        comparative binomial trials with null hypothesis of non-zero risk difference or
        non-unity relative risk. Statistics in Medicine 9(12), 1447-1454, Section 2.
    """
    ratio = control_units / treatment_units
    a = 1.0 + ratio
    b = -(1.0 + ratio + treatment_rate + ratio * control_rate + delta * (ratio + 2.0))
    c = delta * delta + delta * (2.0 * treatment_rate + ratio + 1.0)
    c += treatment_rate + ratio * control_rate
    d = -treatment_rate * delta * (1.0 + delta)
    shift = b / (3.0 * a)
    v = shift**3 - b * c / (6.0 * a * a) + d / (2.0 * a)
    u_squared = max(0.0, shift * shift - c / (3.0 * a))
    u = math.copysign(math.sqrt(u_squared), v)
    if u == 0.0:
        treatment = -shift  # a triple root
    else:
        cosine = max(-1.0, min(1.0, v / u**3))
        treatment = 2.0 * u * math.cos((math.pi + math.acos(cosine)) / 3.0) - shift
    treatment = max(0.0, min(1.0, treatment))
    control = _polish(
        max(0.0, min(1.0, treatment - delta)),
        lambda p: _difference_score_equation(
            p,
            delta,
            control_rate=control_rate,
            control_units=control_units,
            treatment_rate=treatment_rate,
            treatment_units=treatment_units,
        ),
        low=max(0.0, -delta),
        high=min(1.0, 1.0 - delta),
        on_boundary=_has_an_empty_cell(control_rate, treatment_rate),
    )
    return control, max(0.0, min(1.0, control + delta))


def _has_an_empty_cell(control_rate: float, treatment_rate: float) -> bool:
    """Whether an arm has no successes or no failures (a 2x2 table with a zero cell)."""
    return control_rate in (0.0, 1.0) or treatment_rate in (0.0, 1.0)


def _difference_score_equation(
    control: float,
    delta: float,
    *,
    control_rate: float,
    control_units: int,
    treatment_rate: float,
    treatment_units: int,
) -> tuple[float, float]:
    """The derivative in ``p_c`` of the log-likelihood under ``p_t = p_c + delta``, and its
    own derivative: a sum of decreasing terms, ``+inf`` where a rate with successes is 0."""
    treatment = control + delta
    return _score_terms(
        (
            (treatment_units * treatment_rate, treatment, 1.0),
            (treatment_units * (1.0 - treatment_rate), 1.0 - treatment, -1.0),
            (control_units * control_rate, control, 1.0),
            (control_units * (1.0 - control_rate), 1.0 - control, -1.0),
        )
    )


def _score_terms(terms: tuple[tuple[float, float, float], ...]) -> tuple[float, float]:
    """``sum(sign * weight * count / rate)`` and its derivative, each term ``(count, rate,
    sign)`` with ``weight`` folded into ``count``."""
    value = slope = 0.0
    for count, rate, sign in terms:
        if count <= 0.0:
            continue
        if rate <= 0.0:
            return sign * math.inf, -math.inf
        value += sign * count / rate
        slope -= count / (rate * rate)
    return value, slope


def _polish(
    start: float,
    equation: Callable[[float], tuple[float, float]],
    *,
    low: float,
    high: float,
    on_boundary: bool,
) -> float:
    """The root in ``[low, high]`` of a decreasing score equation, from the closed form's.

    The closed forms lose up to half the digits near a double root (``acos`` near +-1, a
    small discriminant), which rare events reach, and may miss a maximum on the boundary.
    The maximum can be on the boundary only when an arm has no successes or no failures
    (``on_boundary``; otherwise the equation is infinite at both ends), and it is recognised
    by the sign of the equation there. Otherwise Newton steps from the closed-form root,
    kept inside the bracket by bisection, restore the digits: once a step is below
    ``1e-9`` of the root, the next would be below ``1e-18`` (quadratic convergence).
    """
    if on_boundary:
        if equation(low)[0] <= 0.0:
            return low
        if equation(high)[0] >= 0.0:
            return high
    point = min(max(start, low), high)
    for _ in range(100):
        value, slope = equation(point)
        if value == 0.0:
            return point
        if value > 0.0:
            low = point
        else:
            high = point
        newton = point - value / slope if math.isfinite(value) and slope < 0.0 else math.nan
        if low < newton < high:
            if abs(newton - point) <= 1e-9 * abs(newton):
                return newton
            point = newton
        else:
            point = 0.5 * (low + high)
            if point in (low, high):
                return point
    return point


def restricted_ratio(
    control_successes: float,
    control_units: int,
    treatment_successes: float,
    treatment_units: int,
    rho: float,
) -> tuple[float, float]:
    """Maximum-likelihood ``(p_c, p_t)`` under ``p_t = rho p_c`` (the root of a quadratic).

    References:
        Farrington, C. P., Manning, G. (1990), Section 3 (see :func:`restricted_difference`).
    """
    a = rho * (control_units + treatment_units)
    b = -(rho * treatment_units + treatment_successes + control_units + rho * control_successes)
    c = control_successes + treatment_successes
    discriminant = max(0.0, b * b - 4.0 * a * c)
    # The smaller root, written so that it does not cancel when 4ac is small against b**2.
    control = 2.0 * c / (-b + math.sqrt(discriminant)) if c > 0.0 else 0.0
    control = max(0.0, min(1.0, control))

    def equation(p: float) -> tuple[float, float]:
        # d/dp of the log-likelihood with p_c = p and p_t = rho p. The treatment's failures
        # enter through log(1 - rho p), whose derivatives carry rho and rho**2.
        value, slope = _score_terms(
            (
                (c, p, 1.0),
                (control_units - control_successes, 1.0 - p, -1.0),
            )
        )
        failures = treatment_units - treatment_successes
        if failures > 0.0:
            rest = 1.0 - rho * p
            if rest <= 0.0:
                return -math.inf, -math.inf
            value -= rho * failures / rest
            slope -= rho * rho * failures / (rest * rest)
        return value, slope

    control = _polish(
        control,
        equation,
        low=0.0,
        high=1.0 if rho <= 1.0 else 1.0 / rho,
        on_boundary=_has_an_empty_cell(
            control_successes / control_units, treatment_successes / treatment_units
        ),
    )
    return control, max(0.0, min(1.0, rho * control))


class _Score:
    """The score statistics of one pair of arms, as functions of the null value."""

    __slots__ = ("control_rate", "control_successes", "control_units", "treatment_rate",
                 "treatment_successes", "treatment_units")  # fmt: skip

    def __init__(
        self,
        control_successes: float,
        control_units: int,
        treatment_successes: float,
        treatment_units: int,
    ) -> None:
        self.control_successes = control_successes
        self.control_units = control_units
        self.treatment_successes = treatment_successes
        self.treatment_units = treatment_units
        self.control_rate = control_successes / control_units
        self.treatment_rate = treatment_successes / treatment_units

    def difference(self, delta: float) -> float:
        """``(d - delta) / se(delta)``, the score statistic of ``p_t - p_c = delta``."""
        control, treatment = restricted_difference(
            self.control_rate, self.control_units, self.treatment_rate, self.treatment_units, delta
        )
        variance = (
            treatment * (1.0 - treatment) / self.treatment_units
            + control * (1.0 - control) / self.control_units
        )
        gap = self.treatment_rate - self.control_rate - delta
        if variance <= 0.0:
            return 0.0 if gap == 0.0 else math.copysign(math.inf, gap)
        return gap / math.sqrt(variance)

    def ratio(self, rho: float) -> float:
        """``(p_t - rho p_c) / se(rho)``, the score statistic of ``p_t / p_c = rho``."""
        control, treatment = restricted_ratio(
            self.control_successes,
            self.control_units,
            self.treatment_successes,
            self.treatment_units,
            rho,
        )
        variance = (
            treatment * (1.0 - treatment) / self.treatment_units
            + rho * rho * control * (1.0 - control) / self.control_units
        )
        gap = self.treatment_rate - rho * self.control_rate
        if variance <= 0.0:
            return 0.0 if gap == 0.0 else math.copysign(math.inf, gap)
        return gap / math.sqrt(variance)


def _root(
    function: Callable[[float], float], estimate: float, edge: float, step: float, target: float
) -> float:
    """Where the decreasing ``function`` meets ``target``, between ``estimate`` and ``edge``.

    ``function(estimate)`` is 0; the root is bracketed by stepping from the estimate toward
    the edge by ``step``, doubling each time (``step`` is the Wald half-width, close to the
    answer), so that Brent's method starts from a narrow bracket.
    """

    if target == 0.0:
        return estimate  # a one-sided test at alpha = 0.5: the bound is the estimate itself

    def shifted(x: float) -> float:
        return function(x) - target

    direction = 1.0 if edge > estimate else -1.0
    near, near_value = estimate, -target
    while True:
        far = estimate + direction * step
        if direction * (far - edge) >= 0.0:
            far = edge
        far_value = shifted(far)
        if far_value == 0.0:
            return far
        if (far_value > 0.0) != (near_value > 0.0):
            low, high = (near, far) if direction > 0.0 else (far, near)
            return float(brentq(shifted, low, high, xtol=_TOLERANCE, rtol=8.9e-16, maxiter=200))
        if far == edge:
            return edge
        near, near_value = far, far_value
        step *= 2.0


def _bounds(
    low_bound: Callable[[], float], high_bound: Callable[[], float], alternative: Alternative
) -> Interval:
    low = low_bound() if alternative != "less" else -math.inf
    high = high_bound() if alternative != "greater" else math.inf
    return (low, high)


def _wald_step(score: _Score, critical: float, scale: float) -> float:
    """``critical`` times the pooled standard error over ``scale``: where a bound starts."""
    pooled = (score.control_successes + score.treatment_successes) / (
        score.control_units + score.treatment_units
    )
    error = math.sqrt(
        pooled * (1.0 - pooled) * (1 / score.control_units + 1 / score.treatment_units)
    )
    return max(critical, 0.5) * error / scale


def score_difference_interval(
    control_successes: float,
    control_units: int,
    treatment_successes: float,
    treatment_units: int,
    *,
    critical: float,
    alternative: Alternative,
) -> Interval:
    """The interval for ``p_t - p_c`` that inverts the score test at ``critical``.

    One-sided alternatives get one finite bound: ``"greater"`` the lower, ``"less"`` the
    upper, with ``critical`` the one-sided quantile. Needs both arms non-empty and a pooled
    rate strictly between 0 and 1.
    """
    score = _Score(control_successes, control_units, treatment_successes, treatment_units)
    estimate = score.treatment_rate - score.control_rate
    step = _wald_step(score, critical, 1.0)

    def lower() -> float:
        if estimate <= -1.0:
            return -1.0
        return _root(score.difference, estimate, -1.0 + _EDGE, step, critical)

    def upper() -> float:
        if estimate >= 1.0:
            return 1.0
        return _root(score.difference, estimate, 1.0 - _EDGE, step, -critical)

    return _bounds(lower, upper, alternative)


def score_ratio_interval(
    control_successes: float,
    control_units: int,
    treatment_successes: float,
    treatment_units: int,
    *,
    critical: float,
    alternative: Alternative,
) -> Interval:
    """The interval for ``p_t / p_c - 1`` that inverts the score test of the ratio.

    Needs ``control_successes > 0``. The ratio's statistic falls from ``+inf`` at 0 to
    ``-inf`` as the ratio grows without bound.
    """
    score = _Score(control_successes, control_units, treatment_successes, treatment_units)
    estimate = score.treatment_rate / score.control_rate
    step = _wald_step(score, critical, score.control_rate)

    def lower() -> float:
        if estimate <= 0.0:
            return -1.0
        return _root(score.ratio, estimate, estimate * 1e-12, step, critical) - 1.0

    def upper() -> float:
        return _root(score.ratio, estimate, math.inf, step, -critical) - 1.0

    return _bounds(lower, upper, alternative)
