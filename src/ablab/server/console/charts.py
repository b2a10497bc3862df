"""Line charts as inline SVG, drawn on the server: no script, no library, no network.

Each chart takes its series as lists of ``(time, value)`` points (a None value breaks the
line) and an optional band of ``(time, low, high)``, and scales both axes to the data.

It is drawn twice, wide and narrow, and the stylesheet shows the one that fits the screen:
an SVG scales its text with its width, so one drawing cannot keep labels readable (11 px
and up) both beside another chart on a desktop and on a 390 px phone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Literal

from markupsafe import Markup

__all__ = ["BandPoint", "Point", "Series", "ValueKind", "line_chart"]

Point = tuple[datetime, float | None]
BandPoint = tuple[datetime, float | None, float | None]
# number: 0.928; count: 1,200; percent: a signed change (+5%); share: a part of 100% (25%).
ValueKind = Literal["number", "percent", "count", "share"]
_COLOURS = 6


@dataclass(frozen=True, slots=True)
class Series:
    """One line. ``colour`` is the variant's place in its experiment (0 the control), so a
    variant keeps its colour in every chart; None takes the series' place in the chart."""

    name: str
    points: Sequence[Point]
    band: Sequence[BandPoint] = ()
    colour: int | None = None


@dataclass(frozen=True, slots=True)
class _Layout:
    name: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    font: int  # px in the drawing's units; on screen, times the drawn width / ``width``
    time_labels: int


