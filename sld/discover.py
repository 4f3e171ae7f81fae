"""Headless discovery: set up (or resume) a run directory, evolve, then report.

``discover`` is what ``sld discover`` calls; the TUI drives :class:`Engine`
directly. A run directory holds ``run.sqlite`` (the store), ``report.json``,
``report.md`` and ``extrapolation.png``.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sld.config import RunConfig
from sld.corpus import Task, load_task
from sld.errors import ConfigError, StoreError
from sld.evolve.engine import Engine, Progress
from sld.proposer import Proposer
from sld.store import RunStore


def versions() -> dict[str, str]:
    """Versions of everything that can change a run's numbers."""
    import jax
    import numpy
    import sympy

    from sld import __version__

    return {
        "sld": __version__,
        "python": sys.version.split()[0],
        "jax": jax.__version__,
        "numpy": numpy.__version__,
        "sympy": sympy.__version__,
        "platform": platform.platform(),
        "jax_backend": jax.default_backend(),
    }


def load_run_task(config: RunConfig) -> Task:
    """The task a run config names (a curated name, or a CSV with its options)."""
    spec = config.task
    return load_task(
        spec.source, inputs=spec.inputs, outputs=spec.outputs, group=spec.group, test=spec.test
    )


def make_proposer(config: RunConfig, *, store: RunStore, notice: Callable[[str], None]) -> Proposer:
    """The proposer a config asks for; 'llm' and 'mixed' fall back to offline when no endpoint is set.

    ``store`` receives every LLM exchange (request, reply, usage, latency, outcome).
    """
    from sld.evolve.offline import OfflineProposer
    from sld.llm import build_proposer

    if config.proposer in ("llm", "mixed"):
        proposer = build_proposer(config, store=store, notice=notice)
        if proposer is not None:
            return proposer
        notice(
            f"no LLM endpoint is configured: --proposer {config.proposer} falls back to the offline proposer"
        )
    return OfflineProposer()


def new_run_dir(out: Path, task_name: str, seed: int) -> Path:
    """A fresh directory under ``out`` named for the task, seed and start time."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(task_name).stem
    candidate = out / f"{base}-s{seed}-{stamp}"
    n = 1
    while candidate.exists():
        n += 1
        candidate = out / f"{base}-s{seed}-{stamp}-{n}"
    return candidate


def _check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".sld-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"cannot write to output directory {directory}: {exc.strerror or exc}; choose another with --out"
        ) from None


async def _run_engine(engine: Engine) -> Progress:
    loop = asyncio.get_running_loop()

    def request_stop() -> None:
        engine.stop_requested = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, request_stop)
    return await engine.run()


def open_run(
    config: RunConfig | None = None, *, out: Path | None = None, resume: Path | None = None
) -> tuple[Path, RunStore, RunConfig, Task]:
    """Validate everything and open the run's store: a new run under ``out``, or ``resume``.

    Raises one-line SldErrors (unknown task, bad CSV, unwritable folder, missing
    or corrupted store) before anything is written. On resume, a ``config`` given
    here may extend the budgets (time, generations, candidates).
    """
    if resume is not None:
        run_dir = Path(resume)
        if not RunStore.exists(run_dir):
            raise StoreError(
                f"no run store in {run_dir}; pass a directory made by 'sld discover' to --resume"
            )
        store = RunStore.open(run_dir)
        try:
            stored = RunConfig.model_validate(store.config())
            if config is not None:
                extend = ("time_limit", "generations", "max_candidates")
                stored = stored.model_copy(
                    update={k: getattr(config, k) for k in extend if getattr(config, k) is not None}
                )
            return run_dir, store, stored, load_run_task(stored)
        except BaseException:
            store.close()
            raise
    if config is None:
        raise ConfigError("discover needs a run config or --resume RUN_DIR")
    task = load_run_task(config)
    parent = Path(out) if out is not None else Path("runs")
    _check_writable(parent)
    run_dir = new_run_dir(parent, task.name, config.seed)
    store = RunStore.create(
        run_dir,
        task=task.name,
        seed=config.seed,
        config=config.model_dump(mode="json"),
        versions=versions(),
    )
    return run_dir, store, config, task


def run_opened(
    run_dir: Path,
    store: RunStore,
    config: RunConfig,
    task: Task,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    notice: Callable[[str], None] = lambda message: None,
    report: bool = True,
) -> dict[str, Any]:
    """Evolve to the budget, then score the chosen law on held-out rows and write the report.

    Closes ``store`` when done.
    """
    try:
        engine = Engine(
            task=task,
            config=config,
            store=store,
            proposer=make_proposer(config, store=store, notice=notice),
            on_progress=on_progress,
        )
        asyncio.run(_run_engine(engine))
        if not report:
            from sld.report import build_report

            return build_report(store, task)
        from sld.report import finalize

        final = finalize(
            store,
            task,
            seed=config.seed,
            restarts=config.final_restarts,
            bootstrap=config.bootstrap,
        )
        final["stopped_by"] = engine.progress.stopped_by
        return final
    finally:
        store.close()


def discover(
    config: RunConfig | None = None,
    *,
    out: Path | None = None,
    resume: Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    notice: Callable[[str], None] = lambda message: None,
    report: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """Run (or resume) a discovery; returns the run directory and the final report."""
    run_dir, store, config, task = open_run(config, out=out, resume=resume)
    final = run_opened(
        run_dir, store, config, task, on_progress=on_progress, notice=notice, report=report
    )
    return run_dir, final
