"""A dependency-free text plot: points as characters, lines as braille dots, axes labelled at the ends.

Pure: ``scatter`` turns series of (x, y) points into a ``rich.text.Text`` of
exactly ``height`` lines of ``width`` cells, so widgets only choose the size.
Lines are drawn at braille resolution (2 x 4 dots per cell) under the markers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

Y_MARGIN = 9  # cells for the y tick labels and the axis line
BRAILLE = 0x2800
# bit of the braille dot at (column, row) inside one cell: 2 columns x 4 rows
DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
DASH = (4, 3)  # a dashed line: dots drawn, dots skipped along its length


@dataclass(frozen=True)
class Series:
    """Points drawn with one ``marker`` in one rich ``style``; later series draw on top.

    ``line``: join the points (in order) with braille dots instead of marking them,
    ``dashed`` if asked; lines sit under every marker and are clipped to the y range
    the markers set (so a curve running off cannot squash the data).
    """

    label: str
    points: Sequence[tuple[float, float]]
    marker: str = "•"
    style: str = ""
    line: bool = False
    dashed: bool = False


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

    def dot(self, value: float, per_cell: int) -> float:
        """Position in dots (``per_cell`` per cell) from the low end; may fall outside the axis."""
        t = (self.transform(value) - self.low) / (self.high - self.low)
        return t * (self.cells * per_cell - 1)

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


def _line_dots(
    s: Series, x_axis: _Axis, y_axis: _Axis, log_x: bool, log_y: bool
) -> dict[tuple[int, int], int]:
    """Braille bits per (row from the bottom, column) cell for one line series, clipped to the axes."""
    out: dict[tuple[int, int], int] = {}
    width, height = x_axis.cells * 2, y_axis.cells * 4
    step = 0
    previous: tuple[float, float] | None = None
    for x, y in s.points:
        if not (_usable(x, log_x) and _usable(y, log_y)):
            previous = None  # a gap in the curve (outside the law's domain)
            continue
        here = (x_axis.dot(x, 2), y_axis.dot(y, 4))
        start = previous or here
        n = max(1, math.ceil(max(abs(here[0] - start[0]), abs(here[1] - start[1]))))
        for i in range(1, n + 1) if previous else range(1):
            dx = round(start[0] + (here[0] - start[0]) * i / n)
            dy = round(start[1] + (here[1] - start[1]) * i / n)
            step += 1
            if s.dashed and step % sum(DASH) >= DASH[0]:
                continue
            if 0 <= dx < width and 0 <= dy < height:
                cell = (dy // 4, dx // 2)
                out[cell] = out.get(cell, 0) | DOT_BITS[dx % 2][3 - dy % 4]
        previous = here
    return out


def tick(value: float) -> str:
    """A short tick label: 3 significant digits, exponent form outside 1e-3..1e5."""
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        short = f"{value:.3g}"
        return f"{value:.0f}" if "e" in short else short  # 1000, not 1e+03
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
    ``y_label`` (if any); ``Y_MARGIN`` cells on the left hold the y ticks. With
    ``diagonal`` both axes share one range and the line y = x is drawn faintly
    (predicted vs actual). Non-finite points, and non-positive ones on a log axis,
    are left out. The x range covers every series, the y range the marker series
    (every series when all are lines).
    """
    width, height = max(width, Y_MARGIN + 8), max(height, 6)
    usable = [
        (s, x, y) for s in series for x, y in s.points if _usable(x, log_x) and _usable(y, log_y)
    ]
    markers = [(s, x, y) for s, x, y in usable if not s.line] or usable
    xs = [x for _, x, _ in usable]
    ys = [y for _, _, y in markers]
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
    dots: dict[tuple[int, int], int] = {}
    dot_style: dict[tuple[int, int], str] = {}
    for s in series:
        if s.line:
            for (row, col), bits in _line_dots(s, x_axis, y_axis, log_x, log_y).items():
                dots[row, col] = dots.get((row, col), 0) | bits
                dot_style[row, col] = s.style
    for (row, col), bits in dots.items():
        grid[plot_h - 1 - row][col] = (chr(BRAILLE + bits), dot_style[row, col])
    for s in series:
        if s.line:
            continue
        for x, y in s.points:
            if _usable(x, log_x) and _usable(y, log_y):
                grid[plot_h - 1 - y_axis.cell(y)][x_axis.cell(x)] = (s.marker, s.style)

    caption = f"{x_label}{' (log)' if log_x else ''}"
    ticks = _log_ticks(x_axis) if log_x else None
    if ticks is None:
        left, right = tick(x_axis.value(0)), tick(x_axis.value(plot_w - 1))
        gap = plot_w - len(left) - len(right)
        middle = caption.center(gap) if gap >= len(caption) + 2 else " " * max(gap, 1)
        axis_line, tick_line, top_caption = "─" * plot_w, left + middle + right, ""
    else:
        axis_line, tick_line, top_caption = _tick_lines(ticks, plot_w, caption)

    text = Text(no_wrap=True, overflow="crop")
    if y_label:
        head = f"{y_label}{' (log)' if log_y else ''}"
        room = width - len(head) - len(top_caption)
        text.append(
            f"{head}{' ' * room + top_caption if top_caption and room >= 2 else ''}\n", style="dim"
        )
    labels = {0: tick(y_axis.value(plot_h - 1)), plot_h - 1: tick(y_axis.value(0))}
    if plot_h >= 7:
        labels[(plot_h - 1) // 2] = tick(y_axis.value(plot_h - 1 - (plot_h - 1) // 2))
    for r, cells in enumerate(grid):
        text.append(f"{labels.get(r, ''):>{Y_MARGIN - 2}} ┤", style="dim")
        for char, style in cells:
            text.append(char, style=style)
        text.append("\n")
    text.append(" " * (Y_MARGIN - 2) + " └" + axis_line + "\n", style="dim")
    text.append(" " * Y_MARGIN + tick_line, style="dim")
    return text


def _log_ticks(axis: _Axis) -> list[tuple[int, str]] | None:
    """(cell, label) of round values on a log axis: 1-2-5 per decade, else every n-th decade.

    The densest choice whose labels fit side by side with 2 cells between them, with
    at least two ticks; None when none fits (the caller labels the ends instead).
    """
    first, last = math.ceil(axis.low - 1e-9), math.floor(axis.high + 1e-9)
    candidates: list[list[float]] = [
        [m * 10.0**k for k in range(first - 1, last + 1) for m in (1.0, 2.0, 5.0)]
    ]
    candidates += [[10.0**k for k in range(first, last + 1) if k % n == 0] for n in (1, 2, 3, 5)]
    for values in candidates:
        inside = [v for v in values if axis.low - 1e-9 <= math.log10(v) <= axis.high + 1e-9]
        if len(inside) < 2:
            continue
        placed = [(axis.cell(v), tick(v)) for v in inside]
        starts = [_label_start(cell, label, axis.cells) for cell, label in placed]
        if all(starts[i] + len(placed[i][1]) + 2 <= starts[i + 1] for i in range(len(placed) - 1)):
            return placed
    return None


def _label_start(cell: int, label: str, cells: int) -> int:
    return min(max(0, cell - len(label) // 2), max(0, cells - len(label)))


def _tick_lines(ticks: list[tuple[int, str]], width: int, caption: str) -> tuple[str, str, str]:
    """(axis line with tick marks, tick labels with the caption in the widest gap, caption left over)."""
    axis = ["─"] * width
    labels = [" "] * width
    for cell, label in ticks:
        axis[cell] = "┬"
        start = _label_start(cell, label, width)
        labels[start : start + len(label)] = list(label)
    line = "".join(labels)
    gaps = [(m.end() - m.start(), m.start()) for m in re.finditer(r" +", line)]
    size, start = max(gaps, default=(0, 0))
    if size >= len(caption) + 2:
        inner = start + (size - len(caption)) // 2
        return "".join(axis), line[:inner] + caption + line[inner + len(caption) :], ""
    return "".join(axis), line, caption
