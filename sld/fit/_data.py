"""Grouped rows → padded device arrays, and starting points for the restarts.

Group counts are padded up to a few fixed sizes (``BUCKETS``) and row counts to
``row_bucket`` (finer, as rows cost work on every iteration) so that tasks of
similar size share compiled code. Padded rows repeat a real row and
are masked out; padded groups copy group 0 with every row masked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sld.errors import FitError

from ._program import Program

# powers of two and 1.5× powers of two: at most 50 % padding
BUCKETS = tuple(sorted({b for k in range(20) for b in (2**k, 3 * 2**k // 2) if b >= 1}))
MIN_ROWS = 8


class GroupedRows(Protocol):
    """Training rows split by group: ``X[g]: (rows_g, inputs)``, ``y[g]: (rows_g, outputs)``."""

    @property
    def groups(self) -> tuple[str, ...]: ...

    @property
    def X(self) -> tuple[np.ndarray, ...]: ...

    @property
    def y(self) -> tuple[np.ndarray, ...]: ...


@dataclass(frozen=True)
class Rows:
    """Plain grouped rows (a :class:`GroupedRows`), as the fitter builds them itself."""

    groups: tuple[str, ...]
    X: tuple[np.ndarray, ...]
    y: tuple[np.ndarray, ...]


def row_bucket(n: int) -> int:
    """Padded row count: ``bucket(n)`` up to 64 rows, then a multiple of 2^(⌊log₂ n⌋ − 3).

    Rows cost work on every LM iteration, so padding is kept under 12.5 % (1080 → 1152)
    rather than the 50 % the coarse buckets allow; a task has one row count, so the finer
    steps add no compiles within a run.
    """
    n = max(n, MIN_ROWS)
    if n <= 64:
        return bucket(n)
    step = 2 ** (int(np.floor(np.log2(n))) - 3)
    return int(-(-n // step) * step)


def bucket(n: int) -> int:
    """Smallest bucket size ≥ n."""
    for b in BUCKETS:
        if b >= n:
            return b
    raise FitError(f"{n} rows or groups is more than this fitter supports ({BUCKETS[-1]})")


@dataclass(frozen=True)
class Prepared:
    """Padded arrays for the device plus what the result needs.

    arrays: x (G, N, I), y / y_raw (G, N, K), mask (G, N), scale / scale_raw (G, K),
    count (G,) = real rows·K, delta ().
    """

    arrays: dict[str, np.ndarray]
    groups: tuple[str, ...]
    reason: str | None


def prepare(
    rows: GroupedRows, *, n_inputs: int, n_outputs: int, log_space: bool, huber_delta: float
) -> Prepared:
    """Check shapes and build padded arrays; numeric faults give ``reason`` instead of raising."""
    groups = tuple(str(g) for g in rows.groups)
    xs, ys = tuple(rows.X), tuple(rows.y)
    if not groups:
        raise FitError("no groups to fit")
    if len(xs) != len(groups) or len(ys) != len(groups):
        raise FitError(
            f"rows has {len(groups)} groups but {len(xs)} X arrays and {len(ys)} y arrays"
        )
    xs = tuple(np.asarray(x, dtype=np.float64) for x in xs)
    ys = tuple(np.asarray(y, dtype=np.float64) for y in ys)
    ys = tuple(y[:, None] if y.ndim == 1 and n_outputs == 1 else y for y in ys)
    for g, x, y in zip(groups, xs, ys, strict=True):
        if x.ndim != 2 or x.shape[1] != n_inputs:
            raise FitError(f"group {g!r}: X must be (rows, {n_inputs}), got {x.shape}")
        if y.ndim != 2 or y.shape != (x.shape[0], n_outputs):
            raise FitError(f"group {g!r}: y must be ({x.shape[0]}, {n_outputs}), got {y.shape}")
        if x.shape[0] == 0:
            raise FitError(f"group {g!r} has no rows")
    if not np.isfinite(huber_delta) or huber_delta <= 0:
        raise FitError(f"huber_delta must be a positive number, got {huber_delta}")
    reason = None
    for g, x, y in zip(groups, xs, ys, strict=True):
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            reason = f"group {g!r} has non-finite inputs or targets"
        elif log_space and not np.all(y > 0):
            reason = f"log_space needs positive targets; group {g!r} has y <= 0"
    G, N = bucket(len(groups)), row_bucket(max(x.shape[0] for x in xs))
    K = n_outputs
    x_pad = np.empty((G, N, n_inputs))
    y_raw = np.empty((G, N, K))
    mask = np.zeros((G, N), dtype=bool)
    count = np.ones((G,))
    for i in range(G):
        x, y = (xs[i], ys[i]) if i < len(groups) else (xs[0], ys[0])
        n = x.shape[0]
        x_pad[i, :n], y_raw[i, :n] = x, y
        x_pad[i, n:], y_raw[i, n:] = x[:1], y[:1]
        if i < len(groups):
            mask[i, :n] = True
            count[i] = n * K
    with np.errstate(all="ignore"):
        y_fit = np.log(y_raw) if log_space else y_raw
        scale_raw, std_fit = _inverse_std(y_raw, mask), _std(y_fit, mask)
    scale = np.where(std_fit > 0, 1.0 / np.where(std_fit > 0, std_fit, 1.0), 1.0)
    if reason is None:
        flat = np.argwhere(
            ~(std_fit[: len(groups)] > 1e-12 * (1.0 + _abs_mean(y_fit, mask)[: len(groups)]))
        )
        if len(flat):
            g, k = flat[0]
            reason = f"target {k} of group {groups[g]!r} has zero variance; a normalised loss is undefined"
    arrays = dict(
        x=x_pad,
        y=y_fit,
        y_raw=y_raw,
        mask=mask,
        scale=scale,
        scale_raw=scale_raw,
        count=count,
        delta=np.asarray(huber_delta, dtype=np.float64),
    )
    return Prepared(arrays=arrays, groups=groups, reason=reason)


def _std(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per (group, output) standard deviation over real rows: (G, N, K) → (G, K)."""
    w = mask[..., None].astype(np.float64)
    n = np.maximum(w.sum(axis=1), 1.0)
    mean = (y * w).sum(axis=1) / n
    return np.sqrt((((y - mean[:, None, :]) ** 2) * w).sum(axis=1) / n)


