"""The evaluation protocol: fit on training rows, score on validation or held-out rows.

Two separate paths, on purpose:

* :func:`validation_score` fits on ``task.search_train()`` (training rows minus
  the validation slice) and scores on ``task.validation()`` (the largest-scale
  training rows). This is the only score search and selection may use; it never
  touches test rows.
* :func:`heldout_score` fits on all of ``task.train()`` and scores on
  ``task.heldout()``. It is called for reporting, after selection.

:func:`score` is the public entry point that dispatches on ``split``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from sld.corpus import Task, load_task
from sld.errors import ConfigError
from sld.fit import FitResult, fit_law, fit_many, predict
from sld.law import Law, parse_law
from sld.metrics import metrics_or_reason

Split = Literal["validation", "test"]


class MetricsReport(BaseModel):
    """R², NMSE, NMAE on the evaluated rows (SLDBench definitions, averaged over outputs)."""

    r2: float
    r2_clipped: float
    nmse: float
    nmae: float
    rows: int


class BootstrapInterval(BaseModel):
    """Percentile 95 % interval of R² over refits on resampled training rows."""

    low: float
    high: float
    median: float
    samples: int
    failed: int


class ScoreReport(BaseModel):
    """Everything one scoring of one law on one task produced; JSON-serialisable."""

    model_config = ConfigDict(arbitrary_types_allowed=False)

    task: str
    law: str
    key: str
    split: Split
    ok: bool
    reason: str | None
    complexity: int
    n_parameters: int
    parameters: dict[str, dict[str, float]]
    metrics: MetricsReport | None
    fit: FitResult
    bootstrap: BootstrapInterval | None = None
    seconds: dict[str, float]

    @property
    def r2(self) -> float:
        """R² on the evaluated rows, NaN when the law could not be scored."""
        return self.metrics.r2 if self.metrics is not None else float("nan")

    def to_frame(self) -> pd.DataFrame:
        """The scores as one row: task, law, split, ok, the metrics (NaN when not scored),
        bootstrap interval, complexity, parameter count, converged, train loss."""
        m, b = self.metrics, self.bootstrap
        nan = float("nan")
        row = {
            "task": self.task,
            "law": self.law,
            "split": self.split,
            "ok": self.ok,
            "r2": m.r2 if m else nan,
            "r2_clipped": m.r2_clipped if m else nan,
            "nmse": m.nmse if m else nan,
            "nmae": m.nmae if m else nan,
            "rows": m.rows if m else 0,
            "r2_low": b.low if b else nan,
            "r2_high": b.high if b else nan,
            "complexity": self.complexity,
            "n_parameters": self.n_parameters,
            "converged": self.fit.converged,
            "train_loss": self.fit.train_loss,
        }
        return pd.DataFrame([row])

    def parameters_frame(self) -> pd.DataFrame:
        """Per-group parameters (see :meth:`sld.fit.FitResult.to_frame`)."""
        return self.fit.to_frame()

    def predictions(self, task: Task) -> pd.DataFrame:
        """Every row of ``task`` with this fit's prediction, for plots and residuals.

        Columns: ``group``, ``split`` (``train``, ``validation`` or ``test``: the row's role in
        the task), ``fitted`` (the fit saw the row: training rows, plus the validation slice
        for a ``test`` score), the inputs, then per output its value and ``<output>_predicted``
        (NaN in a group without parameters).
        """
        law = parse_for_task(self.law, task, max_params=max(self.n_parameters, 1))
        parts = []
        for role, rows in (
            ("train", task.search_train()),
            ("validation", task.validation()),
            ("test", task.heldout()),
        ):
            frame = rows.frame()
            with np.errstate(all="ignore"):
                predicted, _ = predict_rows(law, self.fit, rows)
            frame.insert(1, "split", role)
            frame.insert(
                2, "fitted", role == "train" or (role == "validation" and self.split == "test")
            )
            for j, name in enumerate(task.outputs):
                frame[f"{name}_predicted"] = predicted[:, j]
            parts.append(frame)
        return pd.concat(parts, ignore_index=True)


def resolve_task(task: str | Path | Task) -> Task:
    """A Task from a Task, a curated task name, or a path to a user CSV / card."""
    if isinstance(task, Task):
        return task
    return load_task(task)


def parse_for_task(
    law: str | Sequence[str] | Law, task: Task, *, max_params: int | None = None
) -> Law:
    """Parse ``law`` against the task's inputs, aliases, outputs and parameter limit."""
    if isinstance(law, Law):
        return law
    return parse_law(
        law,
        inputs=task.inputs,
        outputs=task.outputs,
        aliases=task.aliases,
        max_params=max_params if max_params is not None else task.max_params,
    )


