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

Designs without matched sets. An IsoFLOP sweep (D = C / 6N at each budget C), a fixed
tokens-per-parameter ratio, or token counts drawn per run leave no two rows that differ in
N alone, yet N and D still vary independently across the rows. For a log-scale input with
fewer than ``min_steps`` matched steps, the evidence comes instead from a smooth surrogate
fitted to each group's rows (:func:`slope_evidence`)::

    z_k     = log x_k for log-scale inputs, x_k otherwise, standardised within the group
    y_o    ~ b_0 + sum_k b_k z_k + sum_{k<=l} c_kl z_k z_l      (least squares, per output)
    slope_j = d y_o / d z_j at each of the group's rows

and each row's slope is one piece of evidence, counted as above. A quadratic can bend both
ways, so an input with an optimum inside the rows shows slopes of both signs and yields
nothing, while a power law in N shows one sign throughout. A group takes part only with at
least twice as many rows as the surrogate has coefficients and a design that separates them
(inputs that move together, such as D = 20 N in every row, leave no slope that is one
input's own, and such a group is skipped). Only log-scale inputs read a
direction this way, because the checks hold a direction beyond the training range only
there, and a linear input (a mixture share, a log-FLOPs count) may turn within its range.

The thresholds were chosen on the ten curated tasks' training rows against the directions
their cards declare from the science (``bench/selection_sweep.md``, "Directions read from
the data"): every input the science gives an optimum or a turn (a vocabulary size, a
learning rate, a batch size, a compute budget past a turn) agrees on at most 0.62 of its steps,
while 12 of the 15 declared directions agree on 0.81 or more; 0.8 finds those 12 and
contradicts none. The surrogate, measured on the same rows for every input, agrees with
each declared direction that has no matched steps (over-training's model size: 1.000) and
reads at most 0.67 for the inputs with an optimum (``bench/selection_sweep.md``, "Directions
where no rows match").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sld.corpus.options import direction

MIN_STEPS = 10  # steps an input needs before its direction is trusted
AGREEMENT = 0.8  # share of steps that must move the same way, for every output
TOLERANCE = 0.02  # relative spread of an input's values treated as one level
CONDITION = 1e-6  # a surrogate whose smallest singular value is below this share of its largest


@dataclass(frozen=True)
class DirectionEvidence:
    """What the training rows say about one input.

    ``steps``: how many neighbouring pairs were compared (surrogate: rows whose slope was
    read); ``falls``/``rises``: per output, the share of steps along which it fell / rose;
    ``source``: "matched" (matched sets) or "surrogate" (:func:`slope_evidence`).
    """

    input: str
    steps: int
    falls: tuple[float, ...]
    rises: tuple[float, ...]
    source: str = "matched"

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


def _shares(d: np.ndarray, n_outputs: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    n = d.shape[0]
    falls = tuple(float((d[:, o] < 0).mean()) if n else 0.0 for o in range(n_outputs))
    rises = tuple(float((d[:, o] > 0).mean()) if n else 0.0 for o in range(n_outputs))
    return falls, rises


def _group_slopes(x: np.ndarray, y: np.ndarray, log_scale: Sequence[bool]) -> np.ndarray | None:
    """(inputs, rows, outputs) slopes of one group's quadratic surrogate (NaN for an input
    constant in the group); None when the group has too few rows for the surrogate."""
    z = np.column_stack(
        [
            np.log(x[:, k]) if log_scale[k] and bool((x[:, k] > 0).all()) else x[:, k]
            for k in range(x.shape[1])
        ]
    )
    sd = z.std(axis=0)
    idx = [k for k in range(z.shape[1]) if sd[k] > 0]
    if not idx:
        return None
    z = (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    pairs = [(k, m) for a, k in enumerate(idx) for m in idx[a:]]
    features = [np.ones(len(z))] + [z[:, k] for k in idx] + [z[:, k] * z[:, m] for k, m in pairs]
    if len(z) < 2 * len(features):
        return None
    coef, _, _, singular = np.linalg.lstsq(np.column_stack(features), y, rcond=None)
    if singular.min() < CONDITION * singular.max():
        return None  # inputs that move together (D = 20 N in every row): no slope is their own
    out = np.full((x.shape[1], len(z), y.shape[1]), np.nan)
    for i, j in enumerate(idx):
        slope = np.tile(coef[1 + i], (len(z), 1))
        for c, (k, m) in zip(coef[1 + len(idx) :], pairs, strict=True):
            if k == j or m == j:
                other = m if k == j else k
                slope = slope + (2.0 if k == m else 1.0) * z[:, [other]] * c
        out[j] = slope
    return out


def slope_evidence(
    X: Sequence[np.ndarray],
    y: Sequence[np.ndarray],
    *,
    inputs: Sequence[str],
    log_scale: Sequence[bool],
) -> list[DirectionEvidence]:
    """Every input's evidence from each group's quadratic surrogate (module doc): one step
    per row of a group that takes part and in which the input varies."""
    n_outputs = y[0].shape[1] if len(y) else 1
    slopes = [_group_slopes(x_g, y_g, log_scale) for x_g, y_g in zip(X, y, strict=True) if len(x_g)]
    out = []
    for j, name in enumerate(inputs):
        parts = [s[j] for s in slopes if s is not None and not np.isnan(s[j]).any()]
        d = np.concatenate(parts, axis=0) if parts else np.zeros((0, n_outputs))
        falls, rises = _shares(d, n_outputs)
        out.append(DirectionEvidence(name, d.shape[0], falls, rises, source="surrogate"))
    return out


def direction_evidence(
    X: Sequence[np.ndarray],
    y: Sequence[np.ndarray],
    *,
    inputs: Sequence[str],
    log_scale: Sequence[bool] | None = None,
    min_steps: int = MIN_STEPS,
) -> list[DirectionEvidence]:
    """The evidence for every input over every group's rows: from matched sets, or, for a
    log-scale input (``log_scale[j]``) with fewer than ``min_steps`` matched steps, from the
    surrogate (:func:`slope_evidence`; never without ``log_scale``).

    X[g]: (rows_g, inputs), y[g]: (rows_g, outputs), one pair per group; pass training rows.
    """
    matched = _matched_evidence(X, y, inputs=inputs)
    if log_scale is None:
        return matched
    wanted = [e.steps < min_steps and log_scale[j] for j, e in enumerate(matched)]
    if not any(wanted):
        return matched
    smooth = slope_evidence(X, y, inputs=inputs, log_scale=log_scale)
    return [s if w else e for e, s, w in zip(matched, smooth, wanted, strict=True)]


def _matched_evidence(
    X: Sequence[np.ndarray], y: Sequence[np.ndarray], *, inputs: Sequence[str]
) -> list[DirectionEvidence]:
    """Every input's evidence from matched sets (module doc)."""
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
        falls, rises = _shares(d, n_outputs)
        out.append(DirectionEvidence(name, d.shape[0], falls, rises))
    return out


def signs(
    evidence: Sequence[DirectionEvidence],
    *,
    min_steps: int = MIN_STEPS,
    agreement: float = AGREEMENT,
) -> dict[str, int]:
    """Input name -> -1 / +1 for every input whose evidence shows a direction."""
    out = {}
    for e in evidence:
        sign = e.direction(min_steps=min_steps, agreement=agreement)
        if sign:
            out[e.input] = sign
    return out


def infer_directions(
    X: Sequence[np.ndarray],
    y: Sequence[np.ndarray],
    *,
    inputs: Sequence[str],
    log_scale: Sequence[bool] | None = None,
    min_steps: int = MIN_STEPS,
    agreement: float = AGREEMENT,
) -> dict[str, int]:
    """Input name -> -1 / +1 for every input the training rows show a direction in
    (:func:`direction_evidence`, then :func:`signs`)."""
    found = direction_evidence(X, y, inputs=inputs, log_scale=log_scale, min_steps=min_steps)
    return signs(found, min_steps=min_steps, agreement=agreement)


def inferred_note(
    monotone: dict[str, int],
    *,
    smooth: Sequence[str] = (),
    fix: str | Callable[[Mapping[str, int]], str],
) -> str:
    """The load's note on directions read from the rows (``smooth``: those read from the
    surrogate fit), ending in ``fix`` (how to override; a callable gets the directions)."""
    listed = ", ".join(f"{k} {direction(v)}" for k, v in monotone.items())
    if smooth:
        names = ", ".join(smooth)
        listed += (
            f" ({names} from the slopes of a smooth fit to the rows: too few rows differ in "
            f"{'it' if len(smooth) == 1 else 'one of them'} alone)"
        )
    return (
        f"monotone directions read from the training rows: {listed}; the extrapolation checks "
        f"hold laws to them; {fix(monotone) if callable(fix) else fix}"
    )
