"""The fit window the final pick keeps (:func:`sld.scoring.final_pick`, step 0).

Each share tried is summarised by its best law's penalised point fitness; the kept share
minimises ::

    fitness(share) + (WINDOW_MARGIN if share > 0 else 0)        ties: the smaller share

The windows are chosen on the folds they are judged on, so a share that leaves rows out
must gain a clear margin over fitting on every row, not a sliver
(``bench/selection_sweep.md``, "Fit windows").
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
    """The share among ``tried`` with the lowest best fitness, a share above 0 counted
    ``margin`` decades worse (module docstring); ties go to the smaller share."""
    return min(tried, key=lambda w: (w.fitness + (margin if w.share > 0 else 0.0), w.share)).share


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
