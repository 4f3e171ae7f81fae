"""``sld tui``: the interactive session, imported only when asked for (it loads Textual)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Start the Textual app: a new run on TASK, or attached read-only to --attach RUN_DIR."""
    # the one step from the CLI to its sibling front end: the app's entry point, lazily
    from sld.tui import run_app

    return run_app(args.task, attach=args.attach, out=args.out, seed=args.seed)
