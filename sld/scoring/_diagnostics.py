"""Residual diagnostics: where a law misses, read from its fold predictions only.

Each selection fold's fit predicts that fold's band (:mod:`sld.corpus.folds`); the
band rows of every fold are pooled. Test rows are never read: the bands are carved
from training rows, and the training rows set only the scale of the residuals and
the range of each input.

Per row and output ``o`` the *scaled residual* is::

    e = (y − ŷ) / std_o          std_o: the output's spread over all training rows
    r = (y − ŷ) / |y|            the relative miss (only where y > 0 on every training row)

so ``e > 0`` means the law *under*-estimates. For each output and input ``j`` (its
*coordinate* ``u = log x`` for a log-scale input, ``x`` otherwise; ``z`` = ``u``
standardised over the band rows):

* ``slope = mean(e · z)``: the residual's change per standard deviation of ``u``
  (the least-squares slope of ``e`` on ``z``); ``corr = slope / std(e)``;
* ``top``: mean ``e`` over band rows in the top quarter of ``u``'s training range,
  ``top_relative`` the mean ``r`` there, ``top_from`` where that quarter starts;
* ``bend``: ``top`` minus the straight trend's mean value on those rows (how far the
  top of the range bends away from the trend);
* ``varies_with``: the other input whose upper and lower halves (split at its median)
  give the most different slopes, and ``slope_change`` = upper − lower;
* ``profile``: mean ``e`` in up to :data:`BINS` bins of rows sorted by ``u``, and
  ``crossings``: input values between bins where that mean changes sign (both bins
  beyond a noise floor of 5 % of the overall rms).

Per group: rms and mean of ``e`` over all outputs. Sizes are bounded (at most
:data:`MAX_TRENDS` trends, :data:`MAX_GROUPS` groups, :data:`MAX_CROSSINGS` crossings
each; numbers to four significant digits), so a stored report stays small.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel

from sld.fit import FitResult
from sld.law import Law

from ._rows import predict_rows

TOP_SHARE = 0.25  # the top quarter of an input's training range
BINS = 6
MAX_TRENDS = 12
MAX_GROUPS = 3
MAX_CROSSINGS = 3
MIN_HALF = 3  # rows each half needs before its slope is compared
NOISE = 0.05  # of the overall rms: bin means below it have no sign
DIGITS = 4


class InputTrend(BaseModel):
    """How one output's scaled residual moves along one input (see the module docstring)."""

    input: str
    output: str
    log: bool
    slope: float
    corr: float
    top: float | None = None
    top_relative: float | None = None
    top_from: float | None = None
    bend: float | None = None
    varies_with: str | None = None
    slope_change: float | None = None
    profile: list[float] = []
    crossings: list[float] = []


class GroupResidual(BaseModel):
    """One group's scaled residuals over every fold band: rms and mean (positive: under)."""

    group: str
    rows: int
    rms: float
    mean: float


class ResidualDiagnostics(BaseModel):
    """Where a law misses on its fold bands: overall rms and bias of the scaled residual,
    the trends (largest ``|slope|`` first) and the worst groups (largest rms first)."""

    rows: int
    rms: float
    bias: float
    trends: list[InputTrend] = []
    groups: list[GroupResidual] = []

    def trend(self, name: str, output: str | None = None) -> InputTrend | None:
        """The trend along input ``name`` (for ``output``, else the largest over outputs)."""
        found = [t for t in self.trends if t.input == name and output in (None, t.output)]
        return found[0] if found else None


HUGE = 1e100  # std: a residual this far off says only that the prediction blew up


def _round(value: float) -> float:
    return float(f"{value:.{DIGITS}g}")


