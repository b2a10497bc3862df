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


def tick_labels(markup: str) -> list[str]:
    return [t.text or "" for t in svg_of(markup).findall("text")]


def test_close_ticks_never_read_alike() -> None:
    # A flat-ish accuracy: a step of 0.0005 needs four decimals, not three.
    markup = str(line_chart("acc", [Series("a", [(at(0), 0.9271), (at(1), 0.9283)])]))
    values = [t for t in tick_labels(markup) if ":" not in t]
    assert len(values) == len(set(values)) >= 2, values
    assert all(len(v.split(".")[1]) == 4 for v in values), values


def test_percent_ticks_carry_the_decimals_their_step_needs() -> None:
    markup = str(
        line_chart("lift", [Series("a", [(at(0), 0.001), (at(1), 0.004)])], kind="percent")
    )
    values = [t for t in tick_labels(markup) if t.endswith("%")]
    assert len(values) == len(set(values)) >= 2, values
    assert "-0%" not in values


def test_one_moment_is_drawn_mid_width_with_one_time_label() -> None:
    markup = str(line_chart("one", [Series("a", [(at(0), 250.0)])], kind="count"))
    svg = svg_of(markup)
    (dot,) = svg.findall("circle")
    width = float((svg.get("viewBox") or "").split()[2])
    assert 0.4 * width < float(dot.get("cx") or 0) < 0.6 * width
    times = [t for t in tick_labels(markup) if ":" in t]
    assert len(times) == 1
    values = [float(t.replace(",", "")) for t in tick_labels(markup) if ":" not in t]
    assert min(values) < 250 < max(values)  # the value sits inside a sensible axis


def test_a_variant_keeps_its_colour_when_the_control_has_no_line() -> None:
    lift = str(line_chart("lift", [Series("b", [(at(0), 0.1)], colour=1)], kind="percent"))
    assert 'class="swatch s1"' in lift
    assert "s0" not in lift


def test_the_narrow_drawing_is_there_for_small_screens() -> None:
    markup = str(line_chart("u", [Series("a", [(at(0), 1.0), (at(1), 2.0)])]))
    assert 'class="chart wide"' in markup
    assert 'class="chart narrow"' in markup


def test_values_at_the_ends_of_a_float_are_said_not_drawn() -> None:
    for series in (
        [Series("a", [(at(0), 1e308), (at(1), -1e308)])],
        [Series("a", [(at(0), 0.0), (at(1), 5e-324)])],
        [Series("a", [(at(0), 0.5)], [(at(0), -1e308, 1e308)])],
    ):
        markup = str(line_chart("extreme", series))
        assert "out of a drawable range" in markup, markup
    assert _ticks(0.0, 5e-324) == [0.0, 5e-324]
