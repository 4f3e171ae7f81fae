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
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
    from rich.table import Column

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
    show_step: list[Callable[[str], None]] = []

    def on_event(event: RunEvent) -> None:
        if event.kind == "notice":
            err.print(f"note: {event.message}", markup=False)
        elif event.kind == "progress" and show_progress:
            show_progress[0](event.progress)
        elif event.kind == "step" and show_step:
            show_step[0](event.message)

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
    # One row for the search, then one per step of the scoring after it (final pick,
    # held-out scores, report files), each with its own clock: the final pick of a
    # large task can take minutes, and a frozen bar would look like a hang.
    with Progress(
        TextColumn("{task.description}", table_column=Column(no_wrap=True, min_width=8)),
        BarColumn(bar_width=20, table_column=Column(min_width=20)),
        TimeElapsedColumn(table_column=Column(no_wrap=True, min_width=7)),
        # last, so a narrow terminal cuts this text and not the bar or the clock
        TextColumn("{task.fields[info]}", table_column=Column(no_wrap=True, overflow="ellipsis")),
        console=err,
        transient=False,
        disable=args.quiet,
    ) as bar:
        handle = bar.add_task(
            "[bold]gen 0[/bold]", total=total, info="best val R² —  0 screened, 0 fitted, 0.0/s"
        )
        steps: list[TaskID] = []

        def on_progress(p: Any) -> None:
            bar.update(
                handle,
                completed=p.elapsed if total else None,
                description=f"[bold]gen {p.generation}[/bold]",
                info=f"best val R² {fmt(p.best_r2)}  {p.screened} screened, "
                f"{p.fitted} fitted, {p.rate:.1f}/s",
            )

        def on_step(text: str) -> None:
            bar.stop_task(handle)
            if steps:
                bar.update(steps[-1], total=1, completed=1)
            steps.append(bar.add_task("", total=None, info=text))

        show_progress.append(on_progress)
        show_step.append(on_step)
        report = run.execute(handle_signals=True)
        if steps:
            bar.update(steps[-1], total=1, completed=1)
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
    if not is_curated(source) or spec.rehearse:
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
            ("screen_width", args.screen_width),
            ("final_narrow", args.final_narrow),
            ("start_laws", args.start),
            ("fit_windows", args.fit_windows),
            ("pick_consensus", args.pick_consensus),
            ("pick_steady", args.pick_steady),
            ("pick_supported", args.pick_supported),
            ("pick_prior", args.pick_prior),
            ("pick_frozen", args.pick_frozen),
            ("pick_unfreeze", args.pick_unfreeze),
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
