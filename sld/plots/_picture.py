"""The output-against-scale picture as plain data: measured points and fitted curves per group.

One picture, two painters: the report's ``extrapolation.png`` (matplotlib) and
the TUI's extrapolation pane (text). Points are data, not predictions: the
search-fit rows, the validation slice and (only when asked: after selection)
the held-out rows. Curves are laws evaluated on a grid of the scale input,
with every other input held at values taken from the held-out rows (or the
validation slice when held-out rows are not to be shown).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sld.corpus import Split, Task
from sld.law import Law

TRAIN, VALIDATION, HELDOUT = "train", "validation", "heldout"
EXTEND = 3.0  # a log-scale curve runs to EXTEND x the largest held-out scale
LINEAR_EXTEND = 0.25  # a linear one runs this fraction of its group's span past it
CURVE_BUDGET = 12  # curves of one law in one panel before combinations give way to medians
SMALL_MULTIPLES_ABOVE = 6  # more groups than this: one panel per group
SAMPLES = 200  # grid points per curve


def scale_input(task: Task) -> str:
    """The input on the x axis: the validation scale, else the first log-scale input, else the first."""
    if task.validation_scale is not None:
        return task.validation_scale
    return next((name for name in task.inputs if task.log_scale.get(name)), task.inputs[0])


@dataclass(frozen=True)
class Points:
    """Measured rows of one split in one group: scale input ``x`` against one output ``y``."""

    split: str
    group: str
    output: str
    x: tuple[float, ...]
    y: tuple[float, ...]


@dataclass(frozen=True)
class Curve:
    """One law's prediction in one group along the scale input, other inputs held at ``at``."""

    law: str
    group: str
    output: str
    at: tuple[tuple[str, float], ...]
    x: tuple[float, ...]
    y: tuple[float, ...]


@dataclass(frozen=True)
class ScalePicture:
    """Everything both painters draw; ``curves_at`` says how the other inputs were chosen.

    ``curves_at``: ``"single input"`` (nothing to choose), ``"combinations"`` (one curve
    per distinct combination of the other inputs among a group's anchor rows) or
    ``"median"`` (one curve per group at the anchor rows' median, geometric for
    log-scale inputs). Anchor rows are the held-out rows when ``heldout`` is set, else
    the validation slice. ``small_multiples``: one panel per group instead of one per output.
    """

    task: str
    x_input: str
    x_label: str
    log_x: bool
    outputs: tuple[str, ...]
    groups: tuple[str, ...]
    other_inputs: tuple[str, ...]
    points: tuple[Points, ...]
    curves: tuple[Curve, ...]
    curves_at: str
    heldout: bool
    small_multiples: bool
    notes: tuple[str, ...] = ()

    def caption(self) -> str:
        """Plain sentences saying what is drawn, for a figure caption or a TUI footnote."""
        anchor = "held-out rows" if self.heldout else "validation slice"
        extent = (
            f"to {EXTEND:g}x the largest {self.x_input} among the {anchor}"
            if self.log_x
            else f"{LINEAR_EXTEND:.0%} of each group's range past the largest {self.x_input} "
            f"among the {anchor}"
        )
        parts = [f"Curves run {extent}."]
        others = ", ".join(self.other_inputs)
        if self.curves_at == "combinations":
            parts.append(
                f"Other inputs ({others}): one curve per distinct combination among "
                f"each group's {anchor}; points at other values sit off the curves."
            )
        elif self.curves_at == "median":
            parts.append(
                f"Other inputs ({others}): too many combinations among the {anchor}, so one "
                "curve per group at their median (geometric for log-scale inputs); "
                "points at other values sit off the curve."
            )
        parts.extend(self.notes)
        return " ".join(parts)


def _x_label(task: Task, name: str) -> str:
    alias = next((a for a, n in task.aliases.items() if n == name), None)
    return f"{name} ({alias})" if alias else name


def _anchor_rows(task: Task, *, heldout: bool) -> Split:
    return task.heldout() if heldout else task.validation()


def _centre(values: np.ndarray, *, log: bool) -> float:
    """Median; in log space for log-scale inputs (the geometric median of two middle values)."""
    if log and np.all(values > 0):
        return float(10.0 ** np.median(np.log10(values)))
    return float(np.median(values))


def _anchors(
    task: Task, x: np.ndarray, others: list[int], *, median: bool
) -> list[tuple[float, ...]]:
    """Values of the other inputs to draw curves at, from one group's anchor rows ``x``."""
    if not others or len(x) == 0:
        return [()]
    if median:
        return [
            tuple(_centre(x[:, j], log=task.log_scale.get(task.inputs[j], False)) for j in others)
        ]
    return sorted({tuple(float(v) for v in row) for row in x[:, others]})


