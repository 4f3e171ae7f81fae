"""Running a bench: claim the directory, run every job not yet done, write the table.

A bench directory is used by one ``sld bench`` at a time (an advisory lock
beside its config; the OS drops it when the process dies). Jobs whose run has
finished are skipped; the others are handed to the executor, which resumes
each where its run directory says it stands (see :mod:`sld.bench._job`).
Whatever happens — every job done, some failed, Ctrl-C — the outputs are
written from the stores before :func:`run_bench` returns or raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from sld.bench._job import JobEnded, JobMessage, run_stage
from sld.bench._output import write_outputs
from sld.bench._plan import BenchConfig, Job, claim, jobs
from sld.bench._table import BenchTable, read_bench
from sld.errors import ConfigError, SldError
from sld.fit import usable_cores
from sld.run import writable

LOCK_FILE = ".bench.lock"

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class Executor(Protocol):
    """Runs bench jobs somewhere and streams their messages back."""

    def describe(self) -> str:
        """How the jobs run, for the progress line."""
        ...

    def run(self, todo: Sequence[Job], root: Path) -> Iterator[JobMessage]:
        """Run every job of ``todo`` so that its run directory ends up under ``root``."""
        ...


@contextlib.contextmanager
def bench_lock(root: Path) -> Iterator[None]:
    """Hold the bench directory for this process; ConfigError when another holds it."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    handle = (root / LOCK_FILE).open("a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(
                f"another sld bench is running in {root}; wait for it to end, or pass another --out"
            ) from None
        yield
    finally:
        handle.close()


def pending_jobs(config: BenchConfig, root: Path) -> tuple[list[Job], list[Job]]:
    """(jobs still to run, jobs whose run has finished)."""
    todo: list[Job] = []
    done: list[Job] = []
    for job in jobs(config):
        try:
            finished = run_stage(root / job.run_dir) == "done"
        except (SldError, OSError):  # a damaged store: its job says what is wrong with it
            finished = False
        (done if finished else todo).append(job)
    return todo, done


def run_bench(
    config: BenchConfig,
    root: str | Path,
    *,
    executor: Executor,
    on_start: Callable[[list[Job], list[Job]], None] | None = None,
    on_message: Callable[[JobMessage], None] | None = None,
) -> tuple[BenchTable, dict[str, str]]:
    """Run the bench ``config`` in ``root``; returns its table and each failed job's error.

    ``on_start`` receives (jobs to run, jobs already finished); ``on_message``
    every message of every job. KeyboardInterrupt (from the executor, after the
    running searches stopped cleanly) propagates once the outputs are written.
    """
    root = Path(root)
    writable(root, what="bench directory")
    with bench_lock(root):
        claim(root, config)
        todo, done = pending_jobs(config, root)
        if on_start is not None:
            on_start(todo, done)
        errors: dict[str, str] = {}
        try:
            for message in executor.run(todo, root):
                if isinstance(message, JobEnded):
                    if message.ok:
                        errors.pop(message.key, None)
                    else:
                        errors[message.key] = message.error
                if on_message is not None:
                    on_message(message)
        finally:
            table = read_bench(root, errors=errors)
            write_outputs(table, root)
    return table, errors


def default_jobs() -> int:
    """The cores this process may use."""
    return usable_cores()
