"""One bench job, run where its run directory is: new, resumed, reported, or already done.

:func:`run_job` is what every executor calls (a local worker process, a Ray
task); it drives an ordinary :class:`~sld.run.Run` and reports as a stream of
small picklable messages. Where a job stands is read from its run directory
alone (:func:`run_stage`), so a job interrupted anywhere — killed, stopped,
killed while writing its report — picks up where it was:

* ``new``: no store yet (or one whose creation was killed before its first commit);
* ``resume``: the search had not ended, or was stopped on request: :meth:`Run.open`
  continues it (nothing fitted is lost or repeated, see :mod:`sld.evolve.engine`);
* ``report``: the search spent its budget but the report was not written;
* ``done``: the search spent its budget and ``report.md`` (written last, atomically) exists.
"""

from __future__ import annotations

import dataclasses
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from sld.config import RunConfig
from sld.errors import SldError
from sld.report import REPORT_MD
from sld.run import Run, RunEvent
from sld.store import RunReader, store_path

Stage = Literal["new", "resume", "report", "done"]

STOP_REQUESTED = "stop requested"  # the reason the engine records for Run.stop()
PROGRESS_EVERY = 0.5  # seconds between progress messages (the engine reports every fit)


@dataclasses.dataclass(frozen=True)
class JobStarted:
    """A worker took job ``key``; ``stage`` says what it will do."""

    key: str
    stage: Stage


@dataclasses.dataclass(frozen=True)
class JobProgress:
    """The search of job ``key`` as it stands (best validation R² and its law so far)."""

    key: str
    generation: int
    fitted: int
    best_r2: float
    best_law: str
    elapsed: float


@dataclasses.dataclass(frozen=True)
class JobNotice:
    """A one-line note the run gave (e.g. the offline fallback)."""

    key: str
    message: str


@dataclasses.dataclass(frozen=True)
class JobFiles:
    """The files of job ``key``'s run directory (Ray: the driver writes them under ``--out``).

    ``final`` False: a mid-run copy of the store only, sent so that a killed
    driver keeps what was fitted up to it.
    """

    key: str
    files: dict[str, bytes]
    final: bool


@dataclasses.dataclass(frozen=True)
class JobEnded:
    """Job ``key`` ended: ``ok`` with its report written (``skipped``: it already was), or not."""

    key: str
    ok: bool
    error: str = ""
    skipped: bool = False


JobMessage = JobStarted | JobProgress | JobNotice | JobFiles | JobEnded


def run_stage(run_dir: Path) -> Stage:
    """Where the run in ``run_dir`` stands (see the module docstring)."""
    if not RunReader.exists(run_dir):
        return "new"
    if _unborn(store_path(run_dir)):
        return "new"
    with RunReader.open(run_dir) as reader:
        snapshot = reader.snapshot()
    if not snapshot.finished or snapshot.stopped_by == STOP_REQUESTED:
        return "resume"
    return "done" if (Path(run_dir) / REPORT_MD).is_file() else "report"


def _unborn(path: Path) -> bool:
    """A store file whose creation was killed before its first commit (it holds no table)."""
    if path.stat().st_size == 0:
        return True
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return False  # RunReader.open will say what is wrong with it
    return tables == 0


def _discard(run_dir: Path) -> None:
    """Remove an unborn store and its side files, so the run can be created afresh."""
    path = store_path(run_dir)
    for side in ("", "-wal", "-shm"):
        path.with_name(path.name + side).unlink(missing_ok=True)


_DONE = object()


def run_job(
    key: str,
    config: RunConfig | dict,
    run_dir: Path,
    *,
    stop: threading.Event | None = None,
) -> Iterator[JobMessage]:
    """Run job ``key`` in ``run_dir`` to the end of its report, reporting as it goes.

    ``config`` is used only for a new run (a resumed one keeps its stored config).
    Setting ``stop`` ends the search cleanly after the current fit; the run is
    then resumable (``JobEnded`` with ``ok`` False). Failures of the run end as
    ``JobEnded`` with the one-line error, never as an exception.
    """
    run_dir = Path(run_dir)
    try:
        stage = run_stage(run_dir)
    except SldError as exc:
        yield JobEnded(key, ok=False, error=str(exc))
        return
    yield JobStarted(key, stage)
    if stage == "done":
        yield JobEnded(key, ok=True, skipped=True)
        return
    events: queue.SimpleQueue[object] = queue.SimpleQueue()

    def listener(event: RunEvent) -> None:
        if event.kind == "progress":
            p = event.progress
            events.put(JobProgress(key, p.generation, p.fitted, p.best_r2, p.best_law, p.elapsed))
        elif event.kind == "notice":
            events.put(JobNotice(key, event.message))

    try:
        if stage == "new":
            if RunReader.exists(run_dir):
                _discard(run_dir)
            if not isinstance(config, RunConfig):
                config = RunConfig.model_validate(config)
            run = Run.create(config, run_dir=run_dir, listener=listener)
        else:
            run = Run.open(run_dir, listener=listener)
    except SldError as exc:
        yield JobEnded(key, ok=False, error=str(exc))
        return
    failure: list[str] = []

    def drive() -> None:
        try:
            try:
                if stage != "report":
                    run.search()
                if run.stopped_by != STOP_REQUESTED:  # a stopped run is resumed, not reported
                    run.finalize()
            finally:
                run.close()
        except SldError as exc:
            failure.append(str(exc))
        except BaseException as exc:  # reported to the bench, which goes on with other jobs
            failure.append(f"{type(exc).__name__}: {exc}")
        finally:
            events.put(_DONE)

    thread = threading.Thread(target=drive, name=f"sld-bench-{key}", daemon=True)
    thread.start()
    latest: JobProgress | None = None
    sent = 0.0
    stopping = False
    try:
        while True:
            if stop is not None and stop.is_set() and not stopping:
                stopping = True
                run.stop()
            try:
                message = events.get(timeout=PROGRESS_EVERY)
            except queue.Empty:
                message = None
            if message is _DONE:
                break
            if isinstance(message, JobProgress):
                latest = message
            elif message is not None:
                yield message  # type: ignore[misc]
            if latest is not None and time.monotonic() - sent >= PROGRESS_EVERY:
                yield latest
                latest, sent = None, time.monotonic()
    finally:
        if thread.is_alive():  # the consumer went away: end the search cleanly first
            run.stop()
            thread.join()
    if latest is not None:
        yield latest
    if failure:
        yield JobEnded(key, ok=False, error=failure[0])
    elif run.state != "finished" or run.stopped_by == STOP_REQUESTED:
        yield JobEnded(key, ok=False, error="stopped before its budget was spent; resumable")
    else:
        yield JobEnded(key, ok=True)
