"""The ``sld`` command.

Every user mistake (bad flag, unknown task, bad law, bad file) ends as one line
``error: …`` on stderr and exit code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
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
    sys.stdout.write(json.dumps(payload, indent=2, allow_nan=True, default=str) + "\n")


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
        "license": getattr(card, "license", None),
    }


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
        ("valid", "right"),
        ("test", "right"),
        ("source", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for s in summaries:
        arrow = f"{', '.join(s['inputs'])} -> {', '.join(s['outputs'])}"
        table.add_row(
            s["name"],
            arrow,
            str(s["groups"]),
            str(s["train_rows"]),
            str(s["validation_rows"]),
            str(s["test_rows"]),
            s["source"] or "",
        )
    _console().print(table)
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
        _print_json({"card": card.model_dump(mode="json"), "summary": _task_summary(task), "groups": ranges})
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
                role, v.name, v.alias or "", v.unit or "", "yes" if v.log_scale else "", v.description
            )
    console.print(variables)
    s = _task_summary(task)
    console.print(
        f"group: {card.group}\nrows: train {s['train_rows']} (validation {s['validation_rows']}), "
        f"test {s['test_rows']}, groups {s['groups']}\nparameter limit: {task.max_params}\n"
        f"reference law: {task.reference_law or '—'}\nlicense: {s['license']}"
    )
    for source in getattr(card, "sources", None) or []:
        console.print(f"source: {source.paper}" + (f" ({source.repository})" if getattr(source, "repository", None) else ""))
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
    from sld.score import score

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
    line = f"{report.split} ({m.rows} rows): R² {_fmt(m.r2)}  NMSE {_fmt(m.nmse)}  NMAE {_fmt(m.nmae)}"
    if report.bootstrap is not None:
        b = report.bootstrap
        line += f"  R² 95% [{_fmt(b.low)}, {_fmt(b.high)}] ({b.samples} refits)"
    console.print(line)
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from sld.corpus import list_tasks, load_task
    from sld.score import heldout_score, parse_for_task

    names = [args.task] if args.task else list_tasks()
    rows = []
    for name in names:
        task = load_task(name)
        if not task.reference_law:
            rows.append({"task": task.name, "law": None, "ok": False, "reason": "no reference law"})
            continue
        report = heldout_score(parse_for_task(task.reference_law, task), task, seed=args.seed, restarts=args.restarts)
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


# ---------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sld", description="Agentic scaling-law discovery.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    tasks = sub.add_parser("tasks", help="list the curated tasks, or show one")
    tasks.add_argument("action", nargs="?", choices=["show"], help="'show' to print one task's card")
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
    base.add_argument("--restarts", type=_positive_int, default=16)
    base.add_argument("--seed", type=int, default=0)
    base.add_argument("--json", action="store_true")
    base.set_defaults(handler=cmd_baseline)
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
    args = parser.parse_args(argv)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