def predict_rows(law: Law, fit: FitResult, rows: Any) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and targets stacked over the groups of ``rows`` (each group with its own parameters).

    Returns ``(predicted, actual)``, both (total_rows, outputs).
    """
    predicted, actual = [], []
    for group, x, y in zip(rows.groups, rows.X, rows.y, strict=True):
        if len(x) == 0:
            continue
        params = fit.parameters.get(group)
        if params is None:
            predicted.append(np.full(y.shape, np.nan))
        else:
            predicted.append(np.asarray(predict(law, params, x), dtype=np.float64).reshape(y.shape))
        actual.append(y)
    if not actual:
        return np.zeros((0, len(law.outputs))), np.zeros((0, len(law.outputs)))
    return np.concatenate(predicted), np.concatenate(actual)


def _evaluate(law: Law, fit: FitResult, rows: Any) -> tuple[MetricsReport | None, str | None]:
    if not fit.ok:
        return None, fit.reason or "the fit failed"
    with np.errstate(all="ignore"):
        predicted, actual = predict_rows(law, fit, rows)
    if len(actual) == 0:
        return None, "no rows to evaluate"
    metrics, reason = metrics_or_reason(predicted, actual)
    if metrics is None:
        return None, reason
    return (
        MetricsReport(
            r2=metrics.r2,
            r2_clipped=metrics.r2_clipped,
            nmse=metrics.nmse,
            nmae=metrics.nmae,
            rows=metrics.rows,
        ),
        None,
    )


def _resample(rows: Any, rng: np.random.Generator) -> Any:
    """The same groups, each with its training rows drawn with replacement."""
    X, y = [], []
    for x_g, y_g in zip(rows.X, rows.y, strict=True):
        idx = rng.integers(0, len(x_g), size=len(x_g)) if len(x_g) else np.zeros(0, dtype=int)
        X.append(x_g[idx])
        y.append(y_g[idx])
    return dataclasses.replace(rows, X=tuple(X), y=tuple(y))


def _report(
    law: Law,
    task: Task,
    *,
    split: Split,
    fit: FitResult,
    metrics: MetricsReport | None,
    reason: str | None,
    seconds: dict[str, float],
    interval: BootstrapInterval | None = None,
) -> ScoreReport:
    return ScoreReport(
        task=task.name,
        law=law.text,
        key=law.key,
        split=split,
        ok=metrics is not None,
        reason=reason,
        complexity=law.complexity,
        n_parameters=len(law.parameters),
        parameters=fit.parameters,
        metrics=metrics,
        fit=fit,
        bootstrap=interval,
        seconds=seconds,
    )


def _score(
    law: Law,
    task: Task,
    *,
    split: Split,
    fit_rows: Any,
    eval_rows: Any,
    seed: int,
    bootstrap: int,
    restarts: int,
) -> ScoreReport:
    started = time.perf_counter()
    fit = fit_law(law, fit_rows, restarts=restarts, seed=seed)
    fitted = time.perf_counter()
    metrics, reason = _evaluate(law, fit, eval_rows)
    evaluated = time.perf_counter()
    interval = None
    if bootstrap > 0 and metrics is not None:
        rng = np.random.default_rng(seed)
        values, failed = [], 0
        for b in range(bootstrap):
            refit = fit_law(law, _resample(fit_rows, rng), restarts=restarts, seed=seed + 1 + b)
            m, _ = _evaluate(law, refit, eval_rows)
            if m is None:
                failed += 1
            else:
                values.append(m.r2)
        if values:
            interval = BootstrapInterval(
                low=float(np.percentile(values, 2.5)),
                high=float(np.percentile(values, 97.5)),
                median=float(np.median(values)),
                samples=len(values),
                failed=failed,
            )
    return _report(
        law,
        task,
        split=split,
        fit=fit,
        metrics=metrics,
        reason=reason,
        interval=interval,
        seconds={
            "fit": fitted - started,
            "evaluate": evaluated - fitted,
            "bootstrap": time.perf_counter() - evaluated,
            "total": time.perf_counter() - started,
        },
    )


def validation_score(
    law: Law, task: Task, *, seed: int = 0, bootstrap: int = 0, restarts: int = 16
) -> ScoreReport:
    """Fit on training rows minus the validation slice; score on the validation slice.

    The selection path: reads only ``task.search_train()`` and ``task.validation()``.
    """
    return _score(
        law,
        task,
        split="validation",
        fit_rows=task.search_train(),
        eval_rows=task.validation(),
        seed=seed,
        bootstrap=bootstrap,
        restarts=restarts,
    )


def validation_scores(
    laws: Sequence[Law], task: Task, *, seed: int = 0, restarts: int = 16
) -> list[ScoreReport]:
    """:func:`validation_score` for many laws at once, through the batched fitter.

    Same fits as one-by-one (same starting points, same LM); compiles nothing
    per law, so it is what search uses.
    """
    if not laws:
        return []
    fit_rows, eval_rows = task.search_train(), task.validation()
    started = time.perf_counter()
    fits = fit_many(laws, fit_rows, restarts=restarts, seed=seed)
    share = (time.perf_counter() - started) / len(laws)
    reports = []
    for law, fit in zip(laws, fits, strict=True):
        t0 = time.perf_counter()
        metrics, reason = _evaluate(law, fit, eval_rows)
        evaluated = time.perf_counter() - t0
        seconds = {
            "fit": share,
            "evaluate": evaluated,
            "bootstrap": 0.0,
            "total": share + evaluated,
        }
        reports.append(
            _report(
                law,
                task,
                split="validation",
                fit=fit,
                metrics=metrics,
                reason=reason,
                seconds=seconds,
            )
        )
    return reports


def heldout_score(
    law: Law, task: Task, *, seed: int = 0, bootstrap: int = 0, restarts: int = 16
) -> ScoreReport:
    """Fit on all training rows; score on the held-out test rows. For reporting only."""
    return _score(
        law,
        task,
        split="test",
        fit_rows=task.train(),
        eval_rows=task.heldout(),
        seed=seed,
        bootstrap=bootstrap,
        restarts=restarts,
    )


def score(
    law: str | Sequence[str] | Law,
    task: str | Path | Task,
    *,
    split: Split = "validation",
    seed: int = 0,
    bootstrap: int = 0,
    restarts: int = 16,
    max_params: int | None = None,
) -> ScoreReport:
    """Fit ``law`` on the task's training rows and score it on ``split``.

    ``split="validation"``: fit on train minus the validation slice, score on the
    slice (what search uses). ``split="test"``: fit on all training rows, score on
    the held-out rows. ``bootstrap=B`` adds a 95 % interval of R² from B refits
    on training rows resampled with replacement within each group.
    """
    if split not in ("validation", "test"):
        raise ConfigError(f"split must be 'validation' or 'test', got {split!r}")
    if bootstrap < 0:
        raise ConfigError(f"bootstrap must be >= 0, got {bootstrap}")
    if restarts < 1:
        raise ConfigError(f"restarts must be >= 1, got {restarts}")
    the_task = resolve_task(task)
    the_law = parse_for_task(law, the_task, max_params=max_params)
    path = validation_score if split == "validation" else heldout_score
    return path(the_law, the_task, seed=seed, bootstrap=bootstrap, restarts=restarts)
