"""A loaded task: per-group arrays for training, validation and the held-out test rows.

The protocol: candidate laws are fitted on :meth:`Task.search_train` and ranked on
:meth:`Task.validation` (a slice of the training rows at the largest scale); only the final
report calls :meth:`Task.heldout`, the single way to reach the test rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from sld.corpus.card import TaskCard
from sld.corpus.directions import direction_evidence, inferred_note, signs
from sld.corpus.folds import (
    FoldKind,
    FoldMasks,
    carve_groups,
    constant_band,
    fewer_folds_note,
    two_row_note,
)
from sld.corpus.folds import validation_mask as validation_mask
from sld.corpus.window import check_share, window_mask
from sld.errors import TaskError


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Split:
    """Rows of one split, per group.

    ``X[g]``: (rows_g, n_inputs) float64, columns in ``inputs`` order;
    ``y[g]``: (rows_g, n_outputs) float64, columns in ``outputs`` order.
    A group without rows in this split keeps a (0, k) array so indices align with ``groups``.
    Arrays are read-only.
    """

    groups: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    X: tuple[np.ndarray, ...]
    y: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        if not (len(self.groups) == len(self.X) == len(self.y)):
            raise ValueError("Split needs one X and one y per group")
        for x, y in zip(self.X, self.y, strict=True):
            if x.shape[1:] != (len(self.inputs),) or y.shape[1:] != (len(self.outputs),):
                raise ValueError("Split arrays must be (rows, n_inputs) and (rows, n_outputs)")
            if x.shape[0] != y.shape[0]:
                raise ValueError("Split X and y must have the same rows per group")

    @property
    def n_rows(self) -> int:
        """Rows over all groups."""
        return sum(x.shape[0] for x in self.X)

    @property
    def rows_per_group(self) -> tuple[int, ...]:
        return tuple(x.shape[0] for x in self.X)

    def subset(self, masks: Sequence[np.ndarray]) -> Split:
        """The rows selected by one bool mask (rows_g,) per group."""
        if len(masks) != len(self.groups):
            raise ValueError("subset needs one mask per group")
        picked = [np.asarray(m, dtype=bool) for m in masks]
        return Split(
            groups=self.groups,
            inputs=self.inputs,
            outputs=self.outputs,
            X=tuple(_frozen(x[m]) for x, m in zip(self.X, picked, strict=True)),
            y=tuple(_frozen(y[m]) for y, m in zip(self.y, picked, strict=True)),
        )

    def frame(self) -> pd.DataFrame:
        """A DataFrame with columns ``group``, inputs..., outputs... (a copy)."""
        parts = []
        for name, x, y in zip(self.groups, self.X, self.y, strict=True):
            part = pd.DataFrame(np.hstack([x, y]), columns=[*self.inputs, *self.outputs])
            part.insert(0, "group", name)
            parts.append(part)
        frame = pd.concat(parts, ignore_index=True)
        frame["group"] = frame["group"].astype(str)
        return frame


@dataclass(frozen=True, eq=False)
class Fold:
    """One selection fold (see :mod:`sld.corpus.folds`): fit on ``fit``, score on ``score``.

    ``index`` 0 is the validation slice; ``kind`` says whether the fold cuts along the
    validation scale or is a random draw. Groups that cannot take part hold no rows.
    """

    index: int
    kind: FoldKind
    fit: Split
    score: Split


@dataclass(frozen=True, eq=False)
class Task:
    """A task ready for fitting: names, limits and the split accessors.

    ``inputs``/``outputs``: column names in card order; ``aliases``: alias -> input name;
    ``groups``: sorted group names (every split's arrays follow this order);
    ``log_scale``: input name -> whether it is positive and best seen on a log axis;
    ``monotone``: input name -> +1 (every output increases with it) or -1 (decreases), from
    the card's ``monotone`` key, or read from the training rows when the card declares none
    (unless ``validation.infer_monotone`` is off); ``notes``: one line per guess made while
    loading (such as a validation scale nobody chose), for front ends to show.
    ``window``: the share of the lowest-scale fit rows every fit leaves out
    (:mod:`sld.corpus.window`; 0 fits on every row), set by :meth:`windowed`.
    """

    card: TaskCard
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    aliases: dict[str, str]
    groups: tuple[str, ...]
    max_params: int | None
    reference_law: str | None
    log_scale: dict[str, bool]
    validation_scale: str | None
    monotone: dict[str, int]
    notes: tuple[str, ...]
    _train: Split = field(repr=False)
    _validation: tuple[np.ndarray, ...] = field(repr=False)
    _heldout: Split = field(repr=False)
    _folds: tuple[tuple[FoldMasks | None, ...], ...] = field(repr=False, default=())
    window: float = 0.0

    def windowed(self, share: float) -> Task:
        """This task with fit window ``share``: its folds and :meth:`window_train` fit on
        the rows above the lowest ``share`` of each group's fit rows by validation scale.

        A task without a validation scale (random folds) has no scale to window along, so
        it returns itself unchanged.
        """
        if self.validation_scale is None or share == self.window:
            return self
        return replace(self, window=check_share(share))

    def _scale(self, x: np.ndarray) -> np.ndarray:
        columns = [self.inputs.index(name) for name in self.card.scale_inputs]
        return np.prod(x[:, columns], axis=1)

    def _narrow(self, masks: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per group, the part of ``masks`` (over training rows) the fit window keeps."""
        if self.window == 0.0:
            return list(masks)
        out = []
        for x, mask in zip(self._train.X, masks, strict=True):
            narrowed = mask.copy()
            narrowed[mask] = window_mask(self._scale(x[mask]), share=self.window)
            out.append(narrowed)
        return out

    def train(self) -> Split:
        """Every training row (validation slice included)."""
        return self._train

    def window_train(self) -> Split:
        """The training rows inside the fit window (every training row when it is 0):
        what a law is fitted on before it is scored on held-out rows."""
        return self._train.subset(
            self._narrow([np.ones(len(x), dtype=bool) for x in self._train.X])
        )

    def validation(self) -> Split:
        """The validation slice of the training rows (see :func:`validation_mask`)."""
        return self._train.subset(self._validation)

    def search_train(self) -> Split:
        """Training rows minus the validation slice: what candidate laws are fitted on in search."""
        return self._train.subset([~m for m in self._validation])

    def folds(self) -> tuple[Fold, ...]:
        """The selection folds (fold 0 = ``search_train()`` → ``validation()``), in order,
        each fold's fit rows narrowed to the fit window (:meth:`windowed`).

        A fold no group takes part in is left out, so there may be fewer than the card asks.
        """
        kind: FoldKind = "scale" if self.validation_scale is not None else "random"
        out = []
        count = max((len(g) for g in self._folds), default=0)
        for k in range(count):
            masks = [g[k] if k < len(g) else None for g in self._folds]
            if not any(m is not None for m in masks):
                continue
            none = [np.zeros(len(x), dtype=bool) for x in self._train.X]
            fit = [m.fit if m is not None else z for m, z in zip(masks, none, strict=True)]
            fit = self._narrow(fit)
            score = [m.score if m is not None else z for m, z in zip(masks, none, strict=True)]
            out.append(
                Fold(
                    index=k,
                    kind=kind,
                    fit=self._train.subset(fit),
                    score=self._train.subset(score),
                )
            )
        return tuple(out)

    def heldout(self) -> Split:
        """The test rows. Only for the final report: never feed them into selection."""
        return self._heldout

    def frame(self) -> pd.DataFrame:
        """Training rows as a DataFrame, with a bool column ``validation``."""
        frame = self._train.frame()
        frame["validation"] = np.concatenate(self._validation) if self._validation else []
        return frame

    def heldout_frame(self) -> pd.DataFrame:
        """Test rows as a DataFrame."""
        return self._heldout.frame()


def make_task(
    card: TaskCard,
    *,
    groups: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    is_test: np.ndarray,
    log_scale: dict[str, bool],
    where: str,
    scale_fix: str = "choose another validation scale",
    monotone_fix: str | Callable[[Mapping[str, int]], str] = (
        "set them in a card's [monotone], or turn validation.infer_monotone off"
    ),
    notes: Sequence[str] = (),
    note_folds: bool = False,
) -> Task:
    """Assemble a Task from row arrays. ``X``: (rows, n_inputs); ``y``: (rows, n_outputs).

    Raises TaskError when a group has fewer than 2 training rows or when the validation
    slice would leave no rows to fit on (``scale_fix`` says how to choose another scale).
    Directions read from the rows add a note ending in ``monotone_fix`` (how to override;
    a callable gets the directions read). With ``note_folds``, scale folds fewer than the
    card asks (too few distinct scale values below a cutoff) add a note saying so.
    """
    names = tuple(sorted(set(groups.tolist())))
    scale_name = card.validation.scale
    scale_columns = [card.input_names.index(name) for name in card.scale_inputs]
    train_x, train_y, test_x, test_y, scales = [], [], [], [], []
    for group in names:
        in_group = groups == group
        train_rows = in_group & ~is_test
        test_rows = in_group & is_test
        n_train = int(train_rows.sum())
        if n_train < 2:
            raise TaskError(
                f"{where}: group {group!r} has {n_train} training row(s), fewer than 2; "
                "add rows, merge groups or change the test rule"
            )
        gx = X[train_rows]
        scales.append(np.prod(gx[:, scale_columns], axis=1) if scale_columns else None)
        train_x.append(_frozen(gx))
        train_y.append(_frozen(y[train_rows]))
        test_x.append(_frozen(X[test_rows]))
        test_y.append(_frozen(y[test_rows]))

    def carve(min_rows: int) -> tuple[list[np.ndarray], list[tuple[FoldMasks | None, ...]]]:
        v = card.validation
        sizes = [len(gy) for gy in train_y]
        carved = carve_groups(
            scales,
            sizes,
            groups=names,
            folds=v.folds,
            fraction=v.fraction,
            seed=v.seed,
            min_rows=min_rows,
        )
        for group, mask in zip(names, carved[0], strict=True):
            if mask.all():
                raise TaskError(
                    f"{where}: in group {group!r} every training row has the largest "
                    f"{scale_name!r}, so nothing is left to fit on; {scale_fix}"
                )
        return carved

    masks, folds = carve(1)
    if constant_band(folds, train_y, 0):
        # a one-row validation slice (a small sweep in one group) scores no law: NMSE needs
        # the band's outputs to vary, so every band takes at least two rows instead
        masks, folds = carve(2)
        notes = [*notes, two_row_note(scale_name)]
        if constant_band(folds, train_y, 0):
            pooled = np.concatenate(train_y)
            flat = [
                o for j, o in enumerate(card.output_names) if np.all(pooled[:, j] == pooled[0, j])
            ]
            raise TaskError(
                f"{where}: output {flat[0]!r} is {pooled[0, card.output_names.index(flat[0])]:g} on "
                "every training row, so there is nothing to fit; check the output column"
                if flat
                else f"{where}: every output is the same on the validation slice's rows, so no "
                f"law can be scored on it; add rows or {scale_fix}"
            )
    for k in range(1, card.validation.folds):  # a later band that cannot score is dropped
        if constant_band(folds, train_y, k):
            folds = [g[:k] + (None,) + g[k + 1 :] if k < len(g) else g for g in folds]
    asked = card.validation.folds
    kept = sum(any(k < len(g) and g[k] is not None for g in folds) for k in range(asked))
    if note_folds and scale_columns and kept < asked:
        notes = [*notes, fewer_folds_note(kept, asked=asked, scale=str(scale_name))]
    inputs, outputs = card.input_names, card.output_names
    monotone = card.monotone_signs
    if not monotone and card.validation.infer_monotone:
        evidence = direction_evidence(
            train_x, train_y, inputs=inputs, log_scale=[log_scale[k] for k in inputs]
        )
        monotone = signs(evidence)
        smooth = [e.input for e in evidence if e.source == "surrogate" and e.input in monotone]
        if monotone:
            notes = [*notes, inferred_note(monotone, smooth=smooth, fix=monotone_fix)]
    return Task(
        card=card,
        name=card.name,
        inputs=inputs,
        outputs=outputs,
        aliases=card.aliases,
        groups=names,
        max_params=card.max_params,
        reference_law=card.reference_law,
        log_scale=dict(log_scale),
        validation_scale=card.validation_scale,
        monotone=monotone,
        notes=tuple(notes),
        _train=Split(names, inputs, outputs, tuple(train_x), tuple(train_y)),
        _validation=tuple(masks),
        _heldout=Split(names, inputs, outputs, tuple(test_x), tuple(test_y)),
        _folds=tuple(folds),
    )


REHEARSAL_SUFFIX = "-rehearsal"
"""Appended to a task's name for its rehearsal, so the two never share a run directory."""


def rehearsal(
    task: Task, *, where: str | None = None, notes: Sequence[str] = (), **options: Any
) -> Task:
    """The task one step in: its validation slice becomes the test rows, the rest the training rows.

    The real test rows are dropped. The validation slice, the folds and the directions read
    from the rows are carved again from the remaining training rows by the card's own rules,
    as if the slice had never been measured. A search on the rehearsal is then scored on rows
    that the real search validates on, so it can be judged, and its settings chosen, without
    ever reading the real test rows. ``where``: what messages name (default: the task's
    name); ``notes``: the load's notes (a line saying what a rehearsal is, is added);
    ``options``: the rest of :func:`make_task`'s keywords (``log_scale`` defaults to the
    task's). Raises TaskError, as :func:`make_task` does, when the rows below the slice
    cannot be split again.
    """
    frame = task.frame()
    held = frame["validation"].to_numpy(dtype=bool)
    scale = "*".join(task.card.scale_inputs)
    where_rows = f"at the largest {scale}" if scale else "drawn at random"
    note = (
        f"rehearsal: the test rows are the {int(held.sum())} validation rows ({where_rows}) of "
        f"the training rows; the search sees only the other {int((~held).sum())}, and the real "
        "test rows are not loaded"
    )
    options.setdefault("log_scale", task.log_scale)
    staged = make_task(
        task.card,
        groups=frame["group"].to_numpy(dtype=object),
        X=frame[list(task.inputs)].to_numpy(dtype=np.float64),
        y=frame[list(task.outputs)].to_numpy(dtype=np.float64),
        is_test=held,
        where=f"{where or task.name} (rehearsal)",
        notes=[*notes, note],
        **options,
    )
    return replace(staged, name=task.name + REHEARSAL_SUFFIX)
