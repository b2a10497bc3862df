"""The SVG charts: scaled to the data, labels escaped, gaps kept as gaps."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

from ablab.server.console.charts import Series, _ticks, line_chart

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def svg_of(markup: str) -> ElementTree.Element:
    found = re.search(r"<svg.*?</svg>", markup, re.S)  # the wide drawing
    assert found is not None
    return ElementTree.fromstring(found.group(0))


def test_ticks_are_round_and_span_the_data() -> None:
    assert _ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert _ticks(3, 97) == [20, 40, 60, 80]
    assert _ticks(-0.12, 0.31) == [-0.1, 0.0, 0.1, 0.2, 0.3]
    for low, high in ((0.0, 1.0), (-0.12, 0.31), (3.0, 97.0), (1e-5, 3e-5)):
        ticks = _ticks(low, high)
        assert all(low - 1e-12 <= t <= high + 1e-12 for t in ticks)
        assert 2 <= len(ticks) <= 9
        steps = {round(b - a, 12) for a, b in itertools.pairwise(ticks)}
        assert len(steps) == 1


def test_a_chart_is_valid_svg_with_its_title_escaped() -> None:
    markup = line_chart(
        "lift <of> & more",
        [Series("a<b", [(at(0), 0.1), (at(1), 0.2)], [(at(0), 0.0, 0.2), (at(1), 0.1, 0.3)])],
        zero_line=True,
    )
    svg = svg_of(str(markup))
    assert svg.get("aria-label") == "lift <of> & more"
    assert "<of>" not in str(markup)
    assert "a&lt;b" in str(markup)
    polygons = svg.findall("{http://www.w3.org/2000/svg}polygon") or svg.findall("polygon")
    assert len(polygons) == 1  # the band


def test_a_missing_value_breaks_the_line() -> None:
    markup = line_chart("units", [Series("a", [(at(0), 1.0), (at(1), None), (at(2), 3.0)])])
    svg = svg_of(str(markup))
    lines = svg.findall("polyline")
    assert len(lines) == 2
    assert len(svg.findall("circle")) == 2  # each lone point is drawn as a dot


def test_points_are_placed_by_value() -> None:
    markup = line_chart("v", [Series("a", [(at(0), 0.0), (at(1), 10.0)])])
    (line,) = svg_of(str(markup)).findall("polyline")
    (x0, y0), (x1, y1) = (map(float, p.split(",")) for p in line.get("points", "").split())
    assert x1 > x0
    assert y1 < y0  # higher values are drawn higher


def test_no_data_says_so() -> None:
    assert "no data yet" in str(line_chart("empty", [Series("a", [])]))
    assert "no data yet" in str(line_chart("none", [Series("a", [(at(0), None)])]))
