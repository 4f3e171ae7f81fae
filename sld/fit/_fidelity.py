"""How much work a fit spends: the full fit that selection uses, or a cheap screen.

A screen ranks many candidate laws quickly so that only the promising ones get a
full fit. It may use fewer restarts, fewer LM iterations and, on large tasks, a
seeded subsample of each group's rows (the subsample depends only on the seed
and the rows, so a screen is reproducible).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sld.errors import FitError

from ._data import GroupedRows


class Fidelity(BaseModel):
    """Restarts, LM iterations, rows per group and float precision of one fit.

    ``polish``: iterations past ``max_iter`` that each group's best restart may run on
    alone once the batch reaches its cap (:func:`sld.fit._polish.lm_polish`; 0: none).
    ``max_rows``: a group with more training rows is fitted on ``max_rows`` of them,
    drawn without replacement by a generator seeded with (fit seed, group index);
    None uses every row. ``dtype="float32"`` halves memory traffic; meant for
    screening only (its losses are coarser and its restarts converge less often).
    ``narrow``: where a batch's groups hold many residuals (:data:`sld.fit._run.NARROW_ROWS`),
    the restarts run ``narrow`` at a time for :data:`sld.fit._run.NARROW_AT` iterations and
    only each group's best ``narrow`` run on (:mod:`sld.fit._narrow`; 0: every restart runs
    to the end). Even, and ``restarts`` a multiple of at least twice it, or it does nothing.
    """

    model_config = ConfigDict(frozen=True)

    restarts: int = Field(default=16, ge=1)
    max_iter: int = Field(default=200, ge=0)
    polish: int = Field(default=0, ge=0)
    narrow: int = Field(default=0, ge=0)
    max_rows: int | None = Field(default=None, ge=8)
    dtype: Literal["float64", "float32"] = "float64"

    @property
    def is_full(self) -> bool:
        """True when every row is used in float64 (restarts and iterations may still differ)."""
        return self.max_rows is None and self.dtype == "float64"


FULL = Fidelity()
# A screen measured on random vocab / lr_bsz laws (bench/screen_bench.py): see that script
# for the rank correlation with the full fit and the speed-up.
SCREEN = Fidelity(restarts=4, max_iter=40, max_rows=256)


@dataclass(frozen=True)
class SubsampledRows:
    """Plain grouped rows (what ``subsample`` returns)."""

    groups: tuple[str, ...]
    X: tuple[np.ndarray, ...]
    y: tuple[np.ndarray, ...]


def subsample(rows: GroupedRows, *, max_rows: int | None, seed: int) -> GroupedRows:
    """Each group's rows, or ``max_rows`` of them chosen by ``default_rng((seed, group index))``.

    The chosen rows keep their original order. Groups at or under the limit are untouched.
    """
    if max_rows is None:
        return rows
    if max_rows < 1:
        raise FitError(f"max_rows must be at least 1, got {max_rows}")
    X, y = [], []
    changed = False
    for g, (x_g, y_g) in enumerate(zip(rows.X, rows.y, strict=True)):
        n = len(x_g)
        if n > max_rows:
            rng = np.random.default_rng((seed, g))
            keep = np.sort(rng.choice(n, size=max_rows, replace=False))
            x_g, y_g = np.asarray(x_g)[keep], np.asarray(y_g)[keep]
            changed = True
        X.append(x_g)
        y.append(y_g)
    if not changed:
        return rows
    return SubsampledRows(groups=tuple(rows.groups), X=tuple(X), y=tuple(y))
