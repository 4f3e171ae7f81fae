"""``extrapolation.png``: each output against the scale input, and predicted against actual.

Top: per output (or, with many groups, per group) the measured points by split
and the chosen and human laws' curves, both refit on all training rows. Middle:
predicted against actual, one panel per law. Bottom: a caption saying how the
picture was made. :func:`extrapolation_figure` returns the matplotlib Figure
(no pyplot, no global state) so tests can look inside; :func:`write_extrapolation`
saves it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sld.corpus import Task
from sld.plots._picture import HELDOUT, TRAIN, VALIDATION, ScalePicture, scale_picture
from sld.scoring import ScoreReport, parse_for_task, predict_rows

MAX_PANELS = 48  # small multiples beyond this show the first groups only (the caption says so)
# the chosen law in its group's colour; the human law dark and dashed, visible where they overlap
LAW_STYLES: dict[str, dict[str, Any]] = {
    "chosen": {"ls": "-", "lw": 1.6},
    "human": {"ls": "--", "lw": 1.1, "color": "0.15"},
}
TITLE_CHARS = 34  # small-multiple titles longer than this lose their middle
SPLIT_STYLES: dict[str, dict[str, Any]] = {
    TRAIN: {"marker": "o", "s": 14, "alpha": 0.75, "linewidths": 0},
    VALIDATION: {"marker": "s", "s": 24, "linewidths": 1.2},
    HELDOUT: {"marker": "D", "s": 34, "edgecolors": "black", "linewidths": 0.8, "zorder": 4},
}
SPLIT_LABELS = {
    TRAIN: "training rows (search fit)",
    VALIDATION: "validation slice (selection)",
    HELDOUT: "held-out rows (after selection)",
}


def group_colours(groups: Sequence[str]) -> dict[str, Any]:
    """A colour per group: tab10 up to 10 groups, else evenly spaced along a perceptual map."""
    from matplotlib import colormaps

    if len(groups) <= 10:
        cmap = colormaps["tab10"]
        return {g: cmap(i) for i, g in enumerate(groups)}
    cmap = colormaps["viridis"]
    return {g: cmap(i / max(1, len(groups) - 1)) for i, g in enumerate(groups)}


def _fits(task: Task, reports: Mapping[str, ScoreReport]) -> dict[str, Any]:
    """kind -> (law, per-group parameters) for every report whose fit succeeded."""
    return {
        kind: (parse_for_task(report.law, task), report.parameters)
        for kind, report in reports.items()
        if report.fit.ok and report.parameters
    }


def _panels(picture: ScalePicture) -> tuple[list[tuple[str, tuple[str, ...]]], int]:
    """(output, groups drawn) per panel, and how many groups small multiples left out."""
    if not picture.small_multiples:
        return [(output, picture.groups) for output in picture.outputs], 0
    per_output = max(1, MAX_PANELS // len(picture.outputs))
    shown = picture.groups[:per_output]
    return [(o, (g,)) for o in picture.outputs for g in shown], len(picture.groups) - len(shown)


def _draw_scale_panel(
    ax: Any,
    picture: ScalePicture,
    output: str,
    groups: tuple[str, ...],
    colours: Mapping[str, Any],
) -> None:
    wanted = set(groups)
    points = [p for p in picture.points if p.output == output and p.group in wanted]
    for p in points:
        style = dict(SPLIT_STYLES[p.split])
        colour = colours[p.group]
        if p.split == VALIDATION:
            style.update(facecolors="none", edgecolors=colour)
        else:
            style["color"] = colour
        ax.scatter(p.x, p.y, gid=f"points:{p.split}", **style)
    for c in picture.curves:
        if c.output == output and c.group in wanted:
            style = {"color": colours[c.group], **LAW_STYLES[c.law]}
            ax.plot(c.x, c.y, gid=f"curve:{c.law}", **style)
    train_x = [x for p in points if p.split != HELDOUT for x in p.x]
    if train_x:
        ax.axvline(max(train_x), color="0.55", ls=":", lw=0.9, gid="training-edge")
    ys = np.array([y for p in points for y in p.y if math.isfinite(y)])
    if len(ys):  # the points set the y range, so a curve that runs off cannot squash them
        low, high = float(ys.min()), float(ys.max())
        pad = 0.08 * (high - low) or 0.05 * max(abs(high), 1e-12)
        ax.set_ylim(low - pad, high + pad)
    if picture.log_x:
        _log_axis(ax, [x for p in points for x in p.x])
    ax.set_gid(f"scale:{output}:{groups[0] if len(groups) == 1 else '*'}")
    ax.grid(True, which="major", alpha=0.25)


def _log_axis(ax: Any, xs: Sequence[float]) -> None:
    """A log x axis; data within two decades between 1e-3 and 1e5 gets plain 1-2-5 tick labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    positive = [x for x in xs if x > 0 and math.isfinite(x)]
    if not positive:
        return
    low, high = min(positive), max(positive)
    if math.log10(high / low) < 2 and 1e-3 <= low and high < 1e5:
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())


def _short(name: str) -> str:
    if len(name) <= TITLE_CHARS:
        return name
    half = (TITLE_CHARS - 1) // 2
    return f"{name[:half]}…{name[-half:]}"


