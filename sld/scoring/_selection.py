"""The selection path: every fold of many laws in one batched fit, the aggregate error, fitness.

A law is fitted on each fold's lower rows and scored on the fold's band
(:mod:`sld.corpus.folds`); every (fold, group) pair is its own group of one
:func:`sld.fit.fit_many` call, so K folds cost one call, not K. Reads only
``task.folds()`` (built from training rows) and training rows for the checks;
never ``task.heldout()``.

Aggregate and fitness::

    selection_error = 10 ** mean_k log10(max(NMSE_k, 1e-12))      (geometric mean over folds)
    fitness = log10(max(selection_error, 1e-12))
              + node_weight * nodes + param_weight * parameters
              + DEMOTION * (failed an extrapolation check)

The geometric mean asks a law to hold on every cutoff: one fold fitted well cannot
hide a fold that extrapolates badly, as a plain mean of NMSEs would let it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

import numpy as np

from sld.corpus import Fold, Split, Task
from sld.fit import FitResult, fit_many
from sld.law import Law

from ._checks import task_checks
from ._diagnostics import residual_diagnostics
from ._evaluate import evaluate
from ._reports import CheckReport, FoldScore, ScoreReport, validation_report

FOLD_SEP = "\x1f"  # joins fold index and group name in the batched fit's group names
DEMOTION = 3.0  # decades of error a failed extrapolation check costs in fitness
FLOOR = 1e-12  # NMSE floor before taking logs


def fold_group(index: int, group: str) -> str:
    """The name of (fold ``index``, ``group``) among the batched fit's groups."""
    return f"{index}{FOLD_SEP}{group}"


def fold_rows(folds: Sequence[Fold]) -> Split:
    """Every fold's fit rows as groups of one Split, named by :func:`fold_group`.

    Groups without rows in a fold are left out.
    """
    groups, X, y = [], [], []
    first = folds[0].fit
    for fold in folds:
        for group, x_g, y_g in zip(fold.fit.groups, fold.fit.X, fold.fit.y, strict=True):
            if len(x_g) == 0:
                continue
            groups.append(fold_group(fold.index, group))
            X.append(x_g)
            y.append(y_g)
    return Split(tuple(groups), first.inputs, first.outputs, tuple(X), tuple(y))


def restrict(fit: FitResult, fold: Fold) -> FitResult:
    """The part of a batched fit that belongs to ``fold``, with plain group names."""
    pairs = zip(fold.fit.groups, fold.fit.X, strict=True)
    names = {fold_group(fold.index, g): g for g, x in pairs if len(x)}
    params = {names[k]: v for k, v in fit.parameters.items() if k in names}
    losses = {names[k]: v for k, v in fit.group_loss.items() if k in names}
    converged = {names[k]: v for k, v in fit.group_converged.items() if k in names}
    missing = [g for g in names.values() if g not in params]
    ok = fit.ok or not missing
    return fit.model_copy(
        update={
            "ok": ok,
            "reason": None if ok else _plain_names(fit.reason, names, fold.index),
            "groups": list(names.values()),
            "parameters": params,
            "group_loss": losses,
            "group_converged": converged,
            "train_loss": float(np.mean(list(losses.values()))) if ok and losses else math.inf,
            "converged": ok and all(converged.values()),
        }
    )


def _fold_starts(
    start: Mapping[str, Mapping[str, float]] | None, folds: Sequence[Fold]
) -> dict[str, Mapping[str, float]] | None:
    """One law's warm start per group, repeated for that group in every fold's fit."""
    if not start:
        return None
    return {fold_group(f.index, g): start[g] for f in folds for g in f.fit.groups if g in start}


def selection_error(folds: Sequence[FoldScore]) -> float:
    """Geometric mean of the folds' NMSEs (floored at 1e-12); inf when any fold is unscored."""
    if not folds:
        return math.inf
    logs = []
    for f in folds:
        if f.nmse is None or not math.isfinite(f.nmse):
            return math.inf
        logs.append(math.log10(max(f.nmse, FLOOR)))
    return float(10 ** np.mean(logs))


