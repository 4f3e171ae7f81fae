"""Narrowing the restarts: every start gets a short run, the best few get the long one.

A fit starts R restarts per group, and most of an LM batch's work goes to iterating all R
to the cap or the stall exit, though the fit reports only each group's best. Here the R
restarts run in chunks of ``keep`` (one compiled shape, ``(G, keep)``) for the first
``at`` iterations; then each group keeps its ``keep`` restarts of lowest F and only
those run on. A restart's λ, ν, damping weights and flags go with it, and the stall
window goes on as in one batch of all R (started afresh, it made every narrowed fit run at
least a window past ``at``).

Work per group, in restart-iterations, for a batch that runs to the cap ``I``::

    R·I  →  R·at + keep·(I − at)        (R = 16, keep = 8, at = 20, I = 200: 3200 → 1760)

while a fit that stops early runs R/keep short loops before the long one, each a loop's
fixed cost per iteration: narrowing pays where rows, not iterations, set the cost
(``NARROW_ROWS`` in :mod:`sld.fit._run`).

With ``damping="mixed"`` a restart damps by the parity of its index (:mod:`sld.fit._lm`),
so the chunks are contiguous and of even size, and each group keeps ``keep/2`` restarts of
each parity, in slots of that parity: no restart changes its damping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

PER_RESTART = ("p", "lam", "nu", "active", "converged", "good", "dsq")


def narrows(*, restarts: int, keep: int, at: int, max_iter: int) -> bool:
    """Whether a batch of ``restarts`` narrows to ``keep``: keep even, R a multiple of at least 2·keep, and iterations left past ``at``."""
    return (
        keep > 0
        and keep % 2 == 0
        and restarts >= 2 * keep
        and restarts % keep == 0
        and 0 < at < max_iter
    )


def chunks(carry: Mapping[str, np.ndarray], *, keep: int) -> list[dict[str, np.ndarray]]:
    """The carry (per-restart arrays ``(G, R, …)``) cut into R/keep carries of ``keep`` restarts each, in order."""
    R = np.shape(carry["p"])[1]
    return [
        {k: (np.asarray(v)[:, i : i + keep] if k in PER_RESTART else v) for k, v in carry.items()}
        for i in range(0, R, keep)
    ]


def kept(
    outs: Sequence[Mapping[str, Any]], *, keep: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The carry of each group's ``keep`` best restarts over the chunks' outputs, and each group's finite restarts.

    outs: :func:`sld.fit._lm.lm_run` outputs of the chunks, in order. Best: lowest F among good
    restarts, ties to the lower index; ``keep/2`` of each index parity, kept in slots of their
    parity. Returns the new carry (``it`` the chunks' largest; the stall window from the
    chunks' earliest reference and lowest reference best, stalled where every chunk
    stalled) and the count of good restarts per group over all R, (G,).
    """
    whole = {
        k: np.concatenate([np.asarray(o[k]) for o in outs], axis=1) for k in (*PER_RESTART, "F")
    }
    good = whole["good"] & np.isfinite(whole["F"])
    score = np.where(good, whole["F"], np.inf)
    G, R = score.shape
    chosen = np.empty((G, keep), dtype=np.int64)
    for parity in (0, 1):
        index = np.arange(parity, R, 2)
        order = np.argsort(score[:, index], axis=1, kind="stable")[:, : keep // 2]
        chosen[:, parity::2] = index[order]
    carry = {
        k: np.take_along_axis(
            whole[k], chosen.reshape(G, keep, *([1] * (whole[k].ndim - 2))), axis=1
        )
        for k in PER_RESTART
    }
    # the stall window goes on where the chunks left it, as in one batch of all R: the group's
    # reference best is the lowest of the chunks' (the best kept), from the earliest reference
    carry.update(
        it=np.asarray(max(int(np.asarray(o["it"])) for o in outs), dtype=np.int32),
        ref_it=np.asarray(min(int(np.asarray(o["ref_it"])) for o in outs), dtype=np.int32),
        best_ref=np.min([np.asarray(o["best_ref"]) for o in outs], axis=0),
        stalled=np.asarray(all(bool(np.asarray(o["stalled"])) for o in outs)),
    )
    return carry, good.sum(axis=1)
