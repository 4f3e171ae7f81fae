"""``sld score TASK LAW``: fit one law on a task and score it on a split."""

from __future__ import annotations

import argparse
import sys

from sld.cli._render import print_json, score_lines


def run(args: argparse.Namespace) -> int:
    """Load the task (a curated name, or a data file with the data flags), fit, score, print
    (the metrics, or the ScoreReport as JSON); notes on guesses go to stderr."""
    from sld.cli._data import task_spec
    from sld.proposer import fold_limit
    from sld.scoring import score

    task = task_spec(args.task, args).load(named_as="flags")
    print_notes(task.notes)
    report = score(
        args.law,
        task,
        split=args.split,
        seed=args.seed,
        bootstrap=args.bootstrap,
        restarts=args.restarts,
    )
    limit = fold_limit(task)
    if limit is not None and report.n_parameters > limit:
        print_notes(
            (
                f"the law has {report.n_parameters} parameters, more than the {limit} the "
                "validation fold can rank: with as many parameters as a group's fit rows it "
                "passes through every one, so its validation score says little",
            )
        )
    if args.json:
        print_json(report.model_dump(mode="json"))
    else:
        score_lines(report)
    return 0


def print_notes(notes: tuple[str, ...]) -> None:
    """One ``note: …`` line on stderr per guess the task loader made."""
    for note in notes:
        sys.stderr.write(f"note: {note}\n")
