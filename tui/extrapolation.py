"""The selected law against the scale input, per group: the TUI's copy of extrapolation.png.

The picture comes from :func:`sld.plots.scale_picture`, so the pane and the
report's PNG agree on the x input, the point sets and where curves are placed.
Before held-out scoring the law's search fit is drawn (fitted on training rows
minus the validation slice) over the training and validation rows. Once a
held-out report exists for the law (the run's reporting path after selection, or
``h``) its refit on all training rows is drawn instead, with the held-out rows
and, when the run scored it, the human law's refit (dashed).

A terminal holds fewer curves than a PNG, so other inputs sit at one median per
group unless the groups' combinations fit :data:`CURVE_BUDGET`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sld.corpus import Task
from sld.law import Law
from sld.plots import HELDOUT, TRAIN, VALIDATION, ScalePicture, scale_picture
from sld.tui.plot import Series

HELDOUT_LABEL = "held-out (not used by selection)"
SPLIT_MARKERS = {TRAIN: "•", VALIDATION: "○", HELDOUT: "◆"}
SPLIT_LABELS = {TRAIN: "train", VALIDATION: "validation", HELDOUT: HELDOUT_LABEL}
SELECTED, HUMAN = "selected", "human"
CURVE_BUDGET = 4  # curves of one law in the pane before medians take over
GROUP_STYLES = (
    "cyan",
    "magenta",
    "green",
    "yellow",
    "blue",
    "red",
    "bright_cyan",
    "bright_magenta",
)


def law_picture(
    law: Law,
    task: Task,
    *,
    search_parameters: Mapping[str, Mapping[str, float]],
    heldout_parameters: Mapping[str, Mapping[str, float]] | None = None,
    human: tuple[Law, Mapping[str, Mapping[str, float]]] | None = None,
) -> ScalePicture:
    """The pane's picture of one law; held-out rows and the human law only with ``heldout_parameters``."""
    after_selection = heldout_parameters is not None
    laws = {SELECTED: (law, heldout_parameters if after_selection else search_parameters)}
    if after_selection and human is not None:
        laws[HUMAN] = human
    return scale_picture(
        task, laws, heldout=after_selection, one_panel=True, curve_budget=CURVE_BUDGET
    )


@dataclass(frozen=True)
class Panel:
    """What the pane shows at once: one output, all groups or one."""

    output: str
    groups: tuple[str, ...]

    def title(self, picture: ScalePicture) -> str:
        groups = (
            f"all {len(self.groups)} groups" if len(self.groups) > 1 else f"group {self.groups[0]}"
        )
        return f"{self.output} · {groups}" if len(picture.outputs) > 1 else groups


def panels(picture: ScalePicture) -> list[Panel]:
    """Every output with all groups, then (several groups) each output one group at a time."""
    out = [Panel(o, picture.groups) for o in picture.outputs]
    if len(picture.groups) > 1:
        out += [Panel(o, (g,)) for o in picture.outputs for g in picture.groups]
    return out


def group_style(task_groups: tuple[str, ...], group: str) -> str:
    """A stable colour per group."""
    index = task_groups.index(group) if group in task_groups else 0
    return GROUP_STYLES[index % len(GROUP_STYLES)]


def panel_series(picture: ScalePicture, panel: Panel) -> list[Series]:
    """Curves first (braille lines, the human law dashed and dim), then points by split."""
    wanted = set(panel.groups)
    series = [
        Series(
            f"{c.law} {c.group}",
            list(zip(c.x, c.y, strict=True)),
            style="grey70" if c.law == HUMAN else group_style(picture.groups, c.group),
            line=True,
            dashed=c.law == HUMAN,
        )
        for c in picture.curves
        if c.output == panel.output and c.group in wanted
    ]
    series += [
        Series(
            f"{p.split} {p.group}",
            list(zip(p.x, p.y, strict=True)),
            SPLIT_MARKERS[p.split],
            group_style(picture.groups, p.group) + (" bold" if p.split == HELDOUT else ""),
        )
        for p in picture.points
        if p.output == panel.output and p.group in wanted
    ]
    return series


def short_note(picture: ScalePicture) -> str:
    """One line on where the curves are and what they were fitted on."""
    fit = (
        "refit on all training rows, scored after selection"
        if picture.heldout
        else "search fit; held-out rows appear after the run's held-out scoring, or press h"
    )
    anchor = "held-out" if picture.heldout else "validation"
    where = {
        "combinations": f", one curve per {anchor} value of {', '.join(picture.other_inputs)}",
        "median": f", {', '.join(picture.other_inputs)} at the {anchor} median",
    }.get(picture.curves_at, "")
    return f"curves: {fit}{where}"