def _maybe(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else _round(value)


def _value(u: float, *, log: bool) -> float:
    """A coordinate back in input units."""
    return _round(math.exp(u) if log else u)


def _slope(e: np.ndarray, u: np.ndarray) -> float | None:
    """Least-squares slope of ``e`` on standardised ``u``; None when ``u`` is constant."""
    spread = float(np.std(u))
    if not spread > 0:
        return None
    z = (u - u.mean()) / spread
    return float(np.mean((e - e.mean()) * z))


def _profile(
    e: np.ndarray, u: np.ndarray, *, floor: float, log: bool
) -> tuple[list[float], list[float]]:
    """Binned mean residuals along ``u`` and the input values where their sign flips."""
    if len(np.unique(u)) < 3:
        return [], []
    order = np.argsort(u, kind="stable")
    bins = [b for b in np.array_split(order, min(BINS, len(np.unique(u)))) if len(b)]
    means = [float(np.mean(e[b])) for b in bins]
    centres = [float(np.mean(u[b])) for b in bins]
    crossings = []
    for k in range(len(bins) - 1):
        a, b = means[k], means[k + 1]
        if abs(a) > floor and abs(b) > floor and (a > 0) != (b > 0):
            crossings.append(_value((centres[k] + centres[k + 1]) / 2, log=log))
    return [_round(m) for m in means], crossings[:MAX_CROSSINGS]


def _interaction(
    e: np.ndarray, u: np.ndarray, others: Mapping[str, np.ndarray]
) -> tuple[str | None, float | None]:
    """The other input across whose halves the slope of ``e`` on ``u`` changes most."""
    best: tuple[str | None, float | None] = (None, None)
    for name, v in others.items():
        if len(np.unique(v)) < 2:
            continue
        upper = v > np.median(v)
        if upper.sum() < MIN_HALF or (~upper).sum() < MIN_HALF:
            continue
        high, low = _slope(e[upper], u[upper]), _slope(e[~upper], u[~upper])
        if high is None or low is None:
            continue
        change = high - low
        if best[1] is None or abs(change) > abs(best[1]):
            best = (name, change)
    return best[0], _maybe(best[1])


def diagnose(
    x: np.ndarray,
    residual: np.ndarray,
    relative: np.ndarray,
    groups: Sequence[str],
    *,
    inputs: Sequence[str],
    outputs: Sequence[str],
    log_scale: Mapping[str, bool],
    ranges: Mapping[str, tuple[float, float]],
) -> ResidualDiagnostics | None:
    """Diagnostics of pooled band rows (the formulas of the module docstring).

    ``x``: (rows, inputs); ``residual``: scaled residuals (rows, outputs); ``relative``:
    relative misses (rows, outputs), NaN where not defined; ``groups[i]``: row i's group;
    ``ranges``: each input's training (min, max). Rows with a non-finite residual, or
    one beyond ``HUGE`` std (its square would overflow), are left out; None when no row
    is left.
    """
    with np.errstate(invalid="ignore"):
        sane = np.all(np.abs(residual) < HUGE, axis=1)
    keep = sane & np.all(np.isfinite(x), axis=1)
    if not keep.any():
        return None
    x, residual, relative = x[keep], residual[keep], relative[keep]
    labels = [g for g, k in zip(groups, keep, strict=True) if k]
    rms = float(np.sqrt(np.mean(residual**2)))
    floor = NOISE * rms
    coordinates: dict[str, np.ndarray] = {}
    logs: dict[str, bool] = {}
    for j, name in enumerate(inputs):
        log = bool(log_scale.get(name, False)) and bool(np.all(x[:, j] > 0))
        logs[name] = log
        coordinates[name] = np.log(x[:, j]) if log else x[:, j]
    trends: list[InputTrend] = []
    for k, output in enumerate(outputs):
        e = residual[:, k]
        r = relative[:, k]
        spread = float(np.std(e))
        for j, name in enumerate(inputs):
            u, log = coordinates[name], logs[name]
            slope = _slope(e, u)
            if slope is None:
                continue
            low, high = ranges.get(name, (float(np.min(x[:, j])), float(np.max(x[:, j]))))
            if log and low > 0:
                low, high = math.log(low), math.log(high)
            start = high - TOP_SHARE * (high - low)
            top_rows = u >= start
            top = top_relative = bend = None
            if top_rows.sum() >= 2:
                top = float(np.mean(e[top_rows]))
                z = (u - u.mean()) / float(np.std(u))
                trend_there = float(np.mean(e.mean() + slope * z[top_rows]))
                bend = top - trend_there
                if np.all(np.isfinite(r[top_rows])):
                    top_relative = float(np.mean(r[top_rows]))
            others = {n: coordinates[n] for n in inputs if n != name}
            varies_with, change = _interaction(e, u, others)
            profile, crossings = _profile(e, u, floor=floor, log=log)
            trends.append(
                InputTrend(
                    input=name,
                    output=output,
                    log=log,
                    slope=_round(slope),
                    corr=_round(slope / spread) if spread > 0 else 0.0,
                    top=_maybe(top),
                    top_relative=_maybe(top_relative),
                    top_from=_value(start, log=log) if top is not None else None,
                    bend=_maybe(bend),
                    varies_with=varies_with,
                    slope_change=change,
                    profile=profile,
                    crossings=crossings,
                )
            )
    trends.sort(key=lambda t: (-abs(t.slope), t.output, t.input))
    per_group: list[GroupResidual] = []
    names = sorted(set(labels))
    if len(names) > 1:
        label_array = np.array(labels)
        for group in names:
            e = residual[label_array == group]
            per_group.append(
                GroupResidual(
                    group=group,
                    rows=int(e.shape[0]),
                    rms=_round(float(np.sqrt(np.mean(e**2)))),
                    mean=_round(float(np.mean(e))),
                )
            )
        per_group.sort(key=lambda g: (-g.rms, g.group))
    return ResidualDiagnostics(
        rows=int(residual.shape[0]),
        rms=_round(rms),
        bias=_round(float(np.mean(residual))),
        trends=trends[:MAX_TRENDS],
        groups=per_group[:MAX_GROUPS],
    )


def _training_scale(train: Any) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[float, float]]]:
    """Per output: the spread (std, 1 where constant) and whether it is positive on every
    training row; per input: the training (min, max)."""
    X = [x for x in train.X if len(x)]
    Y = [y for y in train.y if len(y)]
    ys = np.concatenate(Y) if Y else np.zeros((0, len(train.outputs)))
    xs = np.concatenate(X) if X else np.zeros((0, len(train.inputs)))
    spread = np.std(ys, axis=0) if len(ys) else np.ones(len(train.outputs))
    spread = np.where(spread > 0, spread, 1.0)
    positive = np.all(ys > 0, axis=0) if len(ys) else np.zeros(len(train.outputs), dtype=bool)
    ranges = {
        name: (float(xs[:, j].min()), float(xs[:, j].max()))
        for j, name in enumerate(train.inputs)
        if len(xs)
    }
    return spread, positive, ranges


