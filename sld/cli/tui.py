"""``sld tui``: the interactive session, imported only when asked for (it loads Textual)."""

from __future__ import annotations

import argparse

from sld.errors import ConfigError


def run(args: argparse.Namespace) -> int:
    """Start the Textual app: a new run on TASK, attached read-only to --attach RUN_DIR,
    or the table of --bench DIR (from which any of its runs can be watched).

    Your own data file takes the data flags, as ``sld discover`` does; the file is loaded
    once first, so a bad flag or file is a one-line error before the screen opens, and the
    guesses the loader makes are printed as notes (the session's log shows them too).
    """
    from sld.cli._data import data_options
    from sld.cli.discover import task_spec
    from sld.config import TaskSpec

    task: str | TaskSpec | None = args.task
    if args.task is not None and args.attach is None and args.bench is None:
        task = TaskSpec.model_validate(task_spec(args, args.task))
    elif data_options(args):
        raise ConfigError("the data flags describe a TASK file; drop them with --attach or --bench")
    # the one step from the CLI to its sibling front end: the app's entry point, lazily
    from sld.tui import run_app

    if args.start and (args.attach is not None or args.bench is not None):
        raise ConfigError("--start sets a new run's start laws; drop it with --attach or --bench")
    return run_app(
        task,
        attach=args.attach,
        bench=args.bench,
        out=args.out,
        seed=args.seed,
        start=args.start or (),
    )
