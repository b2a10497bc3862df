"""Priors of the Bayesian analysis, and the strict text form people choose them by.

Two families, one per model:

* proportions: a ``Beta(a, b)`` prior on each arm's rate, conjugate to the binomial, so an
  arm with ``x`` successes in ``n`` units has posterior ``Beta(a + x, b + n - x)``;
* every other metric (means, ratios, CUPED-adjusted means): a normal prior on the relative
  effect ``(treatment - control) / |control|``, as GrowthBook's gbstats models it, either
  flat (improper) or ``N(mean, variance)``.

The default Beta prior is Jeffreys' ``Beta(1/2, 1/2)`` rather than the uniform
``Beta(1, 1)``: it is invariant under reparametrisation (it does not depend on whether the
rate or the log-odds is thought of as the parameter), it adds one pseudo-unit per arm
instead of two, so it pulls a rare-event arm less towards 1/2, and its equal-tailed
intervals have close to nominal frequentist coverage, better than the uniform prior's. The
default normal prior is flat, as in GrowthBook (whose stored default is
``N(0, 0.3**2)`` with ``proper`` off): without a prior chosen on purpose, the data alone
speak. ``normal:0,0.09`` turns that N(0, 0.3**2) into a proper prior.

Text form (one term each; several terms combine, at most one per family)::

    jeffreys | uniform | beta:A,B          Beta prior for proportions (A, B > 0)
    flat | normal:M,V                      prior on the relative effect (V > 0)

Numbers are plain decimals (``0.5``, ``2``, ``1e-3``); anything else is refused with a
:class:`ablab.errors.ValidationError` that names the field.

References:
    Jeffreys, H. (1946). An invariant form for the prior probability in estimation
    problems. Proceedings of the Royal Society A 186(1007), 453-461.
    Brown, L. D., Cai, T. T., DasGupta, A. (2001). Interval estimation for a binomial
    proportion. Statistical Science 16(2), 101-133, Section 4.1.2 (the Jeffreys interval's
    coverage).
    GrowthBook gbstats, ``gbstats/bayesian/tests.py`` (``GaussianPrior`` on the relative
    effect, ``proper`` off by default) and ``packages/shared/src/constants.ts``
    (``DEFAULT_PROPER_PRIOR_STDDEV = 0.3``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ablab.errors import ValidationError

# The named priors (JEFFREYS, UNIFORM, FLAT, DEFAULT_PRIOR) are read from this module.
__all__ = ["BetaPrior", "NormalPrior", "Prior", "parse_prior"]

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_TWO_NUMBERS = re.compile(rf"({_NUMBER}),({_NUMBER})")


@dataclass(frozen=True, slots=True)
class BetaPrior:
    """``Beta(alpha, beta)`` on a rate; ``name`` is ``"jeffreys"``, ``"uniform"`` or None."""

    alpha: float
    beta: float
    name: str | None = None

    def __post_init__(self) -> None:
        for field, value in (("alpha", self.alpha), ("beta", self.beta)):
            if not (math.isfinite(value) and value > 0.0):
                raise ValidationError(
                    f"a Beta prior's {field} must be a positive number",
                    details={"field": "prior", field: value},
                )

    @property
    def spec(self) -> str:
        """The text form: ``jeffreys``, ``uniform`` or ``beta:A,B``."""
        return self.name or f"beta:{self.alpha:g},{self.beta:g}"

    def describe(self) -> str:
        """For people: ``Beta(0.5, 0.5) (Jeffreys) on each arm's rate``."""
        label = f" ({self.name.capitalize()})" if self.name else ""
        return f"Beta({self.alpha:g}, {self.beta:g}){label} on each arm's rate"


