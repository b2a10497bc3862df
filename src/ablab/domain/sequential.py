"""The always-valid test of one comparison across looks: its design and its running state.

A *look* is a computation of an experiment's results (``GET /results``, ``ablab experiment
results``, the console, the guard's and the monitor's checks). The always-valid p-value
is the running minimum of each look's ``1 / Lambda`` and the confidence sequence the
running intersection of each look's interval; both are kept here per (experiment, metric,
treatment), so the verdict cannot move back and forth as people look.

The running values are only valid for one mixture: the :class:`SequentialDesign` says
which. When a look's design differs from the stored one (the tuning sample size, the
level, the alternative or the null changed), the state restarts from that look; the
looks before it no longer count. Settings that would change a running test's design are
fixed at launch, so this happens only for experiments created before the design was
stored, or when a metric moves between families (e.g. a guardrail on a new metric).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ablab.errors import ValidationError

if TYPE_CHECKING:
    # Only the type: importing ablab.stats loads scipy (~0.8 s), which the CLI's start-up and
    # every reader of the wire schemas (contract.experiments imports this module) would pay.
    from ablab.stats import Alternative

__all__ = ["DEFAULT_TUNING_UNITS", "SequentialDesign", "SequentialState", "alternative_of"]

# gbstats' default ``sequential_tuning_parameter``: the confidence sequence is tightest
# when the two arms compared hold 5,000 units together.
DEFAULT_TUNING_UNITS = 5_000


@dataclass(frozen=True, slots=True)
class SequentialDesign:
    """What fixes a comparison's mixture before the data.

    Attributes:
        tuning_units: ``N*``, units of control and treatment together at which the
            confidence sequence is tightest (``tau = rho(N*) * s``, ``s`` the per-unit
            standard deviation, the only plug-in).
        level: The test's level after the family's Bonferroni share (``alpha / m``).
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
        null_difference: The difference under the null (a non-inferiority margin).
    """

    tuning_units: int
    level: float
    alternative: Alternative = "two-sided"
    null_difference: float = 0.0


@dataclass(frozen=True, slots=True)
class SequentialState:
    """The running always-valid p-value and confidence sequence after ``looks`` looks.

    Attributes:
        experiment_id: The experiment.
        metric: The metric compared.
        variant: The treatment compared with the control.
        design: The mixture the looks used.
        looks: Looks that tested something (a look without data leaves the state as is).
        always_valid_p_value: Smallest ``1 / Lambda`` over the looks (at most 1).
        lower: Largest lower bound over the looks; None when unbounded (``less``).
        upper: Smallest upper bound; None when unbounded (``greater``).
        mixing_variance: ``tau**2`` at the last look (``rho**2`` times that look's
            per-unit variance).
        updated_at: When the last look was taken.
    """

    experiment_id: str
    metric: str
    variant: str
    design: SequentialDesign
    looks: int
    always_valid_p_value: float
    lower: float | None
    upper: float | None
    mixing_variance: float
    updated_at: datetime

    @property
    def interval(self) -> tuple[float, float]:
        """``(lower, upper)`` with infinities for the open sides."""
        low = -math.inf if self.lower is None else self.lower
        high = math.inf if self.upper is None else self.upper
        return (low, high)


def alternative_of(text: str) -> Alternative:
    """``text`` as an :data:`Alternative` (as stored or sent).

    Raises:
        ValidationError: not one of two-sided, greater, less.
    """
    for known in ("two-sided", "greater", "less"):
        if text == known:
            return known
    raise ValidationError(
        f"alternative must be one of two-sided, greater, less, got {text!r}",
        details={"alternative": text},
    )