def residual_diagnostics(
    law: Law,
    fits: Sequence[FitResult],
    folds: Sequence[Any],
    train: Any,
    *,
    log_scale: Mapping[str, bool],
) -> ResidualDiagnostics | None:
    """Diagnostics of ``law`` from each fold's fit (``fits[k]``, restricted to fold k with
    plain group names) predicting that fold's band; ``train`` (training rows) sets the
    residual scale and input ranges. None when no band row could be predicted."""
    spread, positive, ranges = _training_scale(train)
    xs, residuals, relatives, labels = [], [], [], []
    for fit, fold in zip(fits, folds, strict=True):
        if not fit.ok:
            continue
        band = fold.score
        with np.errstate(all="ignore"):
            predicted, actual = predict_rows(law, fit, band)
            miss = actual - predicted
            relative = np.where(positive, miss / np.abs(actual), np.nan)
        xs += [x for x in band.X if len(x)]
        residuals.append(miss / spread)
        relatives.append(relative)
        labels += [g for g, x in zip(band.groups, band.X, strict=True) for _ in range(len(x))]
    if not residuals or not labels:
        return None
    return diagnose(
        np.concatenate(xs),
        np.concatenate(residuals),
        np.concatenate(relatives),
        labels,
        inputs=train.inputs,
        outputs=train.outputs,
        log_scale=log_scale,
        ranges=ranges,
    )
