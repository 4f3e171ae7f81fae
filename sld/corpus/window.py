"""Fit windows: fit a law on the upper part of its rows along the validation scale only.

A law that holds at scale often misses the smallest runs (barely trained models, sizes
where a term the law leaves out still matters). Fitted to every row it bends toward them,
and it carries that bend one step further out. A fit window of share ``q`` drops the
lowest ``q`` of a group's fit rows by scale::

    keep = scale >= quantile_q(scale)        (numpy's linear quantile over those rows)

widened, when that keeps fewer, to the rows at the group's top ``MIN_FIT_LEVELS``
distinct scale values (every row, when there are no more levels than that), so a
power with a floor can still be pinned. A window narrows fit rows only: every fold's
band is scored as it is, so errors under different windows compare on the same rows.
Which window a run fits with is chosen by the final pick (:func:`sld.scoring.final_pick`)
on those errors, never on held-out rows.
"""

from __future__ import annotations

import numpy as np

from sld.corpus.folds import MIN_FIT_LEVELS


def check_share(share: float) -> float:
    """``share`` if it lies in [0, 1) (the part of the rows a window leaves out); else ValueError."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"a fit window's share must lie in [0, 1), got {share}")
    return share


def window_mask(scale: np.ndarray, *, share: float) -> np.ndarray:
    """Which of one group's fit rows a window of ``share`` keeps; bool (rows,) (formula above).

    ``share`` 0 keeps every row; ``share`` must lie in [0, 1).
    """
    check_share(share)
    keep = np.ones(len(scale), dtype=bool)
    if share == 0.0 or len(scale) == 0:
        return keep
    levels = np.unique(scale)
    if len(levels) <= MIN_FIT_LEVELS:
        return keep
    cut = min(float(np.quantile(scale, share)), float(levels[-MIN_FIT_LEVELS]))
    return scale >= cut
