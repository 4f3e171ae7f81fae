"""The fit result contract, and turning LM output into it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel

from ._fidelity import Fidelity
from ._program import CompiledLaw


class FitResult(BaseModel):
    """Per-group parameters of one law and how the fit went.

    ``train_loss`` is the mean over groups of the per-group objective at the best
    restart: the mean squared residual after scaling each output by 1/std over the
    group's rows (Huber: mean of 2·huber_δ; log space: on log f vs log y).
    ``ok`` is False with a one-line ``reason`` when the law could not be fitted.
    ``finite_restarts`` is the fewest restarts with finite residuals in any group;
    ``gradient_norm`` is max |∂ loss/∂p| at the best restart, max over groups.
    ``fidelity`` is the work the fit was allowed (restarts, iterations, rows, precision);
    None in results stored before it was recorded.
    """

    ok: bool
    reason: str | None = None
    groups: list[str]
    parameter_names: list[str]
    parameters: dict[str, dict[str, float]]
    train_loss: float
    group_loss: dict[str, float]
    converged: bool
    group_converged: dict[str, bool]
    gradient_norm: float
    restarts: int
    finite_restarts: int
    iterations: int
    seconds: float
    compile_seconds: float
    fidelity: Fidelity | None = None

    def to_frame(self) -> pd.DataFrame:
        """Per-group parameters: one row per group (index ``group``, in ``groups`` order),
        one column per parameter (``parameter_names`` order); NaN where a group has none."""
        rows = [
            [self.parameters.get(g, {}).get(p, np.nan) for p in self.parameter_names]
            for g in self.groups
        ]
        index = pd.Index(self.groups, name="group", dtype=object)
        return pd.DataFrame(rows, index=index, columns=list(self.parameter_names), dtype=float)


def failed(
    law_parameters: list[str],
    groups: list[str],
    *,
    reason: str,
    restarts: int,
    seconds: float = 0.0,
    compile_seconds: float = 0.0,
) -> FitResult:
    """A FitResult for a law that could not be fitted at all."""
    return FitResult(
        ok=False,
        reason=reason,
        groups=groups,
        parameter_names=law_parameters,
        parameters={},
        train_loss=float("inf"),
        group_loss={},
        converged=False,
        group_converged={},
        gradient_norm=float("nan"),
        restarts=restarts,
        finite_restarts=0,
        iterations=0,
        seconds=seconds,
        compile_seconds=compile_seconds,
    )


def summarise(
    compiled: CompiledLaw,
    law_parameters: list[str],
    groups: tuple[str, ...],
    out: dict[str, np.ndarray],
    count: np.ndarray,
    *,
    restarts: int,
    seconds: float,
    compile_seconds: float,
) -> FitResult:
    """Pick the best finite restart per group from LM output (arrays (G, R, …), padded groups dropped)."""
    n = len(groups)
    F = np.asarray(out["F"])[:n]
    good = np.asarray(out["good"])[:n] & np.isfinite(F)
    best = np.argmin(np.where(good, F, np.inf), axis=1)
    rows = np.arange(n)
    p = np.asarray(out["p"])[:n][rows, best]
    g = np.asarray(out["g"])[:n][rows, best]
    conv = np.asarray(out["converged"])[:n][rows, best]
    loss = 2.0 * F[rows, best] / count[:n]
    grad = 2.0 * np.max(np.abs(g), axis=-1, initial=0.0) / count[:n]
    any_good = good.any(axis=1)
    # a narrowed batch (sld.fit._narrow) holds fewer restarts than it started: count them all
    finite = (
        np.asarray(out["finite_restarts"])[:n] if "finite_restarts" in out else good.sum(axis=1)
    )
    slot = {name: j for j, name in enumerate(compiled.slot_names)}
    params = {
        grp: {name: float(p[i, slot[name]]) for name in law_parameters}
        for i, grp in enumerate(groups)
        if any_good[i]
    }
    bad = [grp for i, grp in enumerate(groups) if not any_good[i]]
    reason = None
    if bad:
        reason = (
            f"no restart gave finite residuals in group {bad[0]!r}"
            f"{f' (and {len(bad) - 1} more)' if len(bad) > 1 else ''}: the law overflows or is undefined on these rows"
        )
    return FitResult(
        ok=not bad,
        reason=reason,
        groups=list(groups),
        parameter_names=law_parameters,
        parameters=params,
        train_loss=float(np.mean(loss)) if not bad else float("inf"),
        group_loss={grp: float(loss[i]) for i, grp in enumerate(groups) if any_good[i]},
        converged=bool(np.all(conv & any_good)),
        group_converged={grp: bool(conv[i] and any_good[i]) for i, grp in enumerate(groups)},
        gradient_norm=float(np.max(np.where(any_good, grad, 0.0))) if n else 0.0,
        restarts=restarts,
        finite_restarts=int(finite.min()) if n else 0,
        iterations=int(out["it"]),
        seconds=seconds,
        compile_seconds=compile_seconds,
    )
