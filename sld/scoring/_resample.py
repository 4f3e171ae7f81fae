"""The final pick's bootstrap (:mod:`sld.scoring._pick`, steps 2 and 3): every fold's fit rows
resampled with replacement within each group, all resamples of all folds as groups of one
batched fit per law, and the pessimistic error a law's resampled selection errors give.

Deterministic for a seed: resample ``b`` draws from ``numpy.random.default_rng([seed, b])``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sld.corpus import Fold, Split
from sld.fit import fit_many
from sld.law import Law

from ._evaluate import evaluate
from ._reports import FoldScore
from ._selection import FOLD_SEP, selection_error

BOOT_SEP = "\x1e"  # joins resample index and (fold, group) name


def _boot_group(sample: int, fold: int, group: str) -> str:
    return f"{sample}{BOOT_SEP}{fold}{FOLD_SEP}{group}"


def resampled_folds(folds: Sequence[Fold], *, samples: int, seed: int) -> Split:
    """All resamples of every fold's fit rows as groups of one Split (named by :func:`_boot_group`)."""
    groups, X, y = [], [], []
    first = folds[0].fit
    for b in range(samples):
        rng = np.random.default_rng([seed, b])
        for fold in folds:
            for group, x_g, y_g in zip(fold.fit.groups, fold.fit.X, fold.fit.y, strict=True):
                if len(x_g) == 0:
                    continue
                idx = rng.integers(0, len(x_g), size=len(x_g))
                groups.append(_boot_group(b, fold.index, group))
                X.append(x_g[idx])
                y.append(y_g[idx])
    return Split(tuple(groups), first.inputs, first.outputs, tuple(X), tuple(y))


def bootstrap_errors(
    laws: Sequence[Law],
    folds: Sequence[Fold],
    rows: Split,
    *,
    samples: int,
    restarts: int,
    seed: int,
    narrow: int = 0,
) -> list[list[float]]:
    """Per law, its selection error on each resample in ``rows`` (inf where it could not be
    fitted). Each law's resamples are one batched fit of its own, whatever else is in ``laws``
    (``narrow``: :class:`sld.fit.Fidelity`)."""
    fits = fit_many(laws, rows, restarts=restarts, seed=seed + 1, narrow=narrow)
    out = []
    for law, fit in zip(laws, fits, strict=True):
        # a group without parameters predicts NaN, so its fold scores None: no need for fit.ok
        usable = fit.model_copy(update={"ok": True})
        errors = []
        for b in range(samples):
            scores = []
            for fold in folds:
                names = [_boot_group(b, fold.index, g) for g in fold.score.groups]
                metrics, _ = evaluate(law, usable, fold.score, names=names)
                scores.append(
                    FoldScore(
                        index=fold.index,
                        fit_rows=fold.fit.n_rows,
                        rows=fold.score.n_rows,
                        nmse=metrics.nmse if metrics else None,
                        r2=metrics.r2 if metrics else None,
                    )
                )
            errors.append(selection_error(scores))
        out.append(errors)
    return out


def pessimistic(errors: Sequence[float], *, point: float, quantile: float) -> float:
    """The ``quantile`` of ``errors`` (in log), at least ``point``; inf when more than
    1 − ``quantile`` of them are not finite."""
    finite = [e for e in errors if math.isfinite(e)]
    if len(finite) < quantile * len(errors):
        return math.inf
    logs = [math.log10(max(e, 1e-12)) if math.isfinite(e) else math.inf for e in errors]
    bound = float(10 ** np.quantile(logs, quantile, method="higher"))
    return max(bound, point) if math.isfinite(bound) else bound
