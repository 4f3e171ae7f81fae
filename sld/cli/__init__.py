"""The ``sld`` command.

Every user mistake (bad flag, unknown task, bad law, bad file) ends as one line
``error: …`` on stderr and exit code 2; never a traceback. Each command lives in
its own module (:mod:`sld.cli.tasks`, ``score``, ``baseline``, ``discover``,
``report``, ``export``, ``tui``); :mod:`sld.cli._render` draws their results.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from sld.cli._args import EXIT_USAGE, build_parser
from sld.errors import SldError

__all__ = ["EXIT_USAGE", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``sld`` command; returns the exit code (0, 2 for a user mistake, 130 on Ctrl-C)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a one-line usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return handler(args)
    except SldError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
