"""Monotone directions read from training rows, for data whose card declares none.

A direction is inferred only where the design lets the data speak for one input alone:
rows of one group whose every *other* input sits at one level (values within 2 %, so a
parameter count that grows slightly with another input still matches) form a matched set, and each step
between neighbouring values of the input within a set is one piece of evidence::

    steps(j)  = consecutive pairs (x_j sorted) within every matched set of every group,
                with the output averaged over rows that repeat a value
    down(j,o) = share of steps(j) along which output o falls (ties count against both)
    input j is "decreasing" when |steps(j)| >= min_steps and, for every output o,
    down(j,o) >= agreement; "increasing" likewise with rises; otherwise nothing.

So a sweep that varies N at fixed D (and D at fixed N) yields both directions, a U-shaped
input (a learning rate on both sides of its optimum) yields none, and a design with no
matched sets (mixtures drawn at random) yields none. Only training rows are read.

The thresholds were chosen on the ten curated tasks' training rows against the directions
their cards declare from the science (``bench/selection_sweep.md``, "Directions read from
the data"): every input the science gives an optimum or a turn (a vocabulary size, a
learning rate, a batch size, a compute budget past a turn) agrees on at most 0.62 of its steps,
while 12 of the 15 declared directions agree on 0.81 or more; 0.8 finds those 12 and
contradicts none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_STEPS = 10  # steps an input needs before its direction is trusted
AGREEMENT = 0.8  # share of steps that must move the same way, for every output
TOLERANCE = 0.02  # relative spread of an input's values treated as one level


@dataclass(frozen=True)
class DirectionEvidence:
    """What the matched sets say about one input.

    ``steps``: how many neighbouring pairs were compared; ``falls``/``rises``: per output,
    the share of steps along which it fell / rose.
    """

    input: str
    steps: int
    falls: tuple[float, ...]
    rises: tuple[float, ...]

    def direction(self, *, min_steps: int = MIN_STEPS, agreement: float = AGREEMENT) -> int:
        """-1 (decreasing), +1 (increasing) or 0 (no direction) under the thresholds."""
        if self.steps < min_steps:
            return 0
        if min(self.falls) >= agreement:
            return -1
        if min(self.rises) >= agreement:
            return 1
        return 0


def levels(values: np.ndarray, *, tolerance: float = TOLERANCE) -> np.ndarray:
    """Each value's level: values within ``tolerance`` (relative) of a level's first value share it.

    values: (rows,) → (rows,) int. Sorting the distinct values, a new level starts at the
    first value more than ``tolerance`` × |start| above the current level's start, so a
    level never spans more than the tolerance however densely the values fall.
    """
    distinct = np.unique(values)
    ids = np.zeros(len(distinct), dtype=np.int64)
    start, level = distinct[0] if len(distinct) else 0.0, 0
    for i, v in enumerate(distinct):
        if v - start > tolerance * abs(start):
            start, level = v, level + 1
        ids[i] = level
    return ids[np.searchsorted(distinct, values)]


def _steps(at: np.ndarray, y: np.ndarray, column: int) -> np.ndarray:
    """Output differences between neighbouring levels of ``column`` within matched sets.

    at: (rows, inputs) each input's :func:`levels`, y: (rows, outputs) → (steps, outputs).
    Rows match when every other input is at the same level; the output is averaged over
    the rows of a set at one level of ``column``.
    """
    others = np.delete(at, column, axis=1)
    if others.shape[1]:
        sets = np.unique(others, axis=0, return_inverse=True)[1].reshape(-1)
    else:
        sets = np.zeros(len(at), dtype=np.int64)
    out = []
    for s in np.unique(sets):
        own, y_s = at[sets == s, column], y[sets == s]
        steps = np.unique(own)
        if len(steps) < 2:
            continue
        means = np.stack([y_s[own == level].mean(axis=0) for level in steps])
        out.append(np.diff(means, axis=0))
    if not out:
        return np.zeros((0, y.shape[1]))
    return np.concatenate(out, axis=0)


def direction_evidence(
    X: Sequence[np.ndarray], y: Sequence[np.ndarray], *, inputs: Sequence[str]
) -> list[DirectionEvidence]:
    """The evidence for every input over every group's rows.

    X[g]: (rows_g, inputs), y[g]: (rows_g, outputs), one pair per group; pass training rows.
    """
    n_outputs = y[0].shape[1] if len(y) else 1
    # each input's levels once per group, shared by every input's matched sets
    groups = [
        (np.column_stack([levels(x_g[:, k]) for k in range(x_g.shape[1])]), y_g)
        for x_g, y_g in zip(X, y, strict=True)
        if len(x_g)
    ]
    out = []
    for j, name in enumerate(inputs):
        diffs = [_steps(at, y_g, j) for at, y_g in groups]
        d = np.concatenate(diffs, axis=0) if diffs else np.zeros((0, n_outputs))
        n = d.shape[0]
        falls = tuple(float((d[:, o] < 0).mean()) if n else 0.0 for o in range(n_outputs))
        rises = tuple(float((d[:, o] > 0).mean()) if n else 0.0 for o in range(n_outputs))
        out.append(DirectionEvidence(name, n, falls, rises))
    return out


def infer_directions(
    X: Sequence[np.ndarray],
    y: Sequence[np.ndarray],
    *,
    inputs: Sequence[str],
    min_steps: int = MIN_STEPS,
    agreement: float = AGREEMENT,
) -> dict[str, int]:
    """Input name -> -1 / +1 for every input the training rows show a direction in."""
    out = {}
    for evidence in direction_evidence(X, y, inputs=inputs):
        sign = evidence.direction(min_steps=min_steps, agreement=agreement)
        if sign:
            out[evidence.input] = sign
    return out