def _grid(xs: np.ndarray, anchor_x: np.ndarray, *, log: bool) -> np.ndarray:
    """Scale values for a curve: from the group's smallest x past its largest anchor x."""
    low = float(xs.min())
    top = float(anchor_x.max()) if len(anchor_x) else float(xs.max())
    if log:
        return np.geomspace(low, max(EXTEND * top, float(xs.max())), SAMPLES)
    span = float(xs.max() - xs.min()) or max(abs(top), 1.0)
    return np.linspace(low, max(top + LINEAR_EXTEND * span, float(xs.max())), SAMPLES)


def scale_picture(
    task: Task,
    laws: Mapping[str, tuple[Law, Mapping[str, Mapping[str, float]]]],
    *,
    heldout: bool,
    one_panel: bool = False,
    curve_budget: int = CURVE_BUDGET,
) -> ScalePicture:
    """Points and curves of ``laws`` (kind -> (law, per-group parameters)) against the scale input.

    ``heldout``: show the held-out rows and anchor curves on them (only after
    selection); otherwise curves are anchored on the validation slice. With more
    than :data:`SMALL_MULTIPLES_ABOVE` groups (and not ``one_panel``) each group
    gets its own panel, so each panel's ``curve_budget`` (curves of one law) is spent
    on one group; when any group has more combinations than its share, every group
    gets one curve at the median.
    """
    from sld.fit import predict

    x_input = scale_input(task)
    xi = task.inputs.index(x_input)
    others = [j for j in range(len(task.inputs)) if j != xi]
    log_x = bool(task.log_scale.get(x_input, False))
    small_multiples = not one_panel and len(task.groups) > SMALL_MULTIPLES_ABOVE
    splits = [(TRAIN, task.search_train()), (VALIDATION, task.validation())]
    if heldout:
        splits.append((HELDOUT, task.heldout()))
    points = [
        Points(
            split=name,
            group=group,
            output=output,
            x=tuple(float(v) for v in x[:, xi]),
            y=tuple(float(v) for v in y[:, k]),
        )
        for name, rows in splits
        for group, x, y in zip(rows.groups, rows.X, rows.y, strict=True)
        if len(x)
        for k, output in enumerate(task.outputs)
    ]
    anchor_rows = _anchor_rows(task, heldout=heldout)
    per_group = max(1, curve_budget // (1 if small_multiples else len(task.groups)))
    most = max(len(_anchors(task, x, others, median=False)) for x in anchor_rows.X)
    median = bool(others) and most > per_group
    curves_at = "single input" if not others else "median" if median else "combinations"
    train = task.train()
    curves: list[Curve] = []
    notes: list[str] = []
    for kind, (law, parameters) in laws.items():
        missing = [g for g in task.groups if g not in parameters]
        if missing:
            notes.append(f"{kind} law: no fit for {len(missing)} group(s), not drawn there.")
        for g, group in enumerate(task.groups):
            params = parameters.get(group)
            if params is None or not all(math.isfinite(v) for v in params.values()):
                continue
            anchor_x = anchor_rows.X[g]
            if len(anchor_x) == 0:  # a group without anchor rows: its training rows
                anchor_x = train.X[g]
            xs = np.concatenate([train.X[g][:, xi], anchor_rows.X[g][:, xi]])
            grid = _grid(xs, anchor_x[:, xi], log=log_x)
            for at in _anchors(task, anchor_x, others, median=median):
                X = np.empty((len(grid), len(task.inputs)))
                X[:, xi] = grid
                for j, value in zip(others, at, strict=True):
                    X[:, j] = value
                with np.errstate(all="ignore"):
                    y = np.asarray(predict(law, dict(params), X), dtype=np.float64)
                y = y.reshape(len(grid), len(task.outputs))
                for k, output in enumerate(task.outputs):
                    curves.append(
                        Curve(
                            law=kind,
                            group=group,
                            output=output,
                            at=tuple((task.inputs[j], v) for j, v in zip(others, at, strict=True)),
                            x=tuple(float(v) for v in grid),
                            y=tuple(float(v) for v in y[:, k]),
                        )
                    )
    return ScalePicture(
        task=task.name,
        x_input=x_input,
        x_label=_x_label(task, x_input),
        log_x=log_x,
        outputs=task.outputs,
        groups=task.groups,
        other_inputs=tuple(task.inputs[j] for j in others),
        points=tuple(points),
        curves=tuple(curves),
        curves_at=curves_at,
        heldout=heldout,
        small_multiples=small_multiples,
        notes=tuple(notes),
    )
