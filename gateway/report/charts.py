"""Line charts as inline SVG, drawn on the server so the report needs no script.

Pure functions: series in, markup out. Colours and line styles come from
the page's stylesheet (classes `s0`, `s1`), so charts follow the print
stylesheet too; each series is one polyline with a dot on every measurement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape

from markupsafe import Markup

from .model import Series

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 14, 12, 30
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def value_range(values: Sequence[float]) -> tuple[float, float]:
    """A y range around `values` with a little room above and below."""
    if not values:
        raise ValueError("no values to scale")
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.1 or 1.0
    return lo - pad, hi + pad


def time_scale(t0: datetime, t1: datetime) -> Callable[[datetime], float]:
    """Map a time to an x coordinate; a single moment sits in the middle."""
    span = (t1 - t0).total_seconds()

    def x(at: datetime) -> float:
        if span <= 0:
            return LEFT + PLOT_W / 2
        return LEFT + (at - t0).total_seconds() / span * PLOT_W

    return x


def value_scale(lo: float, hi: float) -> Callable[[float], float]:
    def y(value: float) -> float:
        return TOP + (hi - value) / (hi - lo) * PLOT_H

    return y


def polyline_points(
    series: Series, x: Callable[[datetime], float], y: Callable[[float], float]
) -> str:
    return " ".join(f"{x(p.at):.1f},{y(p.value):.1f}" for p in series.points)


def line_chart(
    chart_id: str,
    series: Sequence[Series],
    *,
    title: str,
    description: str,
    y_range: tuple[float, float] | None = None,
    digits: int = 1,
) -> Markup:
    """An SVG line chart of `series` over time, labelled for screen readers.

    `chart_id` must be unique in the page: the title, description and dot
    markers are referenced by id.
    """
    points = [p for s in series for p in s.points]
    if not points:
        raise ValueError("a chart needs at least one point")
    if not chart_id.replace("-", "").isalnum():
        raise ValueError(f"chart id {chart_id!r} is not a plain identifier")
    t0, t1 = min(p.at for p in points), max(p.at for p in points)
    lo, hi = y_range or value_range([p.value for p in points])
    if hi <= lo:
        raise ValueError(f"empty value range {lo}..{hi}")
    x, y = time_scale(t0, t1), value_scale(lo, hi)
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" id="{chart_id}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        "<defs>",
        *(
            f'<marker id="{chart_id}-dot{i}" class="dot s{i}" viewBox="0 0 4 4" refX="2" '
            'refY="2" markerWidth="3" markerHeight="3"><circle cx="2" cy="2" r="2"/></marker>'
            for i in range(len(series))
        ),
        "</defs>",
        '<g class="grid">',
    ]
    for tick in (lo, (lo + hi) / 2, hi):
        ty = y(tick)
        parts.append(
            f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}"/>'
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">{tick:.{digits}f}</text>'
        )
    base = HEIGHT - BOTTOM + 18
    parts.append(
        f'<text x="{LEFT}" y="{base}">{t0.date().isoformat()}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{base}" text-anchor="end">{t1.date().isoformat()}</text>'
        "</g>"
    )
    for i, s in enumerate(series):
        dot = f"url(#{chart_id}-dot{i})"
        parts.append(
            f'<polyline class="series s{i}" data-series="{escape(s.key)}" '
            f'data-count="{len(s.points)}" points="{polyline_points(s, x, y)}" '
            f'marker-start="{dot}" marker-mid="{dot}" marker-end="{dot}"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
