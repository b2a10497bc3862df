"""Thompson-sampling traffic allocation with a floor per arm."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ablab.errors import ValidationError
from ablab.stats._validation import check_count

__all__ = ["thompson_weights"]


def thompson_weights(
    successes: Sequence[int],
    failures: Sequence[int],
    *,
    rng: np.random.Generator,
    draws: int = 10_000,
    min_share: float = 0.01,
) -> tuple[float, ...]:
    """Traffic weights proportional to each arm's probability of being best, with a floor.

    Each arm's success rate has the posterior ``Beta(alpha, beta)`` with
    ``alpha = successes + 1`` and ``beta = failures + 1`` (uniform prior). ``draws`` joint
    samples estimate the probability that each arm has the highest rate; the weights are
    ``min_share + (1 - arms * min_share) * probability``, so every arm keeps at least
    ``min_share`` of the traffic (and keeps being measured) while better arms get more.
    Randomness comes only from ``rng``, so a seeded generator gives the same weights.

    Args:
        successes: Successes per arm.
        failures: Failures per arm, same order.
        rng: The random generator, e.g. ``numpy.random.default_rng(seed)``.
        draws: Joint posterior samples; the Monte Carlo error of a probability ``p`` is
            ``sqrt(p (1 - p) / draws)``.
        min_share: The floor per arm, with ``arms * min_share <= 1``.

    Returns:
        One weight per arm, summing to 1.

    Raises:
        ValidationError: fewer than two arms, mismatched lengths, negative counts, a
            non-positive ``draws`` or a floor that arms cannot all receive.

    References:
        Thompson, W. R. (1933). On the likelihood that one unknown probability exceeds
        another in view of the evidence of two samples. Biometrika 25(3/4), 285-294.
        Chapelle, O., Li, L. (2011). An empirical evaluation of Thompson sampling. NeurIPS 24
        (Algorithm 2, Thompson sampling for the Bernoulli bandit with Beta(1, 1) priors).

    Examples:
        >>> import numpy as np
        >>> from ablab.stats import thompson_weights
        >>> weights = thompson_weights([30, 45], [970, 955], rng=np.random.default_rng(7))
        >>> [round(w, 2) for w in weights]
        [0.05, 0.95]
        >>> weights == thompson_weights([30, 45], [970, 955], rng=np.random.default_rng(7))
        True
    """
    if len(successes) != len(failures) or len(successes) < 2:
        raise ValidationError(
            "successes and failures must list the same arms, at least two",
            details={"successes": len(successes), "failures": len(failures)},
        )
    if not isinstance(rng, np.random.Generator):
        raise ValidationError(
            "rng must be a numpy.random.Generator, e.g. numpy.random.default_rng(seed)",
            details={"rng": type(rng).__name__},
        )
    samples = check_count(draws, "draws")
    if samples == 0:
        raise ValidationError("draws must be at least 1", details={"draws": draws})
    arms = len(successes)
    if not 0.0 <= min_share <= 1.0 / arms:
        raise ValidationError(
            f"min_share must lie in [0, 1/{arms}] for {arms} arms, got {min_share!r}",
            details={"min_share": min_share, "arms": arms},
        )
    alpha = (
        np.array([check_count(count, "successes") for count in successes], dtype=np.float64) + 1.0
    )
    beta = np.array([check_count(count, "failures") for count in failures], dtype=np.float64) + 1.0
    winners = np.argmax(rng.beta(alpha, beta, size=(samples, arms)), axis=1)
    probability_best = np.bincount(winners, minlength=arms) / samples
    weights = min_share + (1.0 - arms * min_share) * probability_best
    return tuple(float(weight) for weight in weights / weights.sum())
