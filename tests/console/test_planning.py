"""The sample-size calculator page: statsmodels' figure, and the same units and days as
``ablab sample-size`` for the same question; a mistyped field is refused in one line."""

from __future__ import annotations

import math
import re

import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from ablab.domain.keys import Scope
from ablab.stats import rate_test_plan, sample_size_proportions
from tests.console.conftest import Console
from tests.console.test_stale_forms import signed_in


def cells(html: str, row: str) -> list[int]:
    """The whole numbers of one row of the plan's table."""
    found = re.search(rf"<th scope=\"row\">{re.escape(row)}</th>(.*?)</tr>", html, re.S)
    assert found is not None, row
    return [int(n.replace(",", "")) for n in re.findall(r">([\d,]+)<", found.group(1))]


def test_the_calculator_agrees_with_statsmodels_and_the_cli(console: Console) -> None:
    reader, _ = signed_in(console, Scope.READ)
    query = "baseline=0.15&mde=0.1&traffic=5&daily_units=100000"
    page = reader.get(f"/sample-size?{query}")
    assert page.status_code == 200
    fixed = cells(page.text, "Fixed horizon (look once)")
    sequential = cells(page.text, "Sequential, mSPRT (look any time)")
    reference = NormalIndPower().solve_power(
        proportion_effectsize(0.165, 0.15), alpha=0.05, power=0.8, ratio=1.0
    )
    assert fixed[0] == pytest.approx(reference, rel=0.01)  # control units
    size = sample_size_proportions(0.15, 0.1, traffic_share=0.05, daily_units=100_000)
    cost = rate_test_plan(0.15, 0.1, traffic_share=0.05, daily_units=100_000)
    arriving = math.ceil(size.total_units / 0.05)  # every unit that must arrive
    assert fixed == [
        size.control_units, size.treatment_units, size.total_units, arriving, size.days
    ]  # fmt: skip
    assert sequential[:3] == [
        cost.sequential.control_units,
        cost.sequential.treatment_units,
        cost.sequential.total_units,
    ]
    assert sequential[2] > fixed[2]  # looking at any time costs units
    # ... and the sentence under the table says by as much as the table shows.
    shown = re.search(r"costs \+(\d+)% units", page.text)
    assert shown is not None
    assert int(shown.group(1)) == round((sequential[2] / fixed[2] - 1) * 100)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("baseline=1.5&mde=0.1", "baseline must lie in (0, 1)"),
        ("baseline=abc&mde=0.1", "the baseline rate must be a number"),
        ("baseline=0.1&mde=0.1&power=2", "power"),
        ("baseline=0.15&mde=0.1&daily_units=1e-320", "no finite"),
        ("baseline=0.15&mde=0.1&traffic=1e-320", "traffic"),
        ("baseline=0.15&mde=0.1&alpha=1e-300", "no finite"),
        ("baseline=1e-300&mde=0.1", "no finite"),
    ],
)
def test_a_mistyped_field_is_refused_in_one_line(
    console: Console, query: str, message: str
) -> None:
    reader, _ = signed_in(console, Scope.READ)
    page = reader.get(f"/sample-size?{query}")
    assert page.status_code == 422
    assert message in page.text
    typed = query.split("&", maxsplit=1)[0].removeprefix("baseline=")
    assert f'value="{typed}"' in page.text  # kept as typed
