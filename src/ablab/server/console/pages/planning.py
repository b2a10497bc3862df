"""The sample-size calculator: the units and days a two-proportion test needs, fixed
horizon and sequential, as ``ablab sample-size`` computes them.

It is a GET form: the answer's address can be shared, and it changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ablab.errors import AblabError, ValidationError
from ablab.server.console.session import ViewerDep
from ablab.server.console.templating import render_form
from ablab.stats import (
    SampleSize,
    rate_test_plan,
)

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Plan:
    fixed: SampleSize
    sequential: SampleSize
    inflation: float
    all_traffic: tuple[int, int]  # units that must arrive, fixed and sequential


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValidationError(f"{what} must be a number, got {text!r}")
    return value


@router.get("/sample-size")
def sample_size_page(
    request: Request,
    viewer: ViewerDep,
    *,
    baseline: str = "",
    mde: str = "",
    mde_type: Literal["relative", "absolute"] = "relative",
    alpha: str = "0.05",
    power: str = "0.8",
    traffic: str = "100",
    treatment_share: str = "50",
    daily_units: str = "",
) -> Response:
    typed = {
        "baseline": baseline[:32], "mde": mde[:32], "mde_type": mde_type, "alpha": alpha[:32],
        "power": power[:32], "traffic": traffic[:32], "treatment_share": treatment_share[:32],
        "daily_units": daily_units[:32],
    }  # fmt: skip
    plan, error = None, None
    if baseline or mde:
        try:
            plan = _plan(typed)
        except AblabError as exc:
            error = exc.message
    return render_form(
        request, "sample_size.html", {"viewer": viewer, "form": typed, "plan": plan}, error
    )


def _plan(form: dict[str, str]) -> Plan:
    """The fixed-horizon size (Fleiss et al. 2003, ch. 4) and what the sequential test's
    always-valid inference costs on top (``stats.rate_test_plan``)."""
    baseline = _number(form["baseline"], "the baseline rate")
    mde = _number(form["mde"], "the minimum detectable effect")
    alpha = _number(form["alpha"], "alpha")
    power = _number(form["power"], "the power")
    traffic = _number(form["traffic"], "the traffic share") / 100
    share = _number(form["treatment_share"], "the treatment's share") / 100
    daily = _number(form["daily_units"], "the daily units") if form["daily_units"] else None
    mde_type: Literal["relative", "absolute"] = (
        "absolute" if form["mde_type"] == "absolute" else "relative"
    )
    cost = rate_test_plan(
        baseline, mde, mde_type=mde_type, alpha=alpha, power=power,
        treatment_share=share, traffic_share=traffic, daily_units=daily,
    )  # fmt: skip
    fixed = cost.fixed
    try:
        arriving = (
            math.ceil(fixed.total_units / traffic),
            math.ceil(cost.sequential.total_units / traffic),
        )
    except (ArithmeticError, ValueError):  # a share so small the arrivals are not finite
        raise ValidationError(
            "the traffic share is too small: no finite number of units would arrive"
        ) from None
    return Plan(fixed, cost.sequential, cost.inflation, arriving)
