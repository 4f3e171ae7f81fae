"""Selection folds: rolling-origin cutoffs along the validation scale, carved from training rows.

Search ranks a law by how it extrapolates, so each fold fits on the rows *below* a cutoff
and scores the band of rows just above it. Per group, with ``scale`` the group's values
of the validation input::

    band 0 = the rows at the largest distinct scale values (the validation slice)
    band k = the rows at the largest values left once bands 0..k-1 are removed
    fold k:  fit on every row below band k, score on band k

Each band takes whole distinct values, largest first, while it holds at most
``fraction * rows`` rows (always at least one value, and at least ``min_rows`` rows where
the group has them). Fold 0 is the validation slice
that :meth:`Task.validation` returns; later folds cut lower and extrapolate from less.

Where the test rows are not a larger scale (no validation input), folds are a seeded
random K-fold instead: band k is a random draw of ``ceil(fraction * rows)`` rows not in an
earlier band, and fold k fits on every training row outside band k.

A group takes part in fold k only when its fit rows hold at least ``MIN_FIT_ROWS`` rows
and, for scale folds, at least ``MIN_FIT_LEVELS`` distinct scale values; a fold no group
can take part in is dropped, so a task may have fewer folds than asked. Three levels,
because the plainest law along a scale, a power with a floor (``E + A/N**a``), has three
parameters along it: fitted on two levels it passes through both for any exponent, so
its prediction one band up is whatever the optimizer's path left, and such a fold ranks
laws by noise (``bench/selection_sweep.md``, "Folds need three levels").
Fold 0 is exempt: it is the validation slice, which :func:`sld.corpus.task.make_task`
checks itself (it refuses a group whose every row is in the slice).

NMSE divides by the variance of a band's outputs, pooled over groups, so a band with one
row or equal outputs scores no law (:func:`constant_band`). Where fold 0's band is such
(a small one-group sweep), ``make_task`` carves every band again with ``min_rows=2``; a
later band that still is is dropped.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

MIN_FIT_ROWS = 2
MIN_FIT_LEVELS = 3  # distinct scale values in a later fold's fit rows (see above)

FoldKind = Literal["scale", "random"]


@dataclass(frozen=True)
class FoldMasks:
    """One fold's rows in one group: bool masks over the group's training rows (rows_g,)."""

    fit: np.ndarray
    score: np.ndarray


def scale_bands(
    scale: np.ndarray, *, bands: int, fraction: float, min_rows: int = 1
) -> list[np.ndarray]:
    """Up to ``bands`` disjoint bool masks over ``scale`` (rows,), largest values first.

    Band k holds the largest distinct values not in an earlier band, added while the band
    stays within ``fraction * rows`` rows or holds fewer than ``min_rows``; it always holds
    at least one value.
    """
    n = len(scale)
    need = min(min_rows, n - 1)  # a band never takes every row for want of rows
    remaining = np.ones(n, dtype=bool)
    out: list[np.ndarray] = []
    for _ in range(bands):
        values = np.unique(scale[remaining])[::-1]
        if len(values) == 0:
            break
        band = remaining & (scale == values[0])
        for value in values[1:]:
            at_value = remaining & (scale == value)
            if band.sum() >= need and band.sum() + at_value.sum() > fraction * n:
                break
            band |= at_value
        out.append(band)
        remaining &= ~band
    return out


def validation_mask(
    scale: np.ndarray | None,
    *,
    n_rows: int,
    fraction: float,
    seed: int,
    group: str,
    min_rows: int = 1,
) -> np.ndarray:
    """Which of a group's training rows form its validation slice (band 0); bool (n_rows,).

    With ``scale``: :func:`scale_bands`' first band. Without: ``ceil(fraction * n_rows)``
    rows, at least ``min_rows`` (at most ``n_rows - 1``), drawn by a numpy Generator seeded
    from ``seed`` and the group name.
    """
    if scale is not None:
        return scale_bands(scale, bands=1, fraction=fraction, min_rows=min_rows)[0]
    count = min(max(math.ceil(fraction * n_rows), min_rows), n_rows - 1)
    rng = np.random.default_rng([seed, zlib.crc32(group.encode("utf-8"))])
    mask = np.zeros(n_rows, dtype=bool)
    mask[rng.choice(n_rows, size=count, replace=False)] = True
    return mask


def random_bands(
    n_rows: int, *, bands: int, fraction: float, seed: int, group: str, min_rows: int = 1
) -> list[np.ndarray]:
    """Up to ``bands`` disjoint random bool masks of :func:`validation_mask`'s size each.

    Band 0 is :func:`validation_mask`'s draw; band k > 0 is drawn from the rows no earlier
    band holds, by a Generator seeded from ``seed``, the group name and ``k``.
    """
    first = validation_mask(
        None, n_rows=n_rows, fraction=fraction, seed=seed, group=group, min_rows=min_rows
    )
    size = int(first.sum())
    out = [first]
    taken = first.copy()
    for k in range(1, bands):
        free = np.flatnonzero(~taken)
        if len(free) < size or size == 0:
            break
        rng = np.random.default_rng([seed, zlib.crc32(group.encode("utf-8")), k])
        mask = np.zeros(n_rows, dtype=bool)
        mask[rng.choice(free, size=size, replace=False)] = True
        out.append(mask)
        taken |= mask
    return out


def group_folds(
    scale: np.ndarray | None,
    *,
    n_rows: int,
    folds: int,
    fraction: float,
    seed: int,
    group: str,
    min_rows: int = 1,
) -> list[FoldMasks | None]:
    """The ``folds`` folds of one group (None where the group cannot take part).

    ``scale``: the group's values of the validation input (rows,), or None for random folds.
    ``min_rows``: the fewest rows a band takes where the group has them.
    """
    if scale is None:
        bands = random_bands(
            n_rows, bands=folds, fraction=fraction, seed=seed, group=group, min_rows=min_rows
        )
    else:
        bands = scale_bands(scale, bands=folds, fraction=fraction, min_rows=min_rows)
    out: list[FoldMasks | None] = []
    above = np.zeros(n_rows, dtype=bool)
    for k in range(folds):
        if k >= len(bands):
            out.append(None)
            continue
        band = bands[k]
        above |= band
        fit = ~above if scale is not None else ~band
        usable = int(fit.sum()) >= 1
        if k > 0:  # fold 0 is the validation slice, which make_task has already checked
            usable = int(fit.sum()) >= MIN_FIT_ROWS
            if scale is not None:
                usable = usable and len(np.unique(scale[fit])) >= MIN_FIT_LEVELS
        if not usable:
            out.append(None)
            continue
        fit.setflags(write=False)
        band = band.copy()
        band.setflags(write=False)
        out.append(FoldMasks(fit=fit, score=band))
    return out


def constant_band(
    folds: Sequence[tuple[FoldMasks | None, ...]], train_y: Sequence[np.ndarray], k: int
) -> bool:
    """Whether fold ``k``'s score rows, pooled over groups, hold an output that does not vary
    (one row, or equal values): NMSE is undefined there. False when no group has fold k."""
    masks = [(g[k], y) for g, y in zip(folds, train_y, strict=True) if k < len(g)]
    bands = [y[m.score] for m, y in masks if m is not None]
    if not bands:
        return False
    pooled = np.concatenate(bands)
    return bool(len(pooled) < 2 or np.any(np.all(pooled == pooled[0], axis=0)))


def carve_groups(
    scales: Sequence[np.ndarray | None],
    sizes: Sequence[int],
    *,
    groups: Sequence[str],
    folds: int,
    fraction: float,
    seed: int,
    min_rows: int = 1,
) -> tuple[list[np.ndarray], list[tuple[FoldMasks | None, ...]]]:
    """Per group (its scale values or None, its training row count): its validation mask
    (:func:`validation_mask`, read-only) and its folds (:func:`group_folds`)."""
    masks: list[np.ndarray] = []
    out: list[tuple[FoldMasks | None, ...]] = []
    for group, scale, n in zip(groups, scales, sizes, strict=True):
        mask = validation_mask(
            scale, n_rows=n, fraction=fraction, seed=seed, group=group, min_rows=min_rows
        )
        mask.setflags(write=False)
        masks.append(mask)
        bands = group_folds(
            scale,
            n_rows=n,
            folds=folds,
            fraction=fraction,
            seed=seed,
            group=group,
            min_rows=min_rows,
        )
        out.append(tuple(bands))
    return masks, out


def two_row_note(scale: str | None) -> str:
    """Said when :func:`constant_band` made every band take two rows."""
    rows = f"the two largest-{scale} training rows" if scale else "two training rows"
    return (
        f"the validation slice takes {rows}, not one: a law's normalised "
        "error needs the outputs it is scored on to vary; a larger sweep keeps the card's fraction"
    )


def fewer_folds_note(kept: int, *, asked: int, scale: str) -> str:
    """Said to your own data when too few scale values leave fewer folds than asked."""
    return (
        f"selection ranks laws on {kept} of the {asked} folds asked: a later fold needs "
        f"{MIN_FIT_LEVELS} distinct {scale} values below its cutoff in some group (two cannot "
        f"pin a power with a floor); rows at more {scale} values would add folds"
    )
