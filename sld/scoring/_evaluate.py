"""Metrics of a fitted law on rows, or the reason it cannot be scored there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sld.fit import FitResult
from sld.law import Law
from sld.metrics import metrics_or_reason

from ._reports import MetricsReport
from ._rows import predict_rows


def evaluate(
    law: Law, fit: FitResult, rows: Any, *, names: Sequence[str] | None = None
) -> tuple[MetricsReport | None, str | None]:
    """Metrics of ``fit`` on ``rows``, or ``(None, reason)`` when the law cannot be scored there."""
    if not fit.ok:
        return None, fit.reason or "the fit failed"
    with np.errstate(all="ignore"):
        predicted, actual = predict_rows(law, fit, rows, names=names)
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