# The wide drawing is shown at least 460 px wide (16 x 460/640 = 11.5 px text), the narrow one
# about 340 px wide on a 390 px screen (13 x 340/360 = 12.3 px).
_WIDE = _Layout("wide", 640, 260, 76, 16, 16, 44, 16, 3)
_NARROW = _Layout("narrow", 360, 240, 62, 12, 14, 40, 13, 2)


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values within [low, high]: steps of 1, 2 or 5 times 10^k, the
    one nearest the even spacing (Heckbert, "Nice numbers for graph labels", Graphics Gems,
    1990)."""
    raw = (high - low) / max(1, count - 1)
    if not (math.isfinite(raw) and raw > 0):  # one value, or a span no float holds
        return [low] if high <= low else [low, high]
    magnitude = 10 ** math.floor(math.log10(raw))
    fraction = raw / magnitude
    nice = 1 if fraction < 1.5 else 2 if fraction < 3.5 else 5 if fraction < 7.5 else 10
    step = nice * magnitude
    first = math.ceil(low / step - 1e-9) * step
    count_in = int((high - first) / step + 1e-9) + 1
    # Twelve significant digits, not decimals: ticks of 1e-13 keep their values.
    return [float(f"{first + i * step:.12g}") for i in range(count_in)]


def _label(value: float, step: float, kind: ValueKind) -> str:
    """A tick's label with just the decimals its step needs, so no two ticks read alike
    (a step of 0.0005 shows 0.9275, 0.9280, never 0.928 twice)."""
    scale = 100.0 if kind in ("percent", "share") else 1.0
    shown_step = step * scale
    if not 1e-9 <= shown_step <= 1e15:  # beyond fixed decimals: three significant digits
        return f"{value * scale:.3g}{'%' if kind in ('percent', 'share') else ''}"
    decimals = max(0, -math.floor(math.log10(shown_step) + 1e-9)) if shown_step > 0 else 0
    if kind == "count" and shown_step >= 1:
        decimals = 0
    if abs(value) < step / 2:
        value = 0.0  # never "-0%"
    if kind == "percent":
        return f"{value * scale:+.{decimals}f}%" if value else "0%"
    if kind == "share":
        return f"{value * scale:.{decimals}f}%"
    return f"{value:,.{decimals}f}"


def _bounds(values: list[float], zero_line: bool) -> tuple[float, float]:
    """The value axis: the data's range (with 0 when the chart marks it); a flat series gets
    a band around its value a tenth of it wide, so it is drawn mid-height on round ticks."""
    if zero_line:
        values = [*values, 0.0]
    low, high = min(values), max(values)
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    return low, high


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    kind: ValueKind = "number",
    zero_line: bool = False,
) -> Markup:
    """An SVG line chart of ``series``, titled ``title`` (also its accessible name)."""
    times = [t for s in series for t, _ in s.points] + [t for s in series for t, _, _ in s.band]
    values = [v for s in series for _, v in s.points if v is not None and math.isfinite(v)]
    values += [
        v
        for s in series
        for _, lo, hi in s.band
        for v in (lo, hi)
        if v is not None and math.isfinite(v)
    ]
    label = escape(title)
    if not times or not values:
        return Markup(f'<p class="chart-empty">{label}: no data yet.</p>')
    low, high = _bounds(values, zero_line)
    spread = high - low
    if not (math.isfinite(spread) and spread > max(abs(low), abs(high), 1e-200) * 1e-12):
        # Values at the ends of what a float holds, or a spread below its precision: no
        # axis would read right, so say so rather than draw one.
        return Markup(f'<p class="chart-empty">{label}: values out of a drawable range.</p>')
    drawings = "".join(
        _svg(
            layout,
            label,
            series,
            start=min(times),
            end=max(times),
            low=low,
            high=high,
            kind=kind,
            zero_line=zero_line,
        )
        for layout in (_WIDE, _NARROW)
    )
    legend = "".join(
        f'<li><span class="swatch s{_colour(s, i)}"></span>{escape(s.name)}</li>'
        for i, s in enumerate(series)
    )
    return Markup(
        f'<figure class="chart-box">{drawings}<figcaption>{label}'
        f'<ul class="legend">{legend}</ul></figcaption></figure>'
    )


def _colour(one: Series, index: int) -> int:
    return (index if one.colour is None else one.colour) % _COLOURS


def _svg(
    layout: _Layout,
    label: str,
    series: Sequence[Series],
    *,
    start: datetime,
    end: datetime,
    low: float,
    high: float,
    kind: ValueKind,
    zero_line: bool,
) -> str:
    span_t = (end - start).total_seconds()
    plot_w = layout.width - layout.left - layout.right
    plot_h = layout.height - layout.top - layout.bottom

    def x(t: datetime) -> float:
        # One moment only: its points stand mid-width, not on the left edge.
        if span_t == 0:
            return layout.left + plot_w / 2
        return layout.left + (t - start).total_seconds() / span_t * plot_w

    def y(v: float) -> float:
        return layout.top + (high - v) / (high - low) * plot_h

    parts = [
        f'<svg class="chart {layout.name}" viewBox="0 0 {layout.width} {layout.height}" '
        f'role="img" aria-label="{label}" preserveAspectRatio="xMidYMid meet" '
        f'font-size="{layout.font}">',
        f"<title>{label}</title>",
    ]
    ticks = _ticks(low, high)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else abs(ticks[0]) or 1.0
    for tick in ticks:
        parts.append(
            f'<line class="grid" x1="{layout.left}" x2="{layout.width - layout.right}" '
            f'y1="{y(tick):.1f}" y2="{y(tick):.1f}"/><text class="tick" x="{layout.left - 6}" '
            f'y="{y(tick) + layout.font / 3:.1f}" text-anchor="end">'
            f"{escape(_label(tick, step, kind))}</text>"
        )
    shown: set[str] = set()
    for t, anchor in _time_ticks(start, end, layout.time_labels):
        text = _time_label(t, end - start)
        if text in shown:  # never the same moment twice along the axis
            continue
        shown.add(text)
        baseline = layout.height - layout.bottom + layout.font + 6
        parts.append(
            f'<text class="tick" x="{x(t):.1f}" y="{baseline}" text-anchor="{anchor}">{text}</text>'
        )
    if zero_line and low < 0 < high:
        parts.append(
            f'<line class="zero" x1="{layout.left}" x2="{layout.width - layout.right}" '
            f'y1="{y(0):.1f}" y2="{y(0):.1f}"/>'
        )
    for index, one in enumerate(series):
        colour = _colour(one, index)
        band = [(t, lo, hi) for t, lo, hi in one.band if lo is not None and hi is not None]
        band = [(t, lo, hi) for t, lo, hi in band if math.isfinite(lo) and math.isfinite(hi)]
        if len(band) > 1:
            upper = " ".join(f"{x(t):.1f},{y(hi):.1f}" for t, _, hi in band)
            lower = " ".join(f"{x(t):.1f},{y(lo):.1f}" for t, lo, _ in reversed(band))
            parts.append(f'<polygon class="band s{colour}" points="{upper} {lower}"/>')
        elif band:  # one moment: its interval as an error bar
            t, lo, hi = band[0]
            parts.append(
                f'<line class="bar s{colour}" x1="{x(t):.1f}" x2="{x(t):.1f}" '
                f'y1="{y(lo):.1f}" y2="{y(hi):.1f}"/>'
            )
        for run in _runs(one.points):
            drawn = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run)
            parts.append(f'<polyline class="line s{colour}" points="{drawn}"/>')
            if len(run) == 1:
                t, v = run[0]
                parts.append(
                    f'<circle class="dot s{colour}" cx="{x(t):.1f}" cy="{y(v):.1f}" r="4"/>'
                )
    parts.append("</svg>")
    return "".join(parts)


def _time_ticks(start: datetime, end: datetime, count: int) -> list[tuple[datetime, str]]:
    """Where the time labels go: one in the middle for a single moment; else the first and
    last (leaning inwards, so neither is cut at the edge) and, wide, the middle."""
    if start == end:
        return [(start, "middle")]
    ticks = [(start, "start"), (end, "end")]
    if count >= 3:
        ticks.insert(1, (start + (end - start) / 2, "middle"))
    return ticks


def _time_label(t: datetime, span: timedelta) -> str:
    """Dates for a span of days, times for a day or less, seconds for a few minutes."""
    if span >= timedelta(days=2):
        return t.strftime("%b %d")
    if span >= timedelta(hours=20):
        return t.strftime("%d %H:%M")
    return t.strftime("%H:%M") if span >= timedelta(minutes=5) else t.strftime("%H:%M:%S")


def _runs(points: Sequence[Point]) -> list[list[tuple[datetime, float]]]:
    """The stretches of consecutive points that have a value."""
    runs: list[list[tuple[datetime, float]]] = [[]]
    for t, v in points:
        if v is None or not math.isfinite(v):
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((t, v))
    return [r for r in runs if r]
