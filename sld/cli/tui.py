"""``sld tui``: the interactive session, imported only when asked for (it loads Textual)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Start the Textual app: a new run on TASK, attached read-only to --attach RUN_DIR,
    or the table of --bench DIR (from which any of its runs can be watched)."""
    # the one step from the CLI to its sibling front end: the app's entry point, lazily
    from sld.tui import run_app

    return run_app(args.task, attach=args.attach, bench=args.bench, out=args.out, seed=args.seed)
