"""Extrapolation checks: how a fitted law behaves where it has no data. Inputs only, never labels.

For each group and each input j, the law is evaluated along a grid in input j while
the other inputs keep the values of up to ``ROWS`` of the group's training rows:

* a log-scale input (positive over the training rows) runs, log-spaced, from its
  training minimum to ``probe`` × its training maximum (over all groups);
* any other input runs, evenly spaced, over its training range only.

A law fails (and search demotes it) when, anywhere on these grids:

* a prediction is not finite;
* an output that is positive on every training row turns zero or negative;
* it moves against a declared monotone direction (``monotone``: input → +1 rising,
  −1 falling) by more than ``tolerance`` × the standard deviation of that output over
  the group's training rows. The move is the largest change against the direction
  between any earlier and later grid point, so a slow turn counts in full.

A declared direction is also checked further out, on a second log-spaced grid up to
``monotone_probe`` × the training maximum (when that exceeds ``probe``). Only the
direction is judged there: a law whose fitted floor turns non-positive or non-finite
far beyond the data is not demoted for it (a fitted constant is not meant to hold three
decades out), but a law that turns upward in a declared-falling input is (why:
``bench/selection_sweep.md``, "A far probe for the declared directions only").

Training outputs are read only for their sign and spread; the checks never compare a
prediction with a label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sld.corpus import Task
from sld.fit import FitResult, predict
from sld.law import Law

from ._reports import CheckReport

GRID = 12  # points per input grid
ROWS = 16  # training rows per group whose other inputs are kept
MONOTONE_TOLERANCE = 0.1  # of the output's per-group std


def _grid(values: np.ndarray, *, log_scale: bool, probe: float) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if log_scale and low > 0:
        return np.geomspace(low, high * probe, GRID)
    return np.linspace(low, high, GRID)


def _anchors(x: np.ndarray) -> np.ndarray:
    """Up to ROWS of a group's rows, evenly spread over its row order (deterministic)."""
    if len(x) <= ROWS:
        return x
    return x[np.linspace(0, len(x) - 1, ROWS).round().astype(int)]


def _against(path: np.ndarray, direction: int) -> float:
    """Largest move against ``direction`` along axis 1 of (anchors, GRID) values."""
    signed = path * direction  # a rise in signed is allowed; a fall from a running max is not
    running = np.maximum.accumulate(signed, axis=1)
    return float(np.max(running - signed))


def _along(
    law: Law, params: Mapping[str, float], anchors: np.ndarray, *, j: int, grid: np.ndarray
) -> np.ndarray:
    """(anchors, len(grid), outputs) predictions with input ``j`` swept along ``grid``."""
    points = np.repeat(anchors, len(grid), axis=0)
    points[:, j] = np.tile(grid, len(anchors))
    with np.errstate(all="ignore"):
        values = np.asarray(predict(law, params, points), dtype=np.float64)
    return values.reshape(len(anchors), len(grid), len(law.outputs))


def _directions(
    values: np.ndarray,
    *,
    outputs: Sequence[str],
    spread: np.ndarray,
    name: str,
    direction: int | None,
    tolerance: float,
    where: str,
) -> list[str]:
    """A reason per output that moves against ``direction`` by more than ``tolerance`` std."""
    reasons = []
    for k, output in enumerate(outputs):
        if direction and spread[k] > 0:
            move = _against(values[:, :, k], direction) / spread[k]
            if move > tolerance:
                word = "rises" if direction < 0 else "falls"
                reasons.append(
                    f"{output} {word} against its declared direction in {name} "
                    f"by {move:.2g} std for {where}"
                )
    return reasons


def extrapolation_checks(
    law: Law,
    fit: FitResult,
    rows: Any,
    *,
    log_scale: Mapping[str, bool],
    monotone: Mapping[str, int] | None = None,
    probe: float = 10.0,
    monotone_probe: float | None = None,
    tolerance: float = MONOTONE_TOLERANCE,
    names: Sequence[str] | None = None,
) -> CheckReport:
    """Run the checks for ``law`` with ``fit``'s per-group parameters over ``rows``' inputs.

    ``rows``: the training Split (its X sets the grids and anchors; its y only the sign
    and spread of each output); ``names[g]``: key of group g in ``fit.parameters``;
    ``monotone_probe``: how far the declared directions alone are checked (None or a
    factor not above ``probe``: no further than the other checks).
    """
    directions = dict(monotone or {})
    inputs = list(rows.inputs)
    outputs = list(rows.outputs)
    X_all = [x for x in rows.X if len(x)]
    Y_all = [y for y in rows.y if len(y)]
    if not X_all:
        return CheckReport(passed=True, reasons=[], probes=0)
    stacked_x = np.concatenate(X_all)
    stacked_y = np.concatenate(Y_all)
    positive = np.all(stacked_y > 0, axis=0)
    grids = {
        j: _grid(stacked_x[:, j], log_scale=bool(log_scale.get(name, False)), probe=probe)
        for j, name in enumerate(inputs)
    }
    reach = monotone_probe if monotone_probe is not None and monotone_probe > probe else None
    far = {
        j: _grid(stacked_x[:, j], log_scale=True, probe=reach)
        for j, name in enumerate(inputs)
        if reach is not None
        and directions.get(name)
        and log_scale.get(name, False)
        and stacked_x[:, j].min() > 0
    }
    reasons: list[str] = []
    probes = 0
    keys = names if names is not None else rows.groups
    for key, group, x, y in zip(keys, rows.groups, rows.X, rows.y, strict=True):
        params = fit.parameters.get(key)
        if params is None or len(x) == 0:
            continue
        anchors = _anchors(x)
        spread = np.std(y, axis=0)
        in_group = f" in group {group!r}" if len(keys) > 1 else ""
        for j, name in enumerate(inputs):
            # one pass over both grids: the first GRID points are the near grid
            grid = np.concatenate([grids[j], far[j]]) if j in far else grids[j]
            swept = _along(law, params, anchors, j=j, grid=grid)
            probes += swept.shape[0] * swept.shape[1]
            values, beyond = swept[:, :GRID], swept[:, GRID:]
            where = f"{name} up to {grids[j][-1]:.3g}{in_group}"
            if not np.all(np.isfinite(values)):
                reasons.append(f"predicts a non-finite value for {where}")
                continue
            for k, output in enumerate(outputs):
                if positive[k] and np.any(values[:, :, k] <= 0):
                    reasons.append(f"{output} turns non-positive for {where}")
            checked = [(values, where)]
            if j in far and np.all(np.isfinite(beyond)):  # beyond the probe: direction only
                checked.append((beyond, f"{name} up to {far[j][-1]:.3g}{in_group}"))
            for values, where in checked:
                reasons += _directions(
                    values,
                    outputs=outputs,
                    spread=spread,
                    name=name,
                    direction=directions.get(name),
                    tolerance=tolerance,
                    where=where,
                )
    unique = list(dict.fromkeys(reasons))
    return CheckReport(passed=not unique, reasons=unique[:8], probes=probes)


def task_checks(
    law: Law, fit: FitResult, task: Task, *, monotone: Mapping[str, int] | None = None
) -> CheckReport:
    """:func:`extrapolation_checks` with ``task``'s grids (its training rows), probes and
    declared directions (``monotone`` overrides them)."""
    return extrapolation_checks(
        law,
        fit,
        task.train(),
        log_scale=task.log_scale,
        monotone=dict(monotone if monotone is not None else task.monotone),
        probe=task.card.validation.probe,
        monotone_probe=task.card.validation.monotone_probe,
    )
