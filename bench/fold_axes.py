"""Would folds cut along another axis tell laws apart where the task's own folds cannot?

    python bench/fold_axes.py TASK "LAW" ["LAW" ...]
    python bench/fold_axes.py TASK "LAW" ... --rehearse    # the task's rehearsal

For a task whose validation scale leaves few folds (over-training: four training sizes,
one fold), each law is fitted and scored, training rows only, on three sets of folds:

- *task*: the task's own folds (:meth:`sld.corpus.Task.folds`);
- *+joint*: those, plus the later folds of the same training rows carved along the product
  of every log-scale input (compute, for N and D) by the card's fraction and fold count;
- *backcast*: one fold per group that fits on every row above the group's smallest value of
  the validation scale and scores the rows at it (extrapolating down instead of up).

Printed per law and fold set: each fold's R² and the selection error
(:func:`sld.scoring.selection_error`, the geometric mean of the folds' NMSE). The laws are
the reader's; nothing here reads a test row. Results: ``bench/selection_sweep.md``, "Folds
along another axis".
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

import numpy as np

from sld.corpus import Fold, Task, load_task
from sld.corpus.task import make_task, rehearsal
from sld.fit import fit_many
from sld.scoring import FoldScore, parse_for_task, selection_error
from sld.scoring._selection import fold_rows, score_folds


def joint_folds(task: Task) -> list[Fold]:
    """The task's later folds carved again along the product of its log-scale inputs."""
    logs = [name for name in task.inputs if task.log_scale.get(name)]
    card = task.card.model_copy(
        update={"validation": task.card.validation.model_copy(update={"scale": "*".join(logs)})}
    )
    frame = task.frame()
    joint = make_task(
        card,
        groups=frame["group"].astype(str).to_numpy(),
        X=frame[list(task.inputs)].to_numpy(dtype=np.float64),
        y=frame[list(task.outputs)].to_numpy(dtype=np.float64),
        is_test=np.zeros(len(frame), dtype=bool),
        log_scale=task.log_scale,
        where=task.name,
    )
    first = len(task.folds())  # fold indices name the batched fit's groups: keep them apart
    return [dataclasses.replace(f, index=first + f.index) for f in joint.folds()[1:]]


def backcast_fold(task: Task) -> Fold:
    """Fit above each group's smallest validation-scale value, score the rows at it."""
    if task.validation_scale is None:
        raise SystemExit(f"{task.name} has random folds: there is no scale to cast back along")
    column = task.inputs.index(task.validation_scale)
    train = task.train()
    low = [x[:, column] == x[:, column].min() for x in train.X]
    return Fold(index=0, kind="scale", fit=train.subset([~m for m in low]), score=train.subset(low))


def fold_scores(
    laws: Sequence[str], task: Task, folds: Sequence[Fold], *, seed: int, restarts: int
) -> list[list[FoldScore]]:
    """Per law, each fold's score (one batched fit per law over every fold's fit rows)."""
    parsed = [parse_for_task(law, task, max_params=64) for law in laws]
    fits = fit_many(parsed, fold_rows(folds), restarts=restarts, seed=seed)
    return [score_folds(law, fit, folds) for law, fit in zip(parsed, fits, strict=True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("laws", nargs="+")
    parser.add_argument("--rehearse", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--restarts", type=int, default=16)
    args = parser.parse_args(argv)
    task = load_task(args.task)
    if args.rehearse:
        task = rehearsal(task)
    own = list(task.folds())
    sets = {"task": own, "+joint": own + joint_folds(task), "backcast": [backcast_fold(task)]}
    for label, folds in sets.items():
        shape = ", ".join(f"{f.fit.n_rows}→{f.score.n_rows}" for f in folds)
        print(f"\n{task.name}, {label} folds (fit rows→scored rows: {shape})\n")
        print("| law | fold R² | selection error |\n|---|---|---|")
        scores = fold_scores(args.laws, task, folds, seed=args.seed, restarts=args.restarts)
        for law, row in zip(args.laws, scores, strict=True):
            r2 = " ".join("—" if s.r2 is None else f"{s.r2:.3f}" for s in row)
            print(f"| `{law}` | {r2} | {selection_error(row):.4g} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
