"""Laws against rows: parsing for a task, predictions per group, resampling."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sld.corpus import Task, load_task
from sld.fit import FitResult, predict
from sld.law import Law, parse_law


def resolve_task(task: str | Path | Task) -> Task:
    """A Task from a Task, a curated task name, or a path to a user CSV / card."""
    if isinstance(task, Task):
        return task
    return load_task(task)


def parse_for_task(
    law: str | Sequence[str] | Law, task: Task, *, max_params: int | None = None
) -> Law:
    """Parse ``law`` against the task's inputs, aliases, outputs and parameter limit."""
    if isinstance(law, Law):
        return law
    return parse_law(
        law,
        inputs=task.inputs,
        outputs=task.outputs,
        aliases=task.aliases,
        max_params=max_params if max_params is not None else task.max_params,
    )


def predict_rows(
    law: Law, fit: FitResult, rows: Any, *, names: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and targets stacked over the groups of ``rows`` (each group with its own parameters).

    ``names[g]`` is the key of group g's parameters in ``fit`` (default: the group's name).
    Returns ``(predicted, actual)``, both (total_rows, outputs).
    """
    keys = names if names is not None else rows.groups
    predicted, actual = [], []
    for key, x, y in zip(keys, rows.X, rows.y, strict=True):
        if len(x) == 0:
            continue
        params = fit.parameters.get(key)
        if params is None:
            predicted.append(np.full(y.shape, np.nan))
        else:
            predicted.append(np.asarray(predict(law, params, x), dtype=np.float64).reshape(y.shape))
        actual.append(y)
    if not actual:
        return np.zeros((0, len(law.outputs))), np.zeros((0, len(law.outputs)))
    return np.concatenate(predicted), np.concatenate(actual)


def resample(rows: Any, rng: np.random.Generator) -> Any:
    """The same groups, each with its rows drawn with replacement."""
    X, y = [], []
    for x_g, y_g in zip(rows.X, rows.y, strict=True):
        idx = rng.integers(0, len(x_g), size=len(x_g)) if len(x_g) else np.zeros(0, dtype=int)
        X.append(x_g[idx])
        y.append(y_g[idx])
    return dataclasses.replace(rows, X=tuple(X), y=tuple(y))