def fitness(
    error: float,
    *,
    complexity: int,
    n_params: int,
    node_weight: float,
    param_weight: float,
    demoted: bool = False,
) -> float:
    """Penalised selection error, lower is better (formula in the module docstring); inf if unscored."""
    if not math.isfinite(error):
        return math.inf
    return (
        math.log10(max(error, FLOOR))
        + node_weight * complexity
        + param_weight * n_params
        + (DEMOTION if demoted else 0.0)
    )


def _plain_names(reason: str | None, names: dict[str, str], index: int) -> str | None:
    """``reason`` with each batched group name (:func:`fold_group`) as a reader would say it."""
    for batched, group in names.items():
        reason = reason and reason.replace(repr(batched), f"{group!r} of fold {index}")
    return reason


def score_folds(law: Law, fit: FitResult, folds: Sequence[Fold]) -> list[FoldScore]:
    """Each fold's score of one law from its batched fit."""
    out = []
    for fold in folds:
        metrics, reason = evaluate(law, restrict(fit, fold), fold.score)
        out.append(
            FoldScore(
                index=fold.index,
                fit_rows=fold.fit.n_rows,
                rows=fold.score.n_rows,
                nmse=metrics.nmse if metrics is not None else None,
                r2=metrics.r2 if metrics is not None else None,
                reason=reason,
            )
        )
    return out


def selection_scores(
    laws: Sequence[Law],
    task: Task,
    *,
    seed: int = 0,
    restarts: int = 16,
    max_iter: int = 200,
    polish: int = 0,
    narrow: int = 0,
    checks: bool = True,
    monotone: Mapping[str, int] | None = None,
    starts: Sequence[Mapping[str, Mapping[str, float]] | None] | None = None,
) -> list[ScoreReport]:
    """Fold scores, selection error and extrapolation checks of many laws (one batched fit).

    ``metrics`` and ``fit`` of each report are fold 0's (the validation slice).
    ``monotone`` (input name → +1 / −1) defaults to the task's declared directions.
    ``starts`` (one per law, or None): group → parameter values that warm-start restart 0
    of that group in every fold (a fold-0 ``fit.parameters``, say; see :func:`sld.fit.fit_many`).
    ``polish``: iterations each group's best restart may run on past ``max_iter``
    (:func:`sld.fit.fit_many`; 0, the default: none). ``narrow``: each group's best
    restarts kept after a short run, on large groups (:class:`sld.fit.Fidelity`; 0: none).
    """
    if not laws:
        return []
    folds = task.folds()
    rows = fold_rows(folds)
    directions = dict(monotone if monotone is not None else task.monotone)
    started = time.perf_counter()
    fits = fit_many(
        laws,
        rows,
        restarts=restarts,
        seed=seed,
        max_iter=max_iter,
        polish=polish,
        narrow=narrow,
        starts=None if starts is None else [_fold_starts(s, folds) for s in starts],
    )
    share = (time.perf_counter() - started) / len(laws)
    train = task.train()
    reports = []
    for law, fit in zip(laws, fits, strict=True):
        t0 = time.perf_counter()
        fold_scores = score_folds(law, fit, folds)
        top = restrict(fit, folds[0])
        metrics, reason = evaluate(law, top, folds[0].score)
        check = None
        if checks and top.ok:
            check = task_checks(law, top, task, monotone=directions)
        elif checks:
            check = CheckReport(passed=False, reasons=["the law could not be fitted"], probes=0)
        diagnostics = None
        if top.ok:
            diagnostics = residual_diagnostics(
                law, [restrict(fit, f) for f in folds], folds, train, log_scale=task.log_scale
            )
        error = selection_error(fold_scores)
        if reason is None and not math.isfinite(error):
            reason = next((f.reason for f in fold_scores if f.reason), "a fold could not be scored")
        spent = time.perf_counter() - t0
        reports.append(
            validation_report(
                law,
                task,
                fit=top,
                metrics=metrics,
                reason=reason,
                folds=fold_scores,
                error=error,
                seconds_fit=share,
                seconds_evaluate=spent,
                checks=check,
                diagnostics=diagnostics,
            )
        )
    return reports
