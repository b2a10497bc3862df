"""Line charts as inline SVG, drawn on the server: no script, no library, no network.

Each chart takes its series as lists of ``(time, value)`` points (a None value breaks the
line) and an optional band of ``(time, low, high)``, and scales both axes to the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup

__all__ = ["BandPoint", "Point", "Series", "line_chart"]

_WIDTH, _HEIGHT = 640, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 16, 40

Point = tuple[datetime, float | None]
BandPoint = tuple[datetime, float | None, float | None]


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: Sequence[Point]
    band: Sequence[BandPoint] = ()


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values within [low, high]: steps of 1, 2 or 5 times 10^k, the
    one nearest the even spacing (Heckbert, "Nice numbers for graph labels", Graphics Gems,
    1990)."""
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    fraction = raw / magnitude
    nice = 1 if fraction < 1.5 else 2 if fraction < 3.5 else 5 if fraction < 7.5 else 10
    step = nice * magnitude
    first = math.ceil(low / step - 1e-9) * step
    count_in = int((high - first) / step + 1e-9) + 1
    return [round(first + i * step, 12) for i in range(count_in)]


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    y_format: Callable[[float], str] = lambda v: f"{v:.3g}",
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
    if zero_line:
        values.append(0.0)
    start, end = min(times), max(times)
    low, high = min(values), max(values)
    if high == low:
        low, high = low - (abs(low) or 1) * 0.1, high + (abs(high) or 1) * 0.1
    span_t = (end - start).total_seconds() or 1.0
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM

    def x(t: datetime) -> float:
        return _LEFT + (t - start).total_seconds() / span_t * plot_w

    def y(v: float) -> float:
        return _TOP + (high - v) / (high - low) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-label="{label}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{label}</title>",
    ]
    for tick in _ticks(low, high):
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}"/><text class="tick" x="{_LEFT - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{escape(y_format(tick))}</text>'
        )
    # The first and last labels lean inwards, so neither is cut at the edge.
    for t in sorted({start, end, start + (end - start) / 2}):
        anchor = "start" if t == start else "end" if t == end else "middle"
        parts.append(
            f'<text class="tick" x="{x(t):.1f}" y="{_HEIGHT - _BOTTOM + 18}" '
            f'text-anchor="{anchor}">{t.strftime("%m-%d %H:%M")}</text>'
        )
    if zero_line and low < 0 < high:
        parts.append(
            f'<line class="zero" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y(0):.1f}" '
            f'y2="{y(0):.1f}"/>'
        )
    for index, one in enumerate(series):
        band = [(t, lo, hi) for t, lo, hi in one.band if lo is not None and hi is not None]
        band = [(t, lo, hi) for t, lo, hi in band if math.isfinite(lo) and math.isfinite(hi)]
        if band:
            upper = " ".join(f"{x(t):.1f},{y(hi):.1f}" for t, _, hi in band)
            lower = " ".join(f"{x(t):.1f},{y(lo):.1f}" for t, lo, _ in reversed(band))
            parts.append(f'<polygon class="band s{index % 6}" points="{upper} {lower}"/>')
        for run in _runs(one.points):
            drawn = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run)
            parts.append(f'<polyline class="line s{index % 6}" points="{drawn}"/>')
            if len(run) == 1:
                t, v = run[0]
                parts.append(
                    f'<circle class="dot s{index % 6}" cx="{x(t):.1f}" cy="{y(v):.1f}" r="3"/>'
                )
    parts.append("</svg>")
    legend = "".join(
        f'<li><span class="swatch s{i % 6}"></span>{escape(s.name)}</li>'
        for i, s in enumerate(series)
    )
    return Markup(
        f'<figure class="chart-box">{"".join(parts)}<figcaption>{label}'
        f'<ul class="legend">{legend}</ul></figcaption></figure>'
    )


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
