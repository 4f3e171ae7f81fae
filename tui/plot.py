"""A dependency-free text scatter plot: points as characters on a grid, axes labelled at the ends.

Pure: ``scatter`` turns series of (x, y) points into a ``rich.text.Text`` of
exactly ``height`` lines of ``width`` cells, so widgets only choose the size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

Y_MARGIN = 9  # cells for the y tick labels and the axis line


@dataclass(frozen=True)
class Series:
    """Points drawn with one ``marker`` in one rich ``style``; later series draw on top."""

    label: str
    points: Sequence[tuple[float, float]]
    marker: str = "•"
    style: str = ""


@dataclass(frozen=True)
class _Axis:
    """Maps data values to cells; ``log`` axes map log10 of the value."""

    low: float
    high: float
    cells: int
    log: bool

    def transform(self, value: float) -> float:
        return math.log10(value) if self.log else value

    def cell(self, value: float) -> int:
        t = (self.transform(value) - self.low) / (self.high - self.low)
        return min(self.cells - 1, max(0, round(t * (self.cells - 1))))

    def value(self, cell: int) -> float:
        t = self.low + (self.high - self.low) * cell / max(1, self.cells - 1)
        return 10.0**t if self.log else t


def _usable(value: float, log: bool) -> bool:
    return math.isfinite(value) and (value > 0 or not log)


def _range(values: list[float], log: bool) -> tuple[float, float]:
    """(low, high) in transformed units with a 4 % margin, widened when all values coincide."""
    t = [math.log10(v) if log else v for v in values] or [0.0, 1.0]
    low, high = min(t), max(t)
    if high - low < 1e-12:
        pad = 0.5 if log else max(abs(low) * 0.05, 0.5)
        return low - pad, high + pad
    margin = 0.04 * (high - low)
    return low - margin, high + margin


def tick(value: float) -> str:
    """A short tick label: 3 significant digits, exponent form outside 1e-3..1e5."""
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.3g}"
    return f"{value:.2e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def scatter(
    series: Sequence[Series],
    *,
    width: int,
    height: int,
    log_x: bool = False,
    log_y: bool = False,
    diagonal: bool = False,
    x_label: str = "",
    y_label: str = "",
) -> Text:
    """The series as a ``height``-line text plot ``width`` cells wide.

    Two lines at the bottom hold the x axis and its labels, one at the top the
    ``y_label`` (if any); ``Y_MARGIN`` cells on the left hold the y ticks. With ``diagonal`` both axes share one range and
    the line y = x is drawn faintly (predicted vs actual). Non-finite points, and
    non-positive ones on a log axis, are left out.
    """
    width, height = max(width, Y_MARGIN + 8), max(height, 6)
    xs = [x for s in series for x, y in s.points if _usable(x, log_x) and _usable(y, log_y)]
    ys = [y for s in series for x, y in s.points if _usable(x, log_x) and _usable(y, log_y)]
    x_range, y_range = _range(xs, log_x), _range(ys, log_y)
    if diagonal:
        both = (min(x_range[0], y_range[0]), max(x_range[1], y_range[1]))
        x_range = y_range = both
    plot_w, plot_h = width - Y_MARGIN, height - (3 if y_label else 2)
    x_axis = _Axis(*x_range, cells=plot_w, log=log_x)
    y_axis = _Axis(*y_range, cells=plot_h, log=log_y)

    grid: list[list[tuple[str, str]]] = [[(" ", "")] * plot_w for _ in range(plot_h)]
    if diagonal:
        for col in range(plot_w):
            row = y_axis.cell(x_axis.value(col))
            grid[plot_h - 1 - row][col] = ("·", "dim")
    for s in series:
        for x, y in s.points:
            if _usable(x, log_x) and _usable(y, log_y):
                grid[plot_h - 1 - y_axis.cell(y)][x_axis.cell(x)] = (s.marker, s.style)

    text = Text(no_wrap=True, overflow="crop")
    if y_label:
        text.append(f"{y_label}{' (log)' if log_y else ''}\n", style="dim")
    labels = {0: tick(y_axis.value(plot_h - 1)), plot_h - 1: tick(y_axis.value(0))}
    if plot_h >= 7:
        labels[(plot_h - 1) // 2] = tick(y_axis.value(plot_h - 1 - (plot_h - 1) // 2))
    for r, cells in enumerate(grid):
        text.append(f"{labels.get(r, ''):>{Y_MARGIN - 2}} ┤", style="dim")
        for char, style in cells:
            text.append(char, style=style)
        text.append("\n")
    text.append(" " * (Y_MARGIN - 2) + " └" + "─" * plot_w + "\n", style="dim")
    left, right = tick(x_axis.value(0)), tick(x_axis.value(plot_w - 1))
    caption = f"{x_label}{' (log)' if log_x else ''}"
    gap = plot_w - len(left) - len(right)
    middle = caption.center(gap) if gap >= len(caption) + 2 else " " * max(gap, 1)
    text.append(" " * Y_MARGIN + left + middle + right, style="dim")
    return text