@dataclass(frozen=True, slots=True)
class NormalPrior:
    """A normal prior on the relative effect; improper (flat) unless ``proper``.

    ``mean`` and ``variance`` are kept when flat, as GrowthBook keeps them, so that turning
    the prior proper is one switch.
    """

    mean: float = 0.0
    variance: float = 0.09
    proper: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.mean):
            raise ValidationError(
                "a normal prior's mean must be a finite number",
                details={"field": "prior", "mean": self.mean},
            )
        if not (math.isfinite(self.variance) and self.variance > 0.0):
            raise ValidationError(
                "a normal prior's variance must be a positive number",
                details={"field": "prior", "variance": self.variance},
            )

    @property
    def spec(self) -> str:
        """The text form: ``flat`` or ``normal:M,V``."""
        return f"normal:{self.mean:g},{self.variance:g}" if self.proper else "flat"

    def describe(self) -> str:
        """For people: ``flat on the relative lift`` or ``Normal(0, 0.09) on the relative lift``."""
        if not self.proper:
            return "flat on the relative lift"
        return f"Normal(mean {self.mean:g}, variance {self.variance:g}) on the relative lift"


JEFFREYS = BetaPrior(0.5, 0.5, "jeffreys")
UNIFORM = BetaPrior(1.0, 1.0, "uniform")
FLAT = NormalPrior()


@dataclass(frozen=True, slots=True)
class Prior:
    """The priors of one analysis: one for proportions, one for the relative effect."""

    proportions: BetaPrior = JEFFREYS
    effect: NormalPrior = FLAT

    @property
    def spec(self) -> str:
        """Both terms, comma-free between them: ``jeffreys flat`` reads back with split()."""
        return f"{self.proportions.spec} {self.effect.spec}"


DEFAULT_PRIOR = Prior()


def _refuse(term: str, why: str) -> ValidationError:
    return ValidationError(
        f"prior {term!r}: {why}; expected jeffreys, uniform, beta:A,B, flat or normal:M,V",
        details={"field": "prior", "value": term},
    )


def _numbers(term: str, body: str) -> tuple[float, float]:
    found = _TWO_NUMBERS.fullmatch(body)
    if found is None:
        raise _refuse(term, "needs two plain numbers separated by a comma")
    first, second = float(found.group(1)), float(found.group(2))
    if not (math.isfinite(first) and math.isfinite(second)):
        raise _refuse(term, "numbers must be finite")
    return first, second


def _term(term: str) -> BetaPrior | NormalPrior:
    if term == JEFFREYS.name:
        return JEFFREYS
    if term == UNIFORM.name:
        return UNIFORM
    if term == "flat":
        return FLAT
    family, colon, body = term.partition(":")
    if not colon or family not in ("beta", "normal"):
        raise _refuse(term, "unknown prior")
    first, second = _numbers(term, body)
    try:
        if family == "beta":
            return BetaPrior(first, second)
        return NormalPrior(first, second, proper=True)
    except ValidationError as refused:
        raise _refuse(term, refused.message) from None


def parse_prior(terms: str | Iterable[str] | None) -> Prior:
    """The :class:`Prior` that ``terms`` name; the defaults for what they leave out.

    Args:
        terms: One term, several (an iterable, or one string with terms separated by
            spaces), or None for :data:`DEFAULT_PRIOR`.

    Raises:
        ValidationError: a term outside the grammar, a non-positive Beta parameter or
            variance, or two terms of one family. ``details["field"]`` is ``"prior"``.

    Examples:
        >>> parse_prior("uniform")
        Prior(proportions=BetaPrior(alpha=1.0, beta=1.0, name='uniform'), effect=NormalPrior(mean=0.0, variance=0.09, proper=False))
        >>> parse_prior(["beta:2,8", "normal:0,0.09"]).spec
        'beta:2,8 normal:0,0.09'
        >>> parse_prior(None) == DEFAULT_PRIOR
        True
    """  # noqa: E501
    if terms is None:
        return DEFAULT_PRIOR
    listed = terms.split() if isinstance(terms, str) else list(terms)
    if isinstance(terms, str) and not listed:
        raise _refuse(terms, "empty")
    proportions: BetaPrior | None = None
    effect: NormalPrior | None = None
    for term in listed:
        if not isinstance(term, str) or not term:
            raise _refuse(str(term), "empty")
        chosen = _term(term)
        if isinstance(chosen, BetaPrior):
            if proportions is not None:
                raise _refuse(term, "a second prior for proportions")
            proportions = chosen
        else:
            if effect is not None:
                raise _refuse(term, "a second prior for the relative effect")
            effect = chosen
    return Prior(proportions or JEFFREYS, effect or FLAT)
