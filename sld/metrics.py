"""Error metrics exactly as SLDBench defines them.

For each output column j, over the evaluated rows (all groups pooled)::

    NMSE_j = mean((ŷ_j − y_j)²) / Var(y_j)            Var with ddof = 0
    NMAE_j = mean(|ŷ_j − y_j|) / mean(|y_j − mean(y_j)|)
    R²_j   = 1 − NMSE_j

and each metric is the plain average over outputs. Both normalisers are taken
on the evaluated rows themselves (not on training rows). A constant target
column (zero variance) has no defined normalised error: the metric is NaN and
``metrics_or_reason`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metrics:
    """R², NMSE and NMAE averaged over outputs; ``r2_clipped`` is R² clipped to [-1, 1] for display."""

    r2: float
    nmse: float
    nmae: float
    rows: int

    @property
    def r2_clipped(self) -> float:
        return float(np.clip(self.r2, -1.0, 1.0)) if np.isfinite(self.r2) else float("nan")


def _as_2d(a: np.ndarray, *, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be (rows,) or (rows, outputs), got shape {a.shape}")
    return a


def nmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """mean over outputs of mean((ŷ − y)²) / Var(y)."""
    p, y = _as_2d(predicted, name="predicted"), _as_2d(actual, name="actual")
    _check_shapes(p, y)
    return float(np.mean(np.mean((p - y) ** 2, axis=0) / np.var(y, axis=0)))


def nmae(predicted: np.ndarray, actual: np.ndarray) -> float:
    """mean over outputs of mean(|ŷ − y|) / mean(|y − mean(y)|)."""
    p, y = _as_2d(predicted, name="predicted"), _as_2d(actual, name="actual")
    _check_shapes(p, y)
    mad = np.mean(np.abs(y - y.mean(axis=0)), axis=0)
    return float(np.mean(np.mean(np.abs(p - y), axis=0) / mad))


def r2(predicted: np.ndarray, actual: np.ndarray) -> float:
    """mean over outputs of 1 − mean((ŷ − y)²) / Var(y)  (= 1 − NMSE)."""
    p, y = _as_2d(predicted, name="predicted"), _as_2d(actual, name="actual")
    _check_shapes(p, y)
    return float(np.mean(1.0 - np.mean((p - y) ** 2, axis=0) / np.var(y, axis=0)))


def _check_shapes(p: np.ndarray, y: np.ndarray) -> None:
    if p.shape != y.shape:
        raise ValueError(f"predicted shape {p.shape} differs from actual shape {y.shape}")
    if p.shape[0] == 0:
        raise ValueError("no rows to evaluate")


def metrics_or_reason(
    predicted: np.ndarray, actual: np.ndarray
) -> tuple[Metrics | None, str | None]:
    """All three metrics, or ``(None, reason)`` when they are undefined.

    Undefined when there are no rows, when a prediction is not finite, or when
    an output column is constant on the evaluated rows (zero variance).
    """
    p, y = _as_2d(predicted, name="predicted"), _as_2d(actual, name="actual")
    _check_shapes(p, y)
    if not np.all(np.isfinite(p)):
        return None, "the law predicts non-finite values on the evaluated rows"
    variance = np.var(y, axis=0)
    if np.any(variance <= 1e-300):
        return None, "a target column is constant on the evaluated rows (zero variance)"
    with np.errstate(over="ignore", invalid="ignore"):
        return Metrics(r2=r2(p, y), nmse=nmse(p, y), nmae=nmae(p, y), rows=int(p.shape[0])), None
