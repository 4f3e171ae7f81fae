"""``sld baseline [TASK]``: the held-out scores of each task's reference human law."""

from __future__ import annotations

import argparse
from typing import Any

from sld.cli._render import baseline_table, print_json


def run(args: argparse.Namespace) -> int:
    """Fit each human law on all training rows, score it on held-out rows, print the table."""
    from sld.corpus import list_tasks, load_task
    from sld.scoring import heldout_score, parse_for_task

    names = [args.task] if args.task else list_tasks()
    rows: list[dict[str, Any]] = []
    for name in names:
        task = load_task(name)
        if not task.reference_law:
            rows.append({"task": task.name, "law": None, "ok": False, "reason": "no reference law"})
            continue
        report = heldout_score(
            parse_for_task(task.reference_law, task), task, seed=args.seed, restarts=args.restarts
        )
        m = report.metrics
        rows.append(
            {
                "task": task.name,
                "law": report.law,
                "ok": report.ok,
                "reason": report.reason,
                "test_r2": m.r2 if m else None,
                "test_r2_clipped": m.r2_clipped if m else None,
                "test_nmse": m.nmse if m else None,
                "test_nmae": m.nmae if m else None,
                "parameters": report.n_parameters,
                "fit_seconds": report.seconds["fit"],
            }
        )
    if args.json:
        print_json({"baseline": rows})
    else:
        baseline_table(rows)
    return 0