def _draw_predicted_panel(
    ax: Any, kind: str, report: ScoreReport, task: Task, colours: Mapping[str, Any]
) -> None:
    ax.set_gid(f"predicted-vs-actual:{kind}")
    r2 = report.metrics.r2 if report.metrics is not None else float("nan")
    ax.set_title(f"{kind} law: held-out R² {r2:.3f}" if math.isfinite(r2) else f"{kind} law")
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    if not (report.fit.ok and report.parameters):
        ax.text(0.5, 0.5, report.reason or "the fit failed", ha="center", transform=ax.transAxes)
        return
    from sld.fit import predict

    law = parse_for_task(report.law, task)
    with np.errstate(all="ignore"):
        predicted, actual = predict_rows(law, report.fit, task.train())
        ax.scatter(actual.ravel(), predicted.ravel(), s=10, color="0.65", gid="points:train")
        heldout = task.heldout()
        seen = [actual.ravel(), predicted.ravel()]
        for group, x, y in zip(heldout.groups, heldout.X, heldout.y, strict=True):
            params = report.parameters.get(group)
            if len(x) == 0 or params is None:
                continue
            guess = np.asarray(predict(law, params, x), dtype=np.float64).reshape(y.shape)
            seen += [y.ravel(), guess.ravel()]
            ax.scatter(
                y.ravel(),
                guess.ravel(),
                color=colours[group],
                gid="points:heldout",
                **SPLIT_STYLES[HELDOUT],
            )
    values = np.concatenate(seen)
    values = values[np.isfinite(values)]
    if len(values):
        lo, hi = float(values.min()), float(values.max())
        ax.plot([lo, hi], [lo, hi], color="black", ls=":", lw=0.8)
    ax.grid(True, alpha=0.25)


def _key(
    picture: ScalePicture, kinds: Sequence[str], colours: Mapping[str, Any], panel_groups: int
) -> list[Any]:
    """Legend handles: the splits, the laws drawn, the training edge and (few groups) the groups."""
    from matplotlib.lines import Line2D

    handles: list[Any] = []
    for split in (TRAIN, VALIDATION, HELDOUT) if picture.heldout else (TRAIN, VALIDATION):
        style = SPLIT_STYLES[split]
        filled = split != VALIDATION
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker=style["marker"],
                color="0.35",
                markerfacecolor="0.35" if filled else "none",
                markeredgecolor="black" if split == HELDOUT else "0.35",
                label=SPLIT_LABELS[split],
            )
        )
    for kind in kinds:
        handles.append(Line2D([], [], label=f"{kind} law", **{"color": "0.2", **LAW_STYLES[kind]}))
    handles.append(Line2D([], [], color="0.55", ls=":", label="largest training scale"))
    if panel_groups > 1:
        handles += [
            Line2D([], [], ls="", marker="s", color=colours[g], label=g) for g in picture.groups
        ]
    return handles


def extrapolation_figure(task: Task, reports: Mapping[str, ScoreReport]) -> Any:
    """The figure ``extrapolation.png`` shows, from held-out reports (kind -> ScoreReport)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullLocator

    picture = scale_picture(task, _fits(task, reports), heldout=True)
    panels, left_out = _panels(picture)
    colours = group_colours(picture.groups)
    small = picture.small_multiples
    ncols = min(len(panels), 7 if small else 3)
    nrows = math.ceil(len(panels) / ncols)
    panel_w, panel_h = (2.3, 1.9) if small else (4.6, 3.4)
    width = max(ncols * panel_w, 5.0 * max(1, len(reports)), 9.0)
    caption_h = 0.6
    fig = Figure(figsize=(width, nrows * panel_h + 1.0 + 3.4 + caption_h), layout="constrained")
    rows = fig.subfigures(
        3, 1, height_ratios=[nrows * panel_h + 1.0, 3.4, caption_h], squeeze=False
    )
    top, bottom, foot = rows.ravel()
    # small multiples share x: groups are read side by side, and 42 log axes tick once
    axes = top.subplots(nrows, ncols, squeeze=False, sharex=small)
    for ax, (output, groups) in zip(axes.ravel(), panels, strict=False):
        _draw_scale_panel(ax, picture, output, groups, colours)
        if small:
            ax.set_title(_short(groups[0]), fontsize=7)
            ax.tick_params(which="both", labelsize=7)
            ax.xaxis.set_minor_locator(NullLocator())  # halves drawing 42 log axes
        else:
            ax.set_ylabel(output)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    if small and nrows > 1:  # a panel above an empty slot labels its own x axis
        for ax in axes[-2, len(panels) - (nrows - 1) * ncols :]:
            ax.xaxis.set_tick_params(which="both", labelbottom=True)
    top.supxlabel(f"{picture.x_label}{' (log scale)' if picture.log_x else ''}")
    if small:
        top.supylabel(", ".join(picture.outputs))
    kinds = sorted({c.law for c in picture.curves}, key=list(LAW_STYLES).index)
    top.legend(
        handles=_key(picture, kinds, colours, 1 if small else len(picture.groups)),
        loc="outside right upper",
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(f"{task.name}: output against {picture.x_input}, per group")
    if reports:
        pva = bottom.subplots(1, len(reports), squeeze=False)[0]
        for ax, (kind, report) in zip(pva, reports.items(), strict=True):
            _draw_predicted_panel(ax, kind, report, task, colours)
    caption = picture.caption()
    if left_out:
        caption += (
            f" {len(picture.groups)} groups: the first {len(picture.groups) - left_out} shown."
        )
    elif small:
        caption += f" {len(picture.groups)} groups: one panel each."
    foot.text(0.01, 0.95, caption, va="top", ha="left", fontsize=8, wrap=True)
    return fig


def write_extrapolation(task: Task, reports: Mapping[str, ScoreReport], path: Path) -> Path:
    """Draw :func:`extrapolation_figure` and save it as a PNG at ``path``."""
    fig = extrapolation_figure(task, reports)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
