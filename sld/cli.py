"""The ``sld`` command.

Every user mistake (bad flag, unknown task, bad law, bad file) ends as one line
``error: …`` on stderr and exit code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from rich.console import Console

from sld.errors import SldError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {self.prog}: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _print_json(payload: Any) -> None:
    """Strict JSON on stdout: non-finite numbers are null, listed under "non_finite"."""
    from sld.strict_json import dumps

    sys.stdout.write(dumps(payload) + "\n")


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or value != value:
        return "—"
    return f"{value:.{digits}f}"


# ---------------------------------------------------------------- sld tasks


def _task_summary(task: Any) -> dict[str, Any]:
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
        "source_short": _short_source(sources[0].paper) if sources else "",
        "license": getattr(card, "license", None),
    }


def _short_source(paper: str) -> str:
    """'Chen et al., Parallel Scaling Law …, 2025' -> 'Chen et al. 2025'."""
    author = paper.split(",")[0].strip()
    years = re.findall(r"(?:19|20)\d\d", paper)
    return f"{author} {years[-1]}" if years else author


def _aliased(names: list[str], card_vars: Any) -> str:
    alias = {v.name: v.alias for v in card_vars}
    return ", ".join(alias.get(n) or n for n in names)


def cmd_tasks(args: argparse.Namespace) -> int:
    from sld.corpus import list_tasks, load_task

    if args.action == "show":
        if not args.name:
            raise SldError("sld tasks show needs a task name; run 'sld tasks' to list them")
        return _show_task(load_task(args.name), as_json=args.json)
    if args.action is not None:
        raise SldError(f"unknown action {args.action!r} for 'sld tasks'; use 'sld tasks show NAME'")
    summaries = [_task_summary(load_task(name)) for name in list_tasks()]
    if args.json:
        _print_json({"tasks": summaries})
        return 0
    from rich.table import Table

    table = Table(title="sld tasks", show_lines=False)
    for column, justify in (
        ("task", "left"),
        ("inputs -> outputs", "left"),
        ("groups", "right"),
        ("train", "right"),
        ("val", "right"),
        ("test", "right"),
        ("source", "left"),
    ):
        table.add_column(column, justify=justify, no_wrap=column == "task")  # type: ignore[arg-type]
    for s in summaries:
        card = load_task(s["name"]).card
        arrow = f"{_aliased(s['inputs'], card.inputs)} -> {_aliased(s['outputs'], card.outputs)}"
        table.add_row(
            s["name"],
            arrow,
            str(s["groups"]),
            str(s["train_rows"]),
            str(s["validation_rows"]),
            str(s["test_rows"]),
            s["source_short"],
        )
    _console().print(table)
    _console().print("inputs and outputs by alias; 'sld tasks show NAME' for the card")
    return 0


def _group_ranges(task: Any) -> list[dict[str, Any]]:
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


def _show_task(task: Any, *, as_json: bool) -> int:
    card = task.card
    ranges = _group_ranges(task)
    if as_json:
        _print_json(
            {"card": card.model_dump(mode="json"), "summary": _task_summary(task), "groups": ranges}
        )
        return 0
    from rich.table import Table

    console = _console()
    console.print(f"[bold]{task.name}[/bold] — {card.title}")
    console.print(card.description)
    variables = Table(title="variables")
    for column in ("role", "name", "alias", "unit", "log", "description"):
        variables.add_column(column)
    for role, items in (("input", card.inputs), ("output", card.outputs)):
        for v in items:
            variables.add_row(
                role,
                v.name,
                v.alias or "",
                v.unit or "",
                "yes" if v.log_scale else "",
                v.description,
            )
    console.print(variables)
    s = _task_summary(task)
    console.print(
        f"group: {card.group}\nrows: train {s['train_rows']} (validation {s['validation_rows']}), "
        f"test {s['test_rows']}, groups {s['groups']}\nparameter limit: {task.max_params}\n"
        f"reference law: {task.reference_law or '—'}\nlicense: {s['license']}"
    )
    for source in getattr(card, "sources", None) or []:
        console.print(
            f"source: {source.paper}"
            + (f" ({source.repository})" if getattr(source, "repository", None) else "")
        )
    for caveat in getattr(card, "caveats", None) or []:
        console.print(f"caveat: {caveat}")
    groups = Table(title="groups (ranges over train and test rows)")
    groups.add_column("group")
    groups.add_column("train", justify="right")
    groups.add_column("test", justify="right")
    for name in task.inputs:
        groups.add_column(name, justify="right")
    shown = ranges if len(ranges) <= 50 else ranges[:50]
    for r in shown:
        groups.add_row(
            r["group"],
            str(r["train_rows"]),
            str(r["test_rows"]),
            *(f"{r[n][0]:.4g} – {r[n][1]:.4g}" if n in r else "" for n in task.inputs),
        )
    console.print(groups)
    return 0


# ---------------------------------------------------------------- sld score / baseline


def cmd_score(args: argparse.Namespace) -> int:
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
        _print_json(report.model_dump(mode="json"))
        return 0
    console = _console()
    console.print(f"[bold]{report.task}[/bold]  {report.law}")
    console.print(
        f"complexity {report.complexity}, parameters {report.n_parameters}, fit "
        f"{'converged' if report.fit.converged else 'not converged'} "
        f"(train loss {report.fit.train_loss:.3g}, {report.seconds['fit']:.2f} s)"
    )
    if report.metrics is None:
        console.print(f"{report.split}: not scored: {report.reason}")
        return 0
    m = report.metrics
    line = (
        f"{report.split} ({m.rows} rows): R² {_fmt(m.r2)}  NMSE {_fmt(m.nmse)}  NMAE {_fmt(m.nmae)}"
    )
    if report.bootstrap is not None:
        b = report.bootstrap
        line += f"  R² 95% [{_fmt(b.low)}, {_fmt(b.high)}] ({b.samples} refits)"
    console.print(line)
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from sld.corpus import list_tasks, load_task
    from sld.scoring import heldout_score, parse_for_task

    names = [args.task] if args.task else list_tasks()
    rows = []
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
        _print_json({"baseline": rows})
        return 0
    from rich.table import Table

    table = Table(title="reference human laws, held-out scores")
    for column in ("task", "R² (clipped)", "NMSE", "NMAE", "params", "law"):
        table.add_column(column)
    for r in rows:
        if not r["ok"]:
            table.add_row(r["task"], "—", "—", "—", "", r.get("reason") or "")
            continue
        table.add_row(
            r["task"],
            _fmt(r["test_r2_clipped"]),
            _fmt(r["test_nmse"]),
            _fmt(r["test_nmae"]),
            str(r["parameters"]),
            r["law"],
        )
    _console().print(table)
    return 0


# ---------------------------------------------------------------- sld discover / report


def parse_duration(text: str) -> float:
    """'90', '90s', '10m', '1.5h' -> seconds (argparse type)."""
    from sld.config import parse_duration as seconds

    try:
        return seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run_config(args: argparse.Namespace) -> Any:
    from sld.config import Budgets, RunConfig, llm_config, validated
    from sld.errors import ConfigError
    from sld.run import replay_config

    if args.replay is not None:
        if args.task is not None:
            raise ConfigError("give either a TASK or --replay RUN_DIR, not both")
        budgets = dict(
            time_limit=args.time, generations=args.generations, max_candidates=args.candidates
        )
        return replay_config(args.replay, validated(Budgets, budgets))
    is_file = args.task is not None and (args.task.endswith((".csv", ".toml")) or "/" in args.task)
    if not is_file and any(
        v is not None for v in (args.inputs, args.output, args.group, args.test)
    ):
        raise ConfigError(
            "--inputs/--output/--group/--test apply to a CSV task only; give a path to a .csv file"
        )
    return validated(
        RunConfig,
        dict(
            task=dict(
                source=args.task,
                inputs=args.inputs.split(",") if args.inputs else None,
                outputs=args.output.split(",") if args.output else None,
                group=args.group,
                test=args.test,
            ),
            seed=args.seed,
            generations=args.generations,
            max_candidates=args.candidates,
            time_limit=args.time,
            proposer=args.proposer or ("llm" if args.provider == "local" else "offline"),
            islands=args.islands,
            proposals_per_island=args.per_island,
            restarts=args.restarts,
            bootstrap=args.bootstrap,
            llm=llm_config(
                config_file=args.llm_config,
                provider=args.provider,
                model=args.model,
                base_url=args.base_url,
                budget_usd=args.budget_usd,
                budget_tokens=args.budget_tokens,
                mixed_ratio=args.llm_ratio,
            ),
        ),
    )


def cmd_discover(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from sld.config import Budgets, validated
    from sld.errors import ConfigError
    from sld.run import Run, RunEvent

    if args.resume is None and args.task is None and args.replay is None:
        raise ConfigError(
            "sld discover needs a TASK (or --resume RUN_DIR); run 'sld tasks' to list tasks"
        )
    if args.resume is not None and args.task is not None:
        raise ConfigError("give either a TASK or --resume RUN_DIR, not both")
    err = Console(stderr=True, highlight=False)
    show_progress: list[Callable[[Any], None]] = []

    def on_event(event: RunEvent) -> None:
        if event.kind == "notice":
            err.print(f"note: {event.message}")
        elif event.kind == "progress" and show_progress:
            show_progress[0](event.progress)

    if args.resume is not None:
        budgets = validated(
            Budgets,
            dict(
                time_limit=args.time, generations=args.generations, max_candidates=args.candidates
            ),
        )
        run = Run.open(args.resume, budgets=budgets, listener=on_event)
    else:
        run = Run.create(_run_config(args), out=args.out, listener=on_event)
    total = run.config.time_limit
    with Progress(
        TextColumn("[bold]gen {task.fields[generation]}[/bold]"),
        BarColumn(bar_width=20),
        TextColumn("best val R² {task.fields[best]}"),
        TextColumn("{task.fields[fitted]} fitted, {task.fields[rate]}/s"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=args.quiet,
    ) as bar:
        handle = bar.add_task("discover", total=total, generation=0, best="—", fitted=0, rate="0.0")

        def on_progress(p: Any) -> None:
            bar.update(
                handle,
                completed=p.elapsed if total else None,
                generation=p.generation,
                best=_fmt(p.best_r2),
                fitted=p.fitted,
                rate=f"{p.rate:.1f}",
            )

        show_progress.append(on_progress)
        report = run.execute(handle_signals=True)
    report["run_dir"] = str(run.run_dir)
    if args.json:
        _print_json(report)
    else:
        render_report(report)
    return 0


def render_report(report: dict[str, Any]) -> None:
    """The final report on the terminal: chosen law, held-out scores beside the human law, Pareto front."""
    from rich.table import Table

    console = _console()
    console.print(
        f"[bold]{report['task']}[/bold]: {report['candidates']} candidates, "
        f"stopped by {report.get('stopped_by') or 'budget'}; run in {report.get('run_dir', '')}"
    )
    chosen = report.get("chosen")
    if chosen is None:
        console.print("no law was scored")
        return
    console.print(
        f"chosen (validation R² {_fmt(chosen['validation_r2'])}, complexity {chosen['complexity']}):"
    )
    console.print(f"  {chosen['text']}")
    exports = report.get("chosen_exports") or {}
    if exports:
        console.print(f"  LaTeX: {exports['latex']}")
    held = Table(title="held-out extrapolation (after selection)")
    for column in ("law", "test R²", "95% bootstrap", "NMSE", "NMAE"):
        held.add_column(column)
    for kind in ("chosen", "human"):
        e = (report.get("heldout") or {}).get(kind)
        if e is None:
            continue
        interval = e.get("bootstrap_95")
        held.add_row(
            kind,
            _fmt(e.get("test_r2_clipped")),
            f"[{_fmt(interval[0])}, {_fmt(interval[1])}]" if interval else "—",
            _fmt(e.get("test_nmse")),
            _fmt(e.get("test_nmae")),
        )
    console.print(held)
    front = Table(title="Pareto front (validation)")
    for column in ("complexity", "params", "val R²", "law"):
        front.add_column(column)
    for m in report.get("pareto_front", [])[:15]:
        front.add_row(str(m["complexity"]), str(m["n_params"]), _fmt(m["validation_r2"]), m["text"])
    console.print(front)
    if report.get("plot"):
        console.print(f"plot: {report['plot']}")


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sld.config import RunConfig
    from sld.errors import StoreError
    from sld.report import PLOT_PNG, build_report, read_run
    from sld.store import RunReader

    run_dir = Path(args.run_dir)
    if not RunReader.exists(run_dir):
        raise StoreError(f"no run store in {run_dir}; pass a directory made by 'sld discover'")
    with RunReader.open(run_dir) as reader:
        record = read_run(reader)
    report = build_report(record, RunConfig.model_validate(record.snapshot.config).task.load())
    report["run_dir"] = str(run_dir)
    if (run_dir / PLOT_PNG).exists():
        report["plot"] = str(run_dir / PLOT_PNG)
    if args.json:
        _print_json(report)
    else:
        render_report(report)
    return 0


# ---------------------------------------------------------------- sld tui


def cmd_tui(args: argparse.Namespace) -> int:
    from tui.app import run_app

    return run_app(args.task, attach=args.attach, out=args.out, seed=args.seed)


# ---------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sld", description="Agentic scaling-law discovery.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    tasks = sub.add_parser("tasks", help="list the curated tasks, or show one")
    tasks.add_argument(
        "action", nargs="?", choices=["show"], help="'show' to print one task's card"
    )
    tasks.add_argument("name", nargs="?", help="task name (with 'show')")
    tasks.add_argument("--json", action="store_true", help="machine-readable output")
    tasks.set_defaults(handler=cmd_tasks)

    sc = sub.add_parser("score", help="fit a law on a task and score it")
    sc.add_argument("task", help="curated task name or path to a CSV / card")
    sc.add_argument("law", help='law string, e.g. "L = E + A/N**alpha"')
    sc.add_argument("--split", choices=["validation", "test"], default="validation")
    sc.add_argument("--bootstrap", type=_non_negative_int, default=0, metavar="B")
    sc.add_argument("--restarts", type=_positive_int, default=16)
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--json", action="store_true")
    sc.set_defaults(handler=cmd_score)

    base = sub.add_parser("baseline", help="held-out scores of each task's reference human law")
    base.add_argument("task", nargs="?", help="one task (default: all)")
    base.add_argument(
        "--restarts",
        type=_positive_int,
        default=64,
        help="multistart restarts (default 64: human laws with min() kinks need many)",
    )
    base.add_argument("--seed", type=int, default=0)
    base.add_argument("--json", action="store_true")
    base.set_defaults(handler=cmd_baseline)

    disc = sub.add_parser("discover", help="evolve laws for a task (headless), then report")
    disc.add_argument("task", nargs="?", help="curated task name or path to a CSV / card")
    disc.add_argument(
        "--time", type=parse_duration, default=None, help="wall-time budget, e.g. 90s, 10m"
    )
    disc.add_argument("--generations", type=_positive_int, default=None)
    disc.add_argument("--candidates", type=_positive_int, default=None, help="proposal budget")
    disc.add_argument("--seed", type=int, default=0)
    disc.add_argument(
        "--out", default="runs", help="parent folder for the run directory (default: runs/)"
    )
    disc.add_argument(
        "--resume", metavar="RUN_DIR", default=None, help="continue a killed or finished run"
    )
    disc.add_argument(
        "--proposer",
        choices=["offline", "llm", "mixed"],
        default=None,
        help="default: offline, or llm with --provider local",
    )
    disc.add_argument(
        "--provider",
        choices=["openai", "local"],
        default=None,
        help="LLM: an OpenAI-compatible endpoint (default) or the in-process local model",
    )
    disc.add_argument("--model", default=None, help="LLM model name (default gpt-4o-mini)")
    disc.add_argument(
        "--base-url", default=None, help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL)"
    )
    disc.add_argument(
        "--llm-config",
        metavar="PATH",
        default=None,
        help="TOML file of LLM settings (model, base_url, api_key_env, prices, ...)",
    )
    disc.add_argument(
        "--budget-usd", type=float, default=None, help="stop once LLM calls cost this"
    )
    disc.add_argument(
        "--budget-tokens",
        type=_positive_int,
        default=None,
        help="stop once LLM calls used this many tokens",
    )
    disc.add_argument(
        "--llm-ratio",
        type=float,
        default=None,
        help="--proposer mixed: share of island-generations asking the LLM (default 0.5)",
    )
    disc.add_argument(
        "--replay",
        metavar="RUN_DIR",
        default=None,
        help="re-run RUN_DIR as a new run, answering LLM requests from its records (no network)",
    )
    disc.add_argument("--islands", type=_positive_int, default=4)
    disc.add_argument(
        "--per-island", type=_positive_int, default=6, help="proposals per island per generation"
    )
    disc.add_argument("--restarts", type=_positive_int, default=8)
    disc.add_argument("--bootstrap", type=_non_negative_int, default=30)
    disc.add_argument("--inputs", help="CSV task: comma-separated input columns")
    disc.add_argument("--output", help="CSV task: output column(s), comma-separated")
    disc.add_argument("--group", help="CSV task: group column")
    disc.add_argument("--test", help='CSV task: rule selecting held-out rows, e.g. "N >= 1e9"')
    disc.add_argument("--json", action="store_true")
    disc.add_argument("--quiet", action="store_true", help="no progress display")
    disc.set_defaults(handler=cmd_discover)

    rep = sub.add_parser("report", help="re-render a run's report from its store")
    rep.add_argument("run_dir")
    rep.add_argument("--json", action="store_true")
    rep.set_defaults(handler=cmd_report)

    tui = sub.add_parser("tui", help="interactive terminal session: run a discovery or watch one")
    tui.add_argument("task", nargs="?", help="curated task name or path to a CSV with a card")
    tui.add_argument(
        "--attach", metavar="RUN_DIR", default=None, help="watch a run directory read-only"
    )
    tui.add_argument(
        "--out", default="runs", help="parent folder for new run directories (default: runs/)"
    )
    tui.add_argument("--seed", type=int, default=0)
    tui.set_defaults(handler=cmd_tui)
    return parser


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _version() -> str:
    from sld import __version__

    return f"sld {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a one-line usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command in ("score", "baseline", "discover", "report", "tui"):
        from sld.compile_cache import enable_compile_cache

        enable_compile_cache()
    try:
        return handler(args)
    except SldError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
