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

A law that levels off inside the probe range predicts nearly the same value past the
rows whatever rows its fit had, so its drift is small by construction, whether the
levelling is right or not. With ``relative``, the drift is read against how far the law
itself moves its prediction past the rows, its *move*::

    move = sqrt(mean over groups g, anchors a, factors m > 1 of (f(a * m) - f(a))**2)
    relative drift = drift / (drift + move)      (0 when both are 0)

with f the fit on every row and a * m an anchor moved m times along the validation
scale (:func:`sld.scoring._consensus.probe_factors`). It lies in [0, 1] and orders laws
as drift / move does: the share of the extrapolation the folds do not agree on. Where
the anchors are not moved (random folds, a validation scale that is not log-scale) there
is no move, and the drift is returned as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sld.corpus import Task
from sld.fit import fit_many_sets
from sld.law import Law

from ._consensus import output_spreads, probe_factors, probe_points, scaled_prediction


def extrapolation_drift(
    laws: Sequence[Law],
    task: Task,
    *,
    seed: int = 0,
    restarts: int = 16,
    probe: float = 10.0,
    relative: bool = False,
    narrow: int = 0,
) -> list[float]:
    """Each law's drift (module docstring), in units of the output's training std; with
    ``relative``, its relative drift (module docstring), a share in [0, 1]. ``narrow``:
    :class:`sld.fit.Fidelity`."""
    rows = task.window_train()
    sets = [fold.fit for fold in task.folds()] + [rows]
    fits = fit_many_sets(laws, sets, restarts=restarts, seeds=seed, narrow=narrow)
    points = probe_points(task, probe=probe)
    spreads = output_spreads(rows)
    blocks = len(probe_factors(task, probe=probe))
    out = []
    for law, per_set in zip(laws, fits, strict=True):
        gaps: list[np.ndarray] = []
        moves: list[np.ndarray] = []
        for group, x, spread in zip(rows.groups, points, spreads, strict=True):
            if len(x) == 0:
                continue
            scaled = [scaled_prediction(law, fit, group, x, spread) for fit in per_set]
            full = scaled[-1]
            if full is None:
                gaps = [np.array([math.inf])]
                break
            gaps += [v - full for v in scaled[:-1] if v is not None]
            by_factor = full.reshape(blocks, -1)  # probe_points stacks one block per factor
            moves.append((by_factor[1:] - by_factor[:1]).ravel())
        drift = _rms(gaps)
        if relative and blocks > 1 and math.isfinite(drift):
            move = _rms(moves)
            drift = drift / (drift + move) if drift + move > 0 else 0.0
        out.append(drift)
    return out


def _rms(parts: list[np.ndarray]) -> float:
    """The root mean square of every value in ``parts``; infinite when there is none or
    one is not finite."""
    flat = np.concatenate(parts) if parts else np.zeros(0)
    if len(flat) == 0 or not bool(np.all(np.isfinite(flat))):
        return math.inf
    return float(np.sqrt(np.mean(flat**2)))
