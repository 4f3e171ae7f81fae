"""``sld score TASK LAW``: fit one law on a task and score it on a split."""

from __future__ import annotations

import argparse

from sld.cli._render import print_json, score_lines


def run(args: argparse.Namespace) -> int:
    """Fit, score, print (the metrics, or the ScoreReport as JSON)."""
    from sld.scoring import score

    report = score(
        args.law,
        args.task,
        split=args.split,
        seed=args.seed,
        bootstrap=args.bootstrap,
        restarts=args.restarts,
    )
    if args.json:
        print_json(report.model_dump(mode="json"))
    else:
        score_lines(report)
    return 0
