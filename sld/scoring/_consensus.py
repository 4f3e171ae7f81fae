"""Consensus among laws the folds cannot tell apart: which one extrapolates as the others do.

When the final pick's plausible laws (:mod:`sld.scoring._pick`, step 5) all fit the folds
within the leader's error bar, the rows have no more to say about which of them holds
further out, and choosing the one that led by a sliver is a draw among their
extrapolations. Choosing the one nearest their median extrapolation instead is the
medoid: it is never the law whose extrapolation is furthest from the rest.

Each law is fitted on every training row of the task's fit window (``restarts``,
``seed``) and evaluated on *probe points* built from training inputs alone:

* a task that extrapolates in scale (``validation_scale``): per group, up to 16 (the
  extrapolation checks' anchors) of the group's rows at or above the ``TOP`` quantile
  of that input, each at its own value and, when the input is log-scale, at
  ``sqrt(probe)`` and ``probe`` times it, the other inputs as they are (an input that is
  not log-scale stays in its training range, as in the extrapolation checks: a factor
  means nothing on, say, a log of FLOPs);
* otherwise (random folds): up to 16 of the group's rows, spread evenly.

A prediction is divided by the standard deviation of that output over the group's
training rows. The consensus is the element-wise median over the laws whose every probe
prediction is finite; a law's distance is the root mean square of its difference from
it (infinite when a prediction is not finite). Training outputs are read for their
spread only; nothing here compares a prediction with a label.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sld.corpus import Split, Task
from sld.fit import FitResult, fit_many, predict
from sld.law import Law

from ._checks import _anchors as _spread  # the checks' anchors: 16 rows, evenly spread

TOP = 0.8  # anchors come from each group's rows at or above this quantile of the scale


def probe_points(task: Task, *, probe: float) -> list[np.ndarray]:
    """Per group of ``task.window_train()``: the probe points (module docstring)."""
    rows = task.window_train()
    scale = task.validation_scale
    points = []
    for x in rows.X:
        if len(x) == 0:
            points.append(x)
            continue
        if scale is None:
            points.append(_spread(x))
            continue
        j = list(rows.inputs).index(scale)
        top = _spread(x[x[:, j] >= np.quantile(x[:, j], TOP)])
        steps = []
        for factor in probe_factors(task, probe=probe):
            moved = top.copy()
            moved[:, j] = moved[:, j] * factor
            steps.append(moved)
        points.append(np.concatenate(steps))
    return points


def probe_factors(task: Task, *, probe: float) -> tuple[float, ...]:
    """The factors the anchors are moved by along the validation scale, in the order of
    :func:`probe_points`'s blocks: ``(1, sqrt(probe), probe)`` for a log-scale validation
    scale, ``(1,)`` otherwise (a task with random folds has one block, its own rows)."""
    scale = task.validation_scale
    if scale is None or not task.log_scale.get(scale):
        return (1.0,)
    return (1.0, float(np.sqrt(probe)), probe)


def consensus_distances(
    laws: Sequence[Law],
    task: Task,
    *,
    seed: int = 0,
    restarts: int = 16,
    probe: float = 10.0,
    narrow: int = 0,
) -> list[float]:
    """Each law's distance from the laws' median extrapolation (module docstring), in std
    (``narrow``: every fit's, :class:`sld.fit.Fidelity`)."""
    rows = task.window_train()
    fits = fit_many(laws, rows, restarts=restarts, seed=seed, narrow=narrow)
    points = probe_points(task, probe=probe)
    spreads = output_spreads(rows)
    scaled = [
        _scaled(law, fit, rows.groups, points, spreads) for law, fit in zip(laws, fits, strict=True)
    ]
    finite = [v for v in scaled if v is not None]
    if not finite:
        return [float("inf")] * len(laws)
    median = np.median(np.stack(finite), axis=0)
    return [
        float("inf") if v is None else float(np.sqrt(np.mean((v - median) ** 2))) for v in scaled
    ]


def output_spreads(rows: Split) -> list[np.ndarray]:
    """Per group of ``rows``: each output's standard deviation over the group's rows (1
    where it is 0 or the group has no rows), the unit the probe predictions are read in."""
    out = []
    for y in rows.y:
        spread = np.std(y, axis=0) if len(y) else np.ones(len(rows.outputs))
        out.append(np.where(spread > 0, spread, 1.0))
    return out


def scaled_prediction(
    law: Law, fit: FitResult, group: str, x: np.ndarray, spread: np.ndarray
) -> np.ndarray | None:
    """``law`` at the points ``x`` with ``fit``'s parameters for ``group``, over ``spread``,
    flat; None when ``fit`` has no parameters for the group."""
    params = fit.parameters.get(group) if fit.ok else None
    if params is None:
        return None
    with np.errstate(all="ignore"):
        y = np.asarray(predict(law, params, x), dtype=np.float64).reshape(len(x), -1)
    return (y / spread).ravel()


def _scaled(
    law: Law,
    fit: FitResult,
    groups: Sequence[str],
    points: Sequence[np.ndarray],
    spreads: Sequence[np.ndarray],
) -> np.ndarray | None:
    """Every probe prediction of ``law`` over its group's output std, flat; None if any is
    not finite or a group was not fitted."""
    values = []
    for group, x, spread in zip(groups, points, spreads, strict=True):
        if len(x) == 0:
            continue
        scaled = scaled_prediction(law, fit, group, x, spread)
        if scaled is None:
            return None
        values.append(scaled)
    flat = np.concatenate(values) if values else np.zeros(0)
    return flat if np.all(np.isfinite(flat)) else None
