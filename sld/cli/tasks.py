"""``sld tasks``: the curated tasks, or one task's card (``sld tasks show NAME``), or how sld
reads a data file (``sld tasks show sweep.csv --inputs N,D ...``: its card, groups, folds and
the notes on what the loader guessed, before any run)."""

from __future__ import annotations

import argparse
import re
from typing import Any

from sld.cli._render import print_json, task_card, tasks_table
from sld.errors import SldError


def run(args: argparse.Namespace) -> int:
    """List the tasks (or show one) as a table or as JSON."""
    from sld.cli._data import data_options, task_spec
    from sld.cli.score import print_notes
    from sld.corpus import list_tasks, load_task

    if args.action == "show":
        if not args.name:
            raise SldError(
                "sld tasks show needs a task name or a data file; run 'sld tasks' to list them"
            )
        task = task_spec(args.name, args).load(named_as="flags")
        print_notes(task.notes)
        summary = {**task_summary(task), "folds": fold_summary(task)}
        ranges = group_ranges(task)
        if args.json:
            card = task.card.model_dump(mode="json")
            print_json({"card": card, "summary": summary, "groups": ranges})
        else:
            task_card(task, summary, ranges)
        return 0
    if data_options(args) or args.rehearse:
        raise SldError("the data flags describe a file for 'sld tasks show FILE'; pass one")
    if args.action is not None:
        raise SldError(f"unknown action {args.action!r} for 'sld tasks'; use 'sld tasks show NAME'")
    tasks = [load_task(name) for name in list_tasks()]
    summaries = [task_summary(task) for task in tasks]
    if args.json:
        print_json({"tasks": summaries})
    else:
        tasks_table(summaries, {task.name: task.card for task in tasks})
    return 0


def task_summary(task: Any) -> dict[str, Any]:
    """Names, row counts per split, parameter limit, reference law and source of a task."""
    card = task.card
    train, validation, heldout = task.train(), task.validation(), task.heldout()
    sources = getattr(card, "sources", None) or []
    return {
        "name": task.name,
        "title": card.title,
        "inputs": list(task.inputs),
        "outputs": list(task.outputs),
        "aliases": dict(task.aliases),
        "groups": len(task.groups),
        "train_rows": train.n_rows,
        "validation_rows": validation.n_rows,
        "test_rows": heldout.n_rows,
        "max_params": task.max_params,
        "reference_law": task.reference_law,
        "source": sources[0].paper if sources else None,
        "source_short": short_source(sources[0].paper) if sources else "",
        "license": getattr(card, "license", None),
    }


def fold_summary(task: Any) -> list[dict[str, Any]]:
    """Per selection fold: its index, kind and the rows it fits on and scores on."""
    return [
        {"fold": f.index, "kind": f.kind, "fit_rows": f.fit.n_rows, "score_rows": f.score.n_rows}
        for f in task.folds()
    ]


def short_source(paper: str) -> str:
    """'Chen et al., Parallel Scaling Law …, 2025' -> 'Chen et al. 2025'."""
    author = paper.split(",")[0].strip()
    years = re.findall(r"(?:19|20)\d\d", paper)
    return f"{author} {years[-1]}" if years else author


def group_ranges(task: Any) -> list[dict[str, Any]]:
    """Per group: train and test row counts and each input's [min, max] over both."""
    train, heldout = task.train(), task.heldout()
    out = []
    for i, group in enumerate(task.groups):
        entry: dict[str, Any] = {
            "group": group,
            "train_rows": int(len(train.X[i])),
            "test_rows": int(len(heldout.X[i])),
        }
        for j, name in enumerate(task.inputs):
            values = [a[:, j] for a in (train.X[i], heldout.X[i]) if len(a)]
            if values:
                joined = [float(v) for arr in values for v in arr]
                entry[name] = [min(joined), max(joined)]
        out.append(entry)
    return out