def _abs_mean(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    w = mask[..., None].astype(np.float64)
    return np.abs((y * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1.0))


def _inverse_std(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    s = _std(y, mask)
    return np.where(s > 0, 1.0 / np.where(s > 0, s, 1.0), 1.0)


EXPONENT_GRID = (0.5, -0.5, 1.0, -1.0, 0.2, -0.2, 2.0, -2.0)
POOL = 8  # candidate starting points drawn per restart, so non-finite ones can be skipped


def initial_points(
    program: Program,
    *,
    restarts: int,
    seed: int,
    finite: Callable[[np.ndarray], bool] | None = None,
) -> np.ndarray:
    """Starting points (restarts, P), deterministic in ``seed``.

    Candidates, in order: coefficients 1 and exponents 0.5; then half the restarts
    with exponent-like parameters on ``EXPONENT_GRID`` (offset per parameter);
    then random draws, coefficient-like ±10^U(−3, 3), exponent-like ±10^U(−1.5, 0.5).
    With ``finite`` (p → whether the law is finite on the rows there), the first
    ``restarts`` finite candidates of ``POOL·restarts`` are kept, topped up with
    non-finite ones. Linear parameters are later solved by variable projection.
    """
    rng = np.random.default_rng(seed)
    R, P = restarts, program.n_params
    n = R * POOL
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n, P))
    coef = signs * 10.0 ** rng.uniform(-3.0, 3.0, size=(n, P))
    expo = signs * 10.0 ** rng.uniform(-1.5, 0.5, size=(n, P))
    is_expo = np.array(program.exponent_like, dtype=bool)
    p = np.where(is_expo[None, :], expo, coef)
    grid = np.array(EXPONENT_GRID)
    offsets = np.cumsum(is_expo) * 3
    for r in range(1, max(R // 2, 1)):
        p[r] = np.where(is_expo, grid[(r - 1 + offsets) % len(grid)], p[r])
    p[0] = np.where(is_expo, 0.5, 1.0)
    if finite is None:
        return p[:R]
    chosen: list[int] = []
    rejected: list[int] = []
    for i in range(n):
        (chosen if finite(p[i]) else rejected).append(i)
        if len(chosen) == R:
            break
    return p[(chosen + rejected)[:R]]
