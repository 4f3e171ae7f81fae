"""The ``sld`` command line: one sub-parser per command, each handled by its own module."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from sld.cli import baseline, bench, discover, export, report, score, tasks, tui
from sld.cli._data import add_data_flags
from sld.cli._types import duration, non_negative_int, positive_int, share, weight, windows

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {self.prog}: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """Every command and flag; each sub-parser's ``handler`` is its module's ``run``."""
    parser = _Parser(prog="sld", description="Agentic scaling-law discovery.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    listing = sub.add_parser(
        "tasks", help="list the curated tasks, or show one (or how sld reads your data file)"
    )
    listing.add_argument(
        "action", nargs="?", choices=["show"], help="'show' to print one task's card"
    )
    listing.add_argument(
        "name", nargs="?", help="task name or data file (with 'show'; a file takes the data flags)"
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    add_data_flags(listing)
    listing.set_defaults(handler=tasks.run)

    sc = sub.add_parser("score", help="fit a law on a task and score it")
    sc.add_argument(
        "task", help="curated task name, or path to a data file (CSV, Parquet, JSON) or its card"
    )
    sc.add_argument("law", help='law string, e.g. "L = E + A/N**alpha"')
    sc.add_argument("--split", choices=["validation", "test"], default="validation")
    sc.add_argument("--bootstrap", type=non_negative_int, default=0, metavar="B")
    sc.add_argument("--restarts", type=positive_int, default=16)
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--json", action="store_true")
    add_data_flags(sc)
    sc.set_defaults(handler=score.run)

    base = sub.add_parser("baseline", help="held-out scores of each task's reference human law")
    base.add_argument("task", nargs="?", help="one task (default: all)")
    base.add_argument(
        "--restarts",
        type=positive_int,
        default=64,
        help="multistart restarts (default 64: human laws with min() kinks need many)",
    )
    base.add_argument("--seed", type=int, default=0)
    base.add_argument("--json", action="store_true")
    base.set_defaults(handler=baseline.run)

    disc = sub.add_parser("discover", help="evolve laws for a task (headless), then report")
    disc.add_argument(
        "task",
        nargs="?",
        help="curated task name, or path to a data file (CSV, Parquet, JSON) or its card",
    )
    disc.add_argument("--seed", type=int, default=0)
    disc.add_argument(
        "--out", default="runs", help="parent folder for the run directory (default: runs/)"
    )
    disc.add_argument(
        "--resume", metavar="RUN_DIR", default=None, help="continue a killed or finished run"
    )
    disc.add_argument(
        "--replay",
        metavar="RUN_DIR",
        default=None,
        help="re-run RUN_DIR as a new run, answering LLM requests from its records (no network)",
    )
    add_search_flags(disc)
    add_data_flags(disc)
    disc.add_argument("--json", action="store_true")
    disc.add_argument("--quiet", action="store_true", help="no progress display")
    disc.set_defaults(handler=discover.run)

    many = sub.add_parser(
        "bench",
        help="many discovery runs (tasks × seeds) in parallel, locally or on Ray; one table",
        description="Each (task, seed) is one discovery run in OUT/runs/<task>-s<seed>. Running "
        "the same command again skips finished runs and resumes the others.",
    )
    many.add_argument(
        "tasks",
        nargs="*",
        metavar="TASK_OR_CSV",
        help="curated task names or CSV paths (default: every curated task)",
    )
    many.add_argument(
        "--seeds", type=positive_int, default=3, help="runs per task, seeds 0..N-1 (default 3)"
    )
    many.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        help="runs at a time (default: the cores available; with --ray: as the cluster schedules)",
    )
    many.add_argument("--out", default="sld-bench", help="bench directory (default: sld-bench/)")
    many.add_argument(
        "--ray",
        nargs="?",
        const="local",  # sld.bench.RAY_LOCAL: start a Ray instance on this machine
        default=None,
        metavar="ADDRESS",
        help="run each (task, seed) as a Ray task: bare --ray starts a local Ray instance, "
        "'auto' or HOST:PORT joins a running cluster (needs pip install 'sld[ray]')",
    )
    add_search_flags(many)
    add_data_flags(many)
    many.add_argument("--json", action="store_true")
    many.add_argument("--quiet", action="store_true", help="no progress display")
    many.set_defaults(handler=bench.run)

    rep = sub.add_parser("report", help="re-render a run's report from its store")
    rep.add_argument("run_dir")
    rep.add_argument("--json", action="store_true")
    rep.set_defaults(handler=report.run)

    exp = sub.add_parser(
        "export", help="print one law of a run as LaTeX, Python, SymPy, JSON or CSV"
    )
    exp.add_argument("run_dir", metavar="RUN_DIR")
    exp.add_argument(
        "--law", type=positive_int, metavar="ID", help="candidate id (default: the chosen law)"
    )
    exp.add_argument(
        "--format",
        required=True,
        choices=["latex", "python", "sympy", "json", "csv"],
        help="csv: the per-group parameters",
    )
    exp.add_argument("--out", metavar="PATH", help="write to PATH instead of stdout")
    exp.set_defaults(handler=export.run)

    session = sub.add_parser(
        "tui", help="interactive terminal session: run a discovery or watch one"
    )
    session.add_argument(
        "task",
        nargs="?",
        help="curated task name, or path to your own data file (CSV, Parquet, JSON)",
    )
    session.add_argument(
        "--attach",
        metavar="RUN_DIR",
        default=None,
        help="watch a run directory read-only (a bench directory opens its table)",
    )
    session.add_argument(
        "--bench",
        metavar="DIR",
        default=None,
        help="a bench directory made by 'sld bench': its table, and attach to any of its runs",
    )
    session.add_argument(
        "--out", default="runs", help="parent folder for new run directories (default: runs/)"
    )
    session.add_argument("--seed", type=int, default=0)
    session.add_argument(
        "--start",
        action="append",
        default=None,
        metavar="LAW",
        help="a law of your own to start from (repeatable; fills the form's start laws)",
    )
    add_data_flags(session)
    session.set_defaults(handler=tui.run)
    return parser


PICK_SWITCHES = (  # the final pick's on/off switches: (flag, help)
    (
        "--pick-steady",
        "among two or more laws the final pick cannot tell apart, choose the one whose "
        "extrapolation moves least as the folds add rows (on by default; README, 'Steady')",
    ),
    (
        "--pick-supported",
        "the final pick also weighs the law the fit rows support best (lowest BIC), "
        "however the fold bands ranked it (on by default; README, 'Supported')",
    ),
    (
        "--pick-prior",
        "the final pick also weighs the best law of generation 0 (proposed before any fold "
        "score), however the search ranked it later (on by default; README, 'Prior law')",
    ),
    (
        "--pick-frozen",
        "the final pick counts frozen terms (summands no fit scales, e.g. 93/log(N)) as "
        "parameters (on by default; README, 'Frozen terms')",
    ),
    (
        "--pick-unfreeze",
        "in the final pick, a law with frozen terms is judged with their coefficients "
        "fitted (93/log(N) becomes F/log(N)) in its place (on by default; README, 'Frozen terms')",
    ),
)


def add_search_flags(parser: argparse.ArgumentParser) -> None:
    """Budgets, proposer and search settings of a discovery run (``discover`` and ``bench``)."""
    search = parser.add_argument_group("search")
    search.add_argument(
        "--time",
        type=duration,
        default=None,
        help="the search's wall-time budget per run, e.g. 90s, 10m; the final pick, "
        "held-out scores and report follow it (seconds to minutes, each with its own clock)",
    )
    search.add_argument("--generations", type=positive_int, default=None)
    search.add_argument("--candidates", type=positive_int, default=None, help="proposal budget")
    search.add_argument(
        "--proposer",
        choices=["offline", "llm", "mixed"],
        default=None,
        help="default: offline, or llm with --provider local",
    )
    search.add_argument(
        "--provider",
        choices=["openai", "local"],
        default=None,
        help="LLM: an OpenAI-compatible endpoint (default) or the in-process local model",
    )
    search.add_argument("--model", default=None, help="LLM model name (default gpt-4o-mini)")
    search.add_argument(
        "--base-url", default=None, help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL)"
    )
    search.add_argument(
        "--llm-config",
        metavar="PATH",
        default=None,
        help="TOML file of LLM settings (model, base_url, api_key_env, prices, ...)",
    )
    search.add_argument(
        "--budget-usd", type=float, default=None, help="stop once LLM calls cost this"
    )
    search.add_argument(
        "--budget-tokens",
        type=positive_int,
        default=None,
        help="stop once LLM calls used this many tokens",
    )
    search.add_argument(
        "--llm-ratio",
        type=float,
        default=None,
        help="--proposer mixed: share of island-generations asking the LLM (default 0.5)",
    )
    search.add_argument("--islands", type=positive_int, default=4)
    search.add_argument(
        "--per-island", type=positive_int, default=6, help="proposals per island per generation"
    )
    search.add_argument("--restarts", type=positive_int, default=8)
    search.add_argument(
        "--screen-share",
        type=share,
        default=None,
        help="share of each generation's candidates a cheap screening fit promotes to the "
        "full fit (default 0.25; 1 fully fits every candidate)",
    )
    search.add_argument(
        "--screen-width",
        type=positive_int,
        default=None,
        help="propose and screen this many times --per-island a generation, promoting as "
        "many as before (default: from the task's rows, 1 to 4, offline proposer; 1 with an LLM)",
    )
    search.add_argument(
        "--start",
        action="append",
        default=None,
        metavar="LAW",
        help="a law of your own to start from (repeatable): proposed first, always fully "
        "fitted, and scored on held-out rows beside the chosen law; 'reference' is the "
        "task's reference law",
    )
    search.add_argument("--bootstrap", type=non_negative_int, default=30)
    search.add_argument(
        "--final-narrow",
        type=non_negative_int,
        default=None,
        metavar="K",
        help="in the confirmations and the final pick, where groups average 256 rows or more, "
        "only each group's best K restarts run past 20 iterations (default 0, off: measured, "
        "not the default; on lr_bsz, two seeds: 71%% less time after the search; README, "
        "'Narrowing the restarts')",
    )
    search.add_argument(
        "--complexity-weight",
        type=weight,
        default=None,
        help="fitness penalty per expression node, in decades of error (default 0.005)",
    )
    search.add_argument(
        "--param-weight",
        type=weight,
        default=None,
        help="fitness penalty per free parameter, in decades of error (default 0.01)",
    )
    search.add_argument(
        "--fit-windows",
        type=windows,
        default=None,
        metavar="SHARES",
        help="shares of each group's smallest-scale rows the final pick may leave out of "
        "every fit, comma-separated; it keeps the one whose best law extrapolates best on "
        "the folds (default 0,0.25,0.5,0.75; 0 fits on every row)",
    )
    search.add_argument(
        "--pick-consensus",
        action="store_true",
        default=None,
        help="among three or more laws the final pick cannot tell apart, choose the one whose "
        "extrapolation lies nearest their median extrapolation (off by default; README, "
        "'Consensus')",
    )
    for flag, text in PICK_SWITCHES:  # each on by default; --no-pick-X turns it off
        search.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)


def _version() -> str:
    from sld import __version__

    return f"sld {__version__}"
