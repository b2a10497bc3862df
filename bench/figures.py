"""The one line every benchmark ends with, per figure: ours, the anchor, the ratio, the goal.

    bench: <figure> ours=<value><unit> anchor=<value><unit> (<what the anchor is>)
        ratio=<ours/anchor> goal=<goal> met=<yes|no|n/a> runs=<n>

(on one line). The anchor is measured in the same run as ours, on the same machine and
load, so the ratio is the figure to compare between days; the absolute values move with
whatever else the machine is doing. ``runs`` says of how many runs the values are medians.
A goal is either on our value (``<=1ms``) or on the ratio (``>=0.7x``); ``met`` compares
ours (or the ratio) with it, ``n/a`` when the goal is only to report the figure. An anchor
that is not positive (a difference of two noisy latencies can come out below zero) gives
no ratio (``nan``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Goal:
    """A bound on ours (``unit`` set) or on the ratio (``unit`` empty: written ``x``)."""

    bound: float
    at_most: bool
    unit: str = ""

    @property
    def on_ratio(self) -> bool:
        return not self.unit

    def text(self) -> str:
        sign = "<=" if self.at_most else ">="
        return f"{sign}{self.bound:g}{self.unit or 'x'}"

    def met(self, ours: float, ratio: float) -> bool | None:
        value = ratio if self.on_ratio else ours
        if math.isnan(value):
            return None
        return value <= self.bound if self.at_most else value >= self.bound


def at_most(bound: float, unit: str = "") -> Goal:
    return Goal(bound, at_most=True, unit=unit)


def at_least(bound: float, unit: str = "") -> Goal:
    return Goal(bound, at_most=False, unit=unit)


def median(values: Iterable[float]) -> float:
    """The median, NaN for no values (a figure a run could not measure)."""
    present = [value for value in values if not math.isnan(value)]
    return statistics.median(present) if present else math.nan


def medians(runs: Sequence[Sequence[float]]) -> tuple[float, ...]:
    """Column-wise medians of runs of equal-length tuples (e.g. rate, p50, p99 per run)."""
    return tuple(median(run[i] for run in runs) for i in range(len(runs[0])))


def _number(value: float, digits: int) -> str:
    return "nan" if math.isnan(value) else f"{value:.{digits}f}"


def figure(
    name: str,
    ours: float,
    anchor: float,
    unit: str,
    *,
    anchor_is: str,
    goal: Goal | None,
    runs: int,
    digits: int = 2,
) -> None:
    """Print the ``bench:`` line of one figure (see the module's docstring)."""
    ratio = ours / anchor if anchor > 0 else math.nan  # NaN > 0 is False too
    verdict = goal.met(ours, ratio) if goal else None
    print(
        f"bench: {name} ours={_number(ours, digits)}{unit} anchor={_number(anchor, digits)}{unit} "
        f"({anchor_is}) ratio={_number(ratio, 2)} goal={goal.text() if goal else 'report'} "
        f"met={'n/a' if verdict is None else 'yes' if verdict else 'no'} runs={runs}"
    )
