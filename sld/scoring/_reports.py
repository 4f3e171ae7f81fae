"""What scoring produces: metrics, fold scores, checks, the score report and the pick's report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, TypedDict

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from sld.fit import FitResult

from ._diagnostics import ResidualDiagnostics
from ._rows import parse_for_task, predict_rows
from ._window import WindowScore

if TYPE_CHECKING:
    from sld.corpus import Task
    from sld.law import Law

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


class FoldScore(BaseModel):
    """One selection fold: the law fitted on the fold's lower rows, scored on its band.

    ``nmse``/``r2`` are None (with ``reason``) when the law could not be fitted or scored.
    """

    index: int
    fit_rows: int
    rows: int
    nmse: float | None
    r2: float | None
    reason: str | None = None


class CheckReport(BaseModel):
    """The extrapolation checks (inputs only, never labels) and why a law failed them.

    ``reasons`` is empty when every check passed; ``probes`` counts the points evaluated.
    """

    passed: bool
    reasons: list[str]
    probes: int


class ScoreReport(BaseModel):
    """Everything one scoring of one law on one task produced; JSON-serialisable.

    For the selection path (``split="validation"``): ``metrics`` and ``fit`` are fold 0's
    (fitted on ``search_train()``, scored on ``validation()``); ``folds`` holds every
    fold's score, ``selection_error`` their aggregate (:func:`sld.scoring.selection_error`)
    and ``checks`` the extrapolation checks; ``diagnostics`` says where the fold fits miss
    their bands (:mod:`sld.scoring._diagnostics`). The held-out path leaves those four empty.
    """

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
    folds: list[FoldScore] = []
    selection_error: float | None = None
    checks: CheckReport | None = None
    diagnostics: ResidualDiagnostics | None = None

    @property
    def r2(self) -> float:
        """R² on the evaluated rows, NaN when the law could not be scored."""
        return self.metrics.r2 if self.metrics is not None else float("nan")

    def to_frame(self) -> pd.DataFrame:
        """The scores as one row: task, law, split, ok, the metrics (NaN when not scored),
        bootstrap interval, complexity, parameter count, converged, train loss, selection error."""
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
            "selection_error": self.selection_error if self.selection_error is not None else nan,
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

    @property
    def error(self) -> float:
        """The selection error (inf when unscored); for held-out reports, the NMSE."""
        if self.selection_error is not None:
            return self.selection_error
        if self.metrics is not None and math.isfinite(self.metrics.nmse):
            return self.metrics.nmse
        return math.inf


def validation_report(
    law: Law,
    task: Task,
    *,
    fit: FitResult,
    metrics: MetricsReport | None,
    reason: str | None,
    folds: list[FoldScore],
    error: float,
    seconds_fit: float,
    seconds_evaluate: float,
    checks: CheckReport | None = None,
    diagnostics: ResidualDiagnostics | None = None,
) -> ScoreReport:
    """The search side's report of one law (``split="validation"``): ``fit`` and ``metrics``
    are fold 0's, ``error`` the selection error; ``ok`` when fold 0 scored and ``error`` is
    finite. Shared by the screen and the full selection scoring."""
    total = seconds_fit + seconds_evaluate
    return ScoreReport(
        task=task.name,
        law=law.text,
        key=law.key,
        split="validation",
        ok=metrics is not None and math.isfinite(error),
        reason=reason,
        complexity=law.complexity,
        n_parameters=len(law.parameters),
        parameters=fit.parameters,
        metrics=metrics,
        fit=fit,
        seconds={
            "fit": seconds_fit,
            "evaluate": seconds_evaluate,
            "bootstrap": 0.0,
            "total": total,
        },
        folds=folds,
        selection_error=error,
        checks=checks,
        diagnostics=diagnostics,
    )


class PickSettingsDict(TypedDict):
    """The options of :func:`final_pick` that every :class:`PickReport` repeats."""

    restarts: int
    bootstrap: int
    quantile: float
    node_weight: float
    param_weight: float
    parsimony: bool
    consensus: bool
    steady: bool
    window_restarts: int
    polish: int
    narrow: int
    frozen: bool


class PickEntry(BaseModel):
    """One law the pick looked at, and how it fared."""

    id: int
    law: str
    complexity: int
    n_params: int
    frozen_terms: int = 0  # summands no fit scales (Law.frozen_terms); 0 in older reports
    folds: list[FoldScore]
    error: float
    bound: float | None  # None: not resampled, its point error could not win (module docstring)
    samples: int
    failed: int
    checks: CheckReport | None
    fitness: float
    rank: int

    def frozen_suffix(self, charged: bool) -> str:
        """``" + 1 frozen term"`` when the pick ``charged`` frozen terms and this law has any,
        else ``""``: what follows its parameter count in the pick's reason."""
        if not (charged and self.frozen_terms):
            return ""
        return f" + {self.frozen_terms} frozen term{'s' if self.frozen_terms > 1 else ''}"


