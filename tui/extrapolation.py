"""Predicted vs actual for one law, per group: search-fit rows, the validation slice, held-out rows.

Training and validation points use the law's search fit (the one selection saw:
fitted on training rows minus the validation slice). Held-out points appear only
when a held-out report exists for the law: written by the reporting path after
selection, or asked for in the app. They use that report's refit on all training
rows, and are labelled as not used by selection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sld.corpus import Split, Task
from sld.law import Law

HELDOUT_LABEL = "held-out (not used by selection)"
SPLIT_MARKERS = {"train": "·", "validation": "○", HELDOUT_LABEL: "◆"}
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


@dataclass(frozen=True)
class Points:
    """Actual and predicted values of one split in one group (all outputs flattened)."""

    split: str
    group: str
    actual: tuple[float, ...]
    predicted: tuple[float, ...]

    def pairs(self) -> list[tuple[float, float]]:
        """(actual, predicted) pairs, for a scatter plot."""
        return list(zip(self.actual, self.predicted, strict=True))


def _points(
    law: Law, parameters: Mapping[str, Mapping[str, float]], rows: Split, split: str
) -> list[Points]:
    from sld.fit import predict

    out = []
    for group, x, y in zip(rows.groups, rows.X, rows.y, strict=True):
        params = parameters.get(group)
        if len(x) == 0 or params is None:
            continue
        predicted = np.asarray(predict(law, dict(params), x), dtype=np.float64).reshape(y.shape)
        out.append(
            Points(
                split=split,
                group=group,
                actual=tuple(float(v) for v in y.ravel()),
                predicted=tuple(float(v) for v in predicted.ravel()),
            )
        )
    return out


def extrapolation_points(
    law: Law,
    task: Task,
    *,
    search_parameters: Mapping[str, Mapping[str, float]] | None,
    heldout_parameters: Mapping[str, Mapping[str, float]] | None = None,
) -> list[Points]:
    """Points per (split, group); held-out only when ``heldout_parameters`` (a reporting refit) is given."""
    points: list[Points] = []
    if search_parameters:
        points += _points(law, search_parameters, task.search_train(), "train")
        points += _points(law, search_parameters, task.validation(), "validation")
    if heldout_parameters:
        points += _points(law, heldout_parameters, task.heldout(), HELDOUT_LABEL)
    return points


def group_style(task_groups: tuple[str, ...], group: str) -> str:
    """A stable colour per group."""
    index = task_groups.index(group) if group in task_groups else 0
    return GROUP_STYLES[index % len(GROUP_STYLES)]
