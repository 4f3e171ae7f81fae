"""Steadiness: how far a law's extrapolation moves as the selection folds add rows.

The final pick's plausible laws (:mod:`sld.scoring._pick`, step 5) fit the folds within
the leader's error bar, so the fold errors cannot tell them apart. How each law's
predictions *beyond* the rows change as rows are added can: a law that describes the
rows settles as more of them come, one that bends to them swings, and the swing is
largest past the training range, where the pick needs it to hold.

Each law is fitted on every fold's fit rows and on every training row of the task's fit
window, in one batched call (:func:`sld.fit.fit_many_sets`; ``restarts``, ``seed``), and
predicted at the consensus's probe points (:func:`sld.scoring._consensus.probe_points`:
training inputs only, moved ``sqrt(probe)`` and ``probe`` times past the top of a
log-scale validation scale; a task with random folds is probed at its own rows, where the
drift measures how much the law's fit moves between draws), each prediction divided by the standard deviation of that output over
the group's training rows. A law's *drift* is::

    drift = sqrt(mean over folds k, groups g, points p of (f_k(p) - f(p))**2)

with f_k the fit on fold k's rows and f the fit on every row (a group a fold has no fit
rows for is left out of that fold). It is infinite when a prediction is not finite or
the fit on every row failed. Training outputs are read for their spread only; nothing
here compares a prediction with a label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sld.corpus import Task
from sld.fit import fit_many_sets
from sld.law import Law

from ._consensus import output_spreads, probe_points, scaled_prediction


def extrapolation_drift(
    laws: Sequence[Law], task: Task, *, seed: int = 0, restarts: int = 16, probe: float = 10.0
) -> list[float]:
    """Each law's drift (module docstring), in units of the output's training std."""
    rows = task.window_train()
    sets = [fold.fit for fold in task.folds()] + [rows]
    fits = fit_many_sets(laws, sets, restarts=restarts, seeds=seed)
    points = probe_points(task, probe=probe)
    spreads = output_spreads(rows)
    out = []
    for law, per_set in zip(laws, fits, strict=True):
        gaps: list[np.ndarray] = []
        for group, x, spread in zip(rows.groups, points, spreads, strict=True):
            if len(x) == 0:
                continue
            scaled = [scaled_prediction(law, fit, group, x, spread) for fit in per_set]
            full = scaled[-1]
            if full is None:
                gaps = [np.array([math.inf])]
                break
            gaps += [v - full for v in scaled[:-1] if v is not None]
        flat = np.concatenate(gaps) if gaps else np.zeros(0)
        finite = len(flat) > 0 and bool(np.all(np.isfinite(flat)))
        out.append(float(np.sqrt(np.mean(flat**2))) if finite else math.inf)
    return out
