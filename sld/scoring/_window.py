"""The fit window the final pick keeps (:func:`sld.scoring.final_pick`, step 0).

Each share tried is summarised by its best law's penalised point fitness. The best share
``k`` minimises ::

    fitness(share) + (WINDOW_MARGIN if share > 0 else 0)        ties: the smaller share

and where ``k`` is above 0 the kept share is the smallest share above 0 within the margin
of it::

    min {share > 0 : fitness(share) <= fitness(k) + WINDOW_MARGIN}

The windows are chosen on the folds they are judged on, so a share that leaves rows out
must gain a clear margin over fitting on every row, not a sliver
(``bench/selection_sweep.md``, "Fit windows"). The same margin holds between windows:
once leaving rows out has paid, no more rows are left out than a clear gain asks for. A
law fitted on the top quarter of the rows can trade a floor against a near-flat power
(``E + K/N**b`` with ``b`` near 0 spent as a term linear in log N) and win the folds by
less than the margin, then fail one step further out (``bench/RESULTS.md``, "The widest
window within the margin").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel

WINDOW_MARGIN = 0.1  # decades of fitness a fit window must gain over every row


class WindowScore(BaseModel):
    """One fit window the pick tried: its share and its best law's penalised point fitness."""

    share: float
    fitness: float
    best: int | None  # candidate id of that law (None: no law could be scored)


def best_law(fitness: Sequence[float], *, share: float, ids: Sequence[int]) -> WindowScore:
    """The share's summary: its lowest penalised point fitness among laws ``ids`` (in order;
    ties: the earlier), and that law's id (None when no law could be scored)."""
    lead = min(range(len(fitness)), key=lambda i: (fitness[i], i))
    best = ids[lead] if math.isfinite(fitness[lead]) else None
    return WindowScore(share=share, fitness=fitness[lead], best=best)


def choose_window(tried: Sequence[WindowScore], *, margin: float = WINDOW_MARGIN) -> float:
    """The share kept among ``tried`` (module docstring): the lowest best fitness, a share
    above 0 counted ``margin`` decades worse, ties to the smaller share; where that share is
    above 0, the smallest share above 0 within ``margin`` of its fitness."""
    best = min(tried, key=lambda w: (w.fitness + (margin if w.share > 0 else 0.0), w.share))
    if best.share == 0:
        return best.share
    return min(w.share for w in tried if w.share > 0 and w.fitness <= best.fitness + margin)


def window_reason(tried: Sequence[WindowScore], window: float) -> str:
    """The clause of the pick's reason that says which fit window won, and against what."""
    if len(tried) < 2:
        return ""
    kept = next(w for w in tried if w.share == window)
    others = ", ".join(f"{w.fitness:.3g} at {w.share:.0%}" for w in tried if w.share != window)
    where = (
        f"fitted above the lowest {window:.0%} of each group's fit rows by scale"
        if window > 0
        else "fitted on every row"
    )
    return f"; {where}: best point fitness {kept.fitness:.3g}, against {others}"
