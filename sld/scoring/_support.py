"""How well a law's fit rows alone support it: the Bayesian information criterion of its fit.

The selection error reads how a law extrapolates to the fold bands. With few folds and few
rows in a band, a search that compares thousands of laws on the same band rows finds some
whose extra term happens to bend toward them (the winner's curse), while the rows the law
was fitted on gain almost nothing from that term. The criterion asks the other question,
on the fit rows only: is each parameter paid for by the fit it buys::

    BIC = sum over groups g of ( m_g * ln(loss_g) + P * ln(m_g) )

with ``loss_g`` the fit's mean squared scaled residual of group g (:class:`sld.fit.FitResult`
``group_loss``; a Huber fit's mean of 2·huber_δ, read the same way), ``m_g`` the values it
was fitted on (rows × outputs), and ``P`` the law's free parameters (each group fits its
own). Lower is better; it compares laws fitted on the same rows only. ``loss_g`` is floored
at 1e-300, so an exact fit is very low, not minus infinity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

LOSS_FLOOR = 1e-300


def information_criterion(
    group_loss: Mapping[str, float], *, values: Mapping[str, int], n_params: int
) -> float:
    """The BIC of a fit (module docstring): ``group_loss`` per group, ``values`` per group
    (rows × outputs it was fitted on). Infinite when a group of ``values`` has no finite loss."""
    total = 0.0
    for group, m in values.items():
        if m <= 0:
            continue
        loss = group_loss.get(group)
        if loss is None or not math.isfinite(loss):
            return math.inf
        total += m * math.log(max(loss, LOSS_FLOOR)) + n_params * math.log(m)
    return total
