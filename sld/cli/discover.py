"""``sld discover``: a headless discovery run (new, resumed or replayed), then its report."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console

from sld.cli._render import fmt, print_json, render_report

if TYPE_CHECKING:  # pragma: no cover
    from sld.config import RunConfig


def run(args: argparse.Namespace) -> int:
    """Open (or resume) the run, show its progress, then print the report."""
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
        run = Run.create(run_config(args), out=args.out, listener=on_event)
    total = run.config.time_limit
    with Progress(
        TextColumn("[bold]gen {task.fields[generation]}[/bold]"),
        BarColumn(bar_width=20),
        TextColumn("best val R² {task.fields[best]}"),
        TextColumn(
            "{task.fields[screened]} screened, {task.fields[fitted]} fitted, {task.fields[rate]}/s"
        ),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=args.quiet,
    ) as bar:
        handle = bar.add_task(
            "discover", total=total, generation=0, best="—", fitted=0, screened=0, rate="0.0"
        )

        def on_progress(p: Any) -> None:
            bar.update(
                handle,
                completed=p.elapsed if total else None,
                generation=p.generation,
                best=fmt(p.best_r2),
                fitted=p.fitted,
                screened=p.screened,
                rate=f"{p.rate:.1f}",
            )

        show_progress.append(on_progress)
        report = run.execute(handle_signals=True)
    report["run_dir"] = str(run.run_dir)
    if args.json:
        print_json(report)
    else:
        render_report(report)
    return 0


def run_config(args: argparse.Namespace) -> RunConfig:
    """The run config the flags describe (a new run on TASK, or a replay of --replay RUN_DIR)."""
    from sld.config import Budgets, RunConfig, validated
    from sld.errors import ConfigError
    from sld.run import replay_config

    if args.replay is not None:
        if args.task is not None:
            raise ConfigError("give either a TASK or --replay RUN_DIR, not both")
        budgets = dict(
            time_limit=args.time, generations=args.generations, max_candidates=args.candidates
        )
        return replay_config(args.replay, validated(Budgets, budgets))
    return validated(
        RunConfig,
        dict(task=task_spec(args, args.task), seed=args.seed, **search_settings(args)),
    )


def task_spec(args: argparse.Namespace, source: str | None) -> dict[str, Any]:
    """The task spec of ``source`` with the data flags (:func:`sld.cli._data.add_data_flags`).

    A data file is loaded once here, so a bad flag or file fails before any run is created
    (naming the flag), and guesses the loader makes are printed as notes.
    """
    from sld.cli._data import task_spec as spec_of
    from sld.cli.score import print_notes
    from sld.corpus import is_curated
    from sld.errors import ConfigError

    if source is None:
        raise ConfigError("no TASK given; run 'sld tasks' to list tasks or pass a data file")
    spec = spec_of(source, args)
    if not is_curated(source):
        print_notes(spec.load(named_as="flags").notes)
    return spec.model_dump(exclude_none=True)


def search_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Every run setting but the task and seed, from the search flags
    (:func:`sld.cli._args.add_search_flags`)."""
    from sld.config import llm_config

    optional = {
        name: value
        for name, value in (
            ("complexity_weight", args.complexity_weight),
            ("param_weight", args.param_weight),
            ("screen_share", args.screen_share),
        )
        if value is not None
    }
    return dict(
        **optional,
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
    )
