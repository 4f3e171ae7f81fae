"""The fit a pick delivers, checked as its fold fits were.

The final pick judges a law by its fold fits, but the law it hands on is fitted once more,
on every training row of the kept fit window (:meth:`sld.corpus.Task.window_train`: what
the held-out path and the report's parameters use). That fit can land in another basin
than the folds' — a power with a vanishing exponent set against a constant of the
opposite sign, say, that turns a declared-falling input upward — and the checks the pick
reports would then speak for fits nobody is given. :func:`delivered_checks` fits the law
exactly as :func:`sld.scoring.heldout_score` does (same rows, restarts, seed and polish)
and runs the extrapolation checks on that fit (:mod:`sld.scoring._checks`; inputs only,
training outputs for their sign and spread, never a label).
"""

from __future__ import annotations

from collections.abc import Mapping

from sld.corpus import Task
from sld.fit import fit_law
from sld.law import Law

from ._checks import task_checks
from ._reports import CheckReport

DELIVERED = "fitted on every training row, "  # prefix of a delivered fit's check reasons


def delivered_checks(
    law: Law,
    task: Task,
    *,
    seed: int,
    restarts: int,
    polish: int = 0,
    monotone: Mapping[str, int] | None = None,
) -> CheckReport:
    """The checks of ``law`` fitted on ``task.window_train()`` as the held-out path fits it;
    each reason starts with :data:`DELIVERED`. A fit that fails outright fails the checks."""
    fit = fit_law(law, task.window_train(), restarts=restarts, seed=seed, polish=polish)
    if not fit.ok:
        reason = fit.reason or "the fit failed"
        return CheckReport(passed=False, reasons=[f"{DELIVERED}{reason}"], probes=0)
    report = task_checks(law, fit, task, monotone=monotone)
    return report.model_copy(update={"reasons": [f"{DELIVERED}{r}" for r in report.reasons]})
