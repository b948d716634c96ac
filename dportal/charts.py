"""Geometry of the portal's charts, drawn by the templates as inline SVG (no script, no chart
library): series in, rectangles, axis ticks and labels with their coordinates out. Pure and
unit-tested; the data comes from marketplace.licensing.selectors."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

# Room around the plot for the tick values (left) and the category labels (bottom).
LEFT, TOP, RIGHT, BOTTOM = 36.0, 8.0, 8.0, 24.0
MAX_LABELS = 8


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    category: str
    series: str  # also the CSS class that colours the bar


@dataclass(frozen=True)
class Tick:
    value: int
    position: float  # y of the line in a column chart, x in a bar chart


@dataclass(frozen=True)
class Label:
    text: str
    x: float
    y: float


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    plot_left: float
    plot_top: float
    plot_right: float
    plot_bottom: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    labels: tuple[Label, ...]
    series: tuple[str, ...]
    tracks: tuple[Bar, ...] = ()  # bar charts: the full capacity behind each bar
    empty: bool = False
    horizontal: bool = False  # bar chart: ticks are x positions, labels sit left of the bars


def nice_ticks(maximum: int, count: int = 4) -> list[int]:
    """Evenly spaced whole tick values from 0 covering `maximum`, steps of 1, 2 or 5 times a power of ten."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    top = -(-maximum // step) * step
    return list(range(0, top + 1, step))


def label_step(count: int, most: int = MAX_LABELS) -> int:
    """Label every n-th category so at most `most` labels share the axis."""
    return max(1, -(-count // most))


def column_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[int]],
    *,
    width: float = 320.0,
    height: float = 170.0,
) -> Chart:
    """Vertical bars, one group per category and one bar per series in each group (values >= 0)."""
    names = tuple(series)
    for name, values in series.items():
        if len(values) != len(categories):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(categories)} categories")
        if any(v < 0 for v in values):
            raise ValueError(f"series {name!r} has a negative value")
    left, top, right, bottom = LEFT, TOP, width - RIGHT, height - BOTTOM
    maximum = max((v for values in series.values() for v in values), default=0)
    ticks = nice_ticks(maximum)
    scale = (bottom - top) / ticks[-1]
    slot = (right - left) / max(1, len(categories))
    gap = min(4.0, slot * 0.2)
    bar_width = (slot - gap) / max(1, len(names))
    bars = []
    for i, category in enumerate(categories):
        for j, name in enumerate(names):
            value = int(series[name][i])
            h = value * scale
            bars.append(Bar(left + i * slot + gap / 2 + j * bar_width, bottom - h, bar_width, h, value, category, name))
    step = label_step(len(categories))
    labels = tuple(
        Label(category, left + i * slot + slot / 2, height - 6)
        for i, category in enumerate(categories)
        if i % step == 0
    )
    return Chart(
        width=width,
        height=height,
        plot_left=left,
        plot_top=top,
        plot_right=right,
        plot_bottom=bottom,
        bars=tuple(bars),
        ticks=tuple(Tick(t, bottom - t * scale) for t in ticks),
        labels=labels,
        series=names,
        empty=maximum == 0,
    )


def bar_chart(
    rows: Sequence[tuple[str, int, int | None]],
    *,
    width: float = 320.0,
    row_height: float = 22.0,
    label_width: float = 72.0,
) -> Chart:
    """Horizontal bars, one row per (label, value, capacity); a capacity (None: unlimited) is drawn
    as a track behind the bar, so "2 of 5 seats" reads at a glance."""
    if any(value < 0 or (cap is not None and cap < 0) for _, value, cap in rows):
        raise ValueError("values and capacities must not be negative")
    left, top, right = label_width, TOP, width - RIGHT
    bottom = top + row_height * len(rows)
    height = bottom + BOTTOM
    maximum = max((max(value, cap or 0) for _, value, cap in rows), default=0)
    ticks = nice_ticks(maximum)
    scale = (right - left) / ticks[-1]
    thickness = row_height * 0.7
    bars, tracks, labels = [], [], []
    for i, (label, value, capacity) in enumerate(rows):
        y = top + i * row_height + (row_height - thickness) / 2
        bars.append(Bar(left, y, value * scale, thickness, value, label, "used"))
        if capacity:
            tracks.append(Bar(left, y, capacity * scale, thickness, capacity, label, "capacity"))
        labels.append(Label(label, left - 6, y + thickness * 0.75))
    return Chart(
        width=width,
        height=height,
        plot_left=left,
        plot_top=top,
        plot_right=right,
        plot_bottom=bottom,
        bars=tuple(bars),
        ticks=tuple(Tick(t, left + t * scale) for t in ticks),
        labels=tuple(labels),
        series=("used",),
        tracks=tuple(tracks),
        empty=not rows,
        horizontal=True,
    )


# --- the portal's three charts, from the series marketplace.licensing.selectors gives ---


def sales_chart(rows: Sequence[tuple[date, int]]) -> Chart:
    """Licences issued per day."""
    return column_chart([f"{d:%m-%d}" for d, _ in rows], {"sales": [n for _, n in rows]})


def instances_chart(rows: Sequence[tuple[date, int, int]]) -> Chart:
    """Instances started and terminated per day, side by side."""
    return column_chart(
        [f"{d:%m-%d}" for d, _, _ in rows],
        {"started": [s for _, s, _ in rows], "terminated": [t for _, _, t in rows]},
    )


def seats_chart(rows: Sequence[tuple[int, int, int]]) -> Chart:
    """Seats in use of each licence against its seats (0 seats: unlimited, no track)."""
    return bar_chart([(short_id(licence_id), used, seats or None) for licence_id, used, seats in rows])


def short_id(number: int, keep: int = 6) -> str:
    """A licence id short enough for an axis label: "#12", or "#…015005" for a long one."""
    text = str(number)
    return f"#{text}" if len(text) <= keep + 1 else f"#…{text[-keep:]}"
