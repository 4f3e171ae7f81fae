"""The screening path: a cheap fit of many laws on the validation fold, to rank them.

Search screens every new candidate before it gets the full selection fit
(:func:`sld.scoring.selection_scores`): each law is fitted at a reduced
:class:`sld.fit.Fidelity` (few restarts, few LM iterations, a seeded row subsample)
on fold 0's fit rows (``search_train()``) and scored on fold 0's band
(``validation()``), in one :func:`sld.fit.fit_many` call. The screen only orders
laws; it never seeds or replaces the full fit, so a promoted law's selection score
is the one it would have had without screening. Training rows only, like the rest
of the selection path.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from sld.corpus import Task
from sld.fit import SCREEN, Fidelity, fit_many
from sld.law import Law

from ._evaluate import evaluate
from ._reports import FoldScore, ScoreReport, validation_report


def screen_scores(
    laws: Sequence[Law], task: Task, *, seed: int = 0, fidelity: Fidelity = SCREEN
) -> list[ScoreReport]:
    """Fold 0's validation score of each law fitted at ``fidelity`` (one batched fit).

    ``selection_error`` is fold 0's NMSE (inf when the law could not be fitted or
    scored); ``fit.fidelity`` records the screen; ``checks`` is None (not run).
    """
    if not laws:
        return []
    fold = task.folds()[0]
    started = time.perf_counter()
    fits = fit_many(laws, fold.fit, seed=seed, fidelity=fidelity)
    share = (time.perf_counter() - started) / len(laws)
    reports = []
    for law, fit in zip(laws, fits, strict=True):
        t0 = time.perf_counter()
        metrics, reason = evaluate(law, fit, fold.score)
        nmse = metrics.nmse if metrics is not None else math.inf
        error = nmse if math.isfinite(nmse) else math.inf
        spent = time.perf_counter() - t0
        reports.append(
            validation_report(
                law,
                task,
                fit=fit,
                metrics=metrics,
                reason=reason,
                folds=[
                    FoldScore(
                        index=fold.index,
                        fit_rows=fold.fit.n_rows,
                        rows=fold.score.n_rows,
                        nmse=metrics.nmse if metrics is not None else None,
                        r2=metrics.r2 if metrics is not None else None,
                        reason=reason,
                    )
                ],
                error=error,
                seconds_fit=share,
                seconds_evaluate=spent,
            )
        )
    return reports


def screen_promoted(errors: Sequence[float], *, share: float) -> list[int]:
    """Indices of the ``ceil(share * n)`` lowest screen errors (at least one), in input order.

    Ties and non-finite errors keep input order (a stable sort; non-finite rank last),
    so the choice depends only on the errors, never on timing.
    """
    n = len(errors)
    if n == 0:
        return []
    keep = max(1, min(n, math.ceil(share * n - 1e-9)))
    order = sorted(range(n), key=lambda i: errors[i] if math.isfinite(errors[i]) else math.inf)
    return sorted(order[:keep])
