"""``sld bench``: every (task, seed) as its own discovery run, in parallel, then one table.

Runs locally in ``--jobs`` worker processes, or as Ray tasks with ``--ray``.
Running the same command again skips finished runs and resumes the others.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sld.cli._render import bench_summary, print_json


def run(args: argparse.Namespace) -> int:
    """Plan the bench, run what is not done yet with live progress, print the table."""
    from sld.bench import output_paths, run_bench

    executor = executor_from(args)
    config = config_from(args)
    if hasattr(executor, "connect"):  # Ray: start or join it before claiming the directory
        executor.connect()
    err = Console(stderr=True, highlight=False)
    display = BenchDisplay(config, executor.describe(), root=Path(args.out))
    live = Live(get_renderable=display.render, console=err, refresh_per_second=4)

    def on_start(todo: list[Any], done: list[Any]) -> None:
        display.start(todo, done)
        if not args.quiet:  # only once the directory is claimed: a refusal prints no progress
            live.start()

    try:
        try:
            table, errors = run_bench(
                config,
                args.out,
                executor=executor,
                on_start=on_start,
                on_message=display.update,
            )
        finally:
            live.stop()
    except KeyboardInterrupt:
        err.print(
            "interrupted: the running searches stopped cleanly; run the same command again "
            f"to resume them (the table so far is in {args.out})",
            markup=False,
        )
        return 130
    for note in display.notices:
        err.print(f"note: {note}", markup=False)
    outputs = {kind: str(path) for kind, path in output_paths(args.out).items()}
    if args.json:
        print_json({**table.to_dict(), "errors": errors, "outputs": outputs})
    else:
        bench_summary(table, outputs)
    for key, error in errors.items():
        err.print(f"error: run {key} failed: {error}", markup=False)
    return 1 if errors else 0


class BenchDisplay:
    """What the live progress shows: runs done, running and queued; per task the best so far."""

    def __init__(self, config: Any, how: str, *, root: Path) -> None:
        self.config = config
        self.how = how
        self.root = root
        self.started = time.monotonic()
        self.state: dict[str, str] = {}  # job key -> queued | running | finished | skipped | failed
        self.best: dict[str, tuple[float, str]] = {}  # job key -> (best validation R², law)
        self.fitted: dict[str, int] = {}
        self.task_of: dict[str, str] = {}
        self.notices: list[str] = []

    def start(self, todo: list[Any], done: list[Any]) -> None:
        """The jobs this invocation runs, and those finished before it."""
        for job in todo:
            self.state[job.key] = "queued"
            self.task_of[job.key] = job.task
        from sld.bench import read_run_row

        for job in done:
            self.state[job.key] = "skipped"
            self.task_of[job.key] = job.task
            row = read_run_row(self.root, job)
            self.fitted[job.key] = row.fitted
            if math.isfinite(row.validation_r2):
                self.best[job.key] = (row.validation_r2, row.chosen_law)

    def update(self, message: Any) -> None:
        """Fold one job message into the display."""
        from sld.bench import JobEnded, JobNotice, JobProgress, JobStarted

        if isinstance(message, JobStarted):
            self.state[message.key] = "running"
        elif isinstance(message, JobProgress):
            self.fitted[message.key] = message.fitted
            if math.isfinite(message.best_r2):
                self.best[message.key] = (message.best_r2, message.best_law)
        elif isinstance(message, JobNotice):
            if message.message not in self.notices:
                self.notices.append(message.message)
        elif isinstance(message, JobEnded):
            self.state[message.key] = (
                ("skipped" if message.skipped else "finished") if message.ok else "failed"
            )

    def render(self) -> Group:
        """The progress block: one summary line and a line per task."""
        counts = {s: 0 for s in ("finished", "skipped", "running", "queued", "failed")}
        for state in self.state.values():
            counts[state] += 1
        elapsed = time.monotonic() - self.started
        head = Text.assemble(
            ("sld bench ", "bold"),
            f"{counts['finished'] + counts['skipped']}/{len(self.state)} runs done "
            f"({counts['skipped']} already were), {counts['running']} running, "
            f"{counts['queued']} queued"
            + (f", {counts['failed']} failed" if counts["failed"] else "")
            + f" · {self.how} · {int(elapsed // 60)}:{int(elapsed % 60):02d}",
        )
        table = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
        table.add_column("task", no_wrap=True, overflow="ellipsis", max_width=28)
        for column in ("done", "running", "fitted", "best val R²"):
            table.add_column(column, justify="right", no_wrap=True, min_width=len(column))
        table.add_column("best law so far", no_wrap=True, overflow="ellipsis", ratio=1)
        for name in self.config.names:
            keys = [k for k, t in self.task_of.items() if t == name]
            done = sum(self.state[k] in ("finished", "skipped") for k in keys)
            running = sum(self.state[k] == "running" for k in keys)
            best = max((self.best[k] for k in keys if k in self.best), default=None)
            table.add_row(
                name,
                f"{done}/{len(keys)}",
                str(running) if running else "",
                str(sum(self.fitted.get(k, 0) for k in keys)),
                f"{best[0]:.4f}" if best else "—",
                Text(best[1] if best else "", overflow="ellipsis"),
            )
        return Group(head, table)


def executor_from(args: argparse.Namespace) -> Any:
    """Local worker processes, or Ray with ``--ray`` (a one-line error when Ray is missing).

    ``--ray TASK ...`` (argparse hands the first task to ``--ray``) means a local Ray
    instance and TASK: the task goes back to the front of ``args.tasks``.
    """
    from sld.bench import RAY_LOCAL, LocalExecutor, RayExecutor, default_jobs, require_ray
    from sld.corpus import is_curated
    from sld.corpus.files import DATA_SUFFIXES

    data_file = (*DATA_SUFFIXES, ".toml")
    if args.ray is not None and (is_curated(args.ray) or args.ray.endswith(data_file)):
        args.tasks = [args.ray, *args.tasks]
        args.ray = RAY_LOCAL
    if args.ray is not None:
        require_ray()
        return RayExecutor(args.ray, jobs=args.jobs)
    return LocalExecutor(args.jobs or default_jobs())


def config_from(args: argparse.Namespace) -> Any:
    """The bench the flags describe (every task loaded once, so a bad one fails here).

    The data flags describe every data file given; curated tasks ignore them, and data
    flags with no data file at all are refused.
    """
    from sld.bench import bench_config
    from sld.cli._data import DATA_FLAGS, data_options
    from sld.cli.discover import search_settings, task_spec
    from sld.corpus import is_curated, list_tasks
    from sld.errors import ConfigError

    sources = args.tasks or list_tasks()
    given = data_options(args)
    if given and all(is_curated(s) for s in sources):
        flags = ", ".join(DATA_FLAGS[field] for field in given)
        raise ConfigError(
            f"{flags} describe your own data file, but every task given is curated (its card "
            "says all of it); drop the flag(s) or pass a path to your data file (CSV, Parquet, JSON)"
        )
    # a data file by its absolute path: workers (Ray's too) and later re-runs may start elsewhere
    specs = [
        {"source": s, "rehearse": args.rehearse}
        if is_curated(s)
        else task_spec(args, str(Path(s).resolve()))
        for s in sources
    ]
    config, _ = bench_config(specs, seeds=args.seeds, run=search_settings(args), named_as="flags")
    return config