def pick_entry(
    cid: int,
    law: Law,
    report: ScoreReport,
    *,
    point: float,
    drawn: tuple[float, list[float], float] | None,
    resampling: bool,
) -> PickEntry:
    """The pick's entry for candidate ``cid``: with ``drawn`` (bound, resampled errors,
    fitness) a resampled law; without, its point fitness ``point`` (a lower bound on its
    fitness when the pick resamples and skipped it) and, when the pick draws no resamples
    at all (not ``resampling``), its point error as its bound."""
    bound = None if resampling else report.error
    bound, errors, score = drawn if drawn is not None else (bound, [], point)
    return PickEntry(
        id=cid,
        law=law.text,
        complexity=law.complexity,
        n_params=len(law.parameters),
        frozen_terms=law.frozen_terms,
        folds=report.folds,
        error=report.error,
        bound=bound,
        samples=len(errors),
        failed=sum(1 for e in errors if not math.isfinite(e)),
        checks=report.checks,
        fitness=score,
        rank=0,
    )


class PickReport(BaseModel):
    """The final pick: every entry (ranked) and the chosen candidate id (None if nothing scored).

    ``window`` is the fit window every entry was scored under; ``windows`` every one tried.
    """

    chosen: int | None
    entries: list[PickEntry]
    restarts: int
    bootstrap: int
    quantile: float
    node_weight: float
    param_weight: float
    parsimony: bool = False  # reports stored before the rule existed picked without it
    consensus: bool = False  # likewise
    steady: bool = False  # likewise
    window_restarts: int | None = None  # None: stored before windows were screened (at restarts)
    polish: int = 0  # 0: none (and every report stored before the option existed)
    narrow: int = 0  # 0: none (and every report stored before the option existed)
    frozen: bool = False  # reports stored before frozen terms were charged did not charge them
    unfreeze: bool = False  # whether frozen-term laws gave way to unfrozen variants (sld.evolve)
    unfrozen: dict[int, int] = {}  # variant id -> the id of the law whose place it took
    routes: dict[int, str] = {}  # id -> the route that brought it to the pool (sld.evolve.pool)
    window: float = 0.0  # reports stored before fit windows fitted on every row
    windows: list[WindowScore] = []
    reason: str


def pick_notes(ranked: Sequence[PickEntry], *, skipped: int, demoted: Sequence[int]) -> str:
    """The notes a pick's reason ends with (before its fit window's): laws left out of the
    resampling (``skipped``), no law passing every check (``ranked[0]``, the pick, fails
    one), and the candidate ids step 7 demoted; "" when none applies."""
    why = ""
    if skipped:
        why += (
            f"; {skipped} of {len(ranked)} laws not resampled, "
            "their penalised point errors already above the leader's"
        )
    if ranked[0].checks is not None and not ranked[0].checks.passed:
        why += "; no candidate passed every extrapolation check"
    if demoted:
        why += (
            f"; {', '.join(f'#{d}' for d in demoted)} demoted: fitted on every training row "
            "of the window, as the law is handed on, it fails a check its fold fits passed"
        )
    return why
