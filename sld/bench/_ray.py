"""The Ray executor: each bench job is a Ray task, on whatever node the cluster picks.

A node need not share a filesystem with the driver. The driver sends a job its
run directory's store when there is one (to resume it), the task runs the job
in a temporary directory on its node and streams back its messages, a copy of
its store every :data:`SYNC_SECONDS`, and at the end the whole run directory
(store, ``report.json``/``.md``, plot). The driver writes those files under
``--out``, the store before the report, so ``--out`` always holds a consistent
run: a driver killed mid-bench keeps every run up to its last copy, and the
next ``sld bench`` (with or without ``--ray``) resumes from there.

Ray is optional (``pip install 'sld[ray]'``); :func:`connect` says so in one line.
Every node needs the same sld installed; a CSV task must be at the same path on
every node (curated tasks ship with sld).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sld.bench._job import JobEnded, JobFiles, JobMessage, JobProgress, run_job
from sld.bench._plan import Job
from sld.errors import ConfigError
from sld.fit import THREADS_ENV
from sld.report import PLOT_PNG, REPORT_JSON, write_atomically
from sld.store import STORE_FILENAME, RunReader, store_path
from sld.strict_json import dumps

SYNC_SECONDS = 30.0
LOCAL = "local"  # bare --ray: start a Ray instance on this machine
_SKIPPED_FILES = {"run.sqlite-wal", "run.sqlite-shm", "run.sqlite.lock"}


def require_ray() -> Any:
    """The ``ray`` module; ConfigError (one line) when it is not installed."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "Ray is not installed: pip install 'sld[ray]' (in a checkout: pip install -e '.[ray]'), "
            "or run sld bench without --ray"
        ) from None
    return ray


def connect(address: str, *, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at ``address`` (``auto``, ``host:port``, ``ray://…``), or start a
    local one (:data:`LOCAL`) with ``num_cpus``. Nothing happens when Ray is already initialised."""
    ray = require_ray()
    if ray.is_initialized():
        return
    options: dict[str, Any] = dict(logging_level=logging.ERROR, log_to_driver=False)
    try:
        if address == LOCAL:
            import sld

            # workers of a local instance import the sld this driver runs (a checkout too)
            source = str(Path(sld.__file__).resolve().parents[1])
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                runtime_env={"env_vars": {"PYTHONPATH": source}},
                **options,
            )
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "a local Ray instance" if address == LOCAL else f"the Ray cluster at {address}"
        first = str(exc).strip().splitlines()[0].rstrip(". ") if str(exc).strip() else ""
        first = first or type(exc).__name__
        raise ConfigError(
            f"cannot start or join {where}: {first}; check --ray ADDRESS (or 'ray status')"
        ) from None


class RayExecutor:
    """Run each job as a Ray task; at most ``jobs`` at a time (None: as the cluster schedules)."""

    def __init__(self, address: str = LOCAL, *, jobs: int | None = None) -> None:
        self.address = address
        self.jobs = jobs

    def connect(self) -> None:
        """Start or join Ray now (a one-line ConfigError when that fails), before anything runs."""
        connect(self.address, num_cpus=self.jobs)

    def describe(self) -> str:
        """How the jobs run, for the progress line."""
        where = "a local Ray instance" if self.address == LOCAL else f"Ray at {self.address}"
        return where + (f", at most {self.jobs} at a time" if self.jobs else "")

    def run(self, todo: Sequence[Job], root: Path) -> Iterator[JobMessage]:
        """Submit every job, stream their messages, write their files under ``root``."""
        if not todo:
            return
        ray = require_ray()
        connect(self.address, num_cpus=self.jobs)
        task = ray.remote(num_cpus=1, num_returns="streaming", max_retries=0)(ray_job)
        inbox: queue.SimpleQueue[tuple[Job, JobMessage | None]] = queue.SimpleQueue()
        waiting = list(todo)
        running: dict[str, Any] = {}
        limit = self.jobs or len(todo)

        def submit(job: Job) -> None:
            files = _store_files(root / job.run_dir)
            stream = task.remote(job.key, job.config, files, SYNC_SECONDS)
            running[job.key] = stream
            threading.Thread(
                target=_follow, args=(ray, job, stream, inbox), daemon=True, name=job.key
            ).start()

        try:
            while waiting or running:
                while waiting and len(running) < limit:
                    submit(waiting.pop(0))
                job, message = inbox.get()
                if message is None:  # the task's stream ended
                    running.pop(job.key, None)
                    continue
                if isinstance(message, JobFiles):
                    write_run_files(root / job.run_dir, message.files)
                yield message
        finally:
            for stream in running.values():
                with contextlib.suppress(Exception):
                    ray.cancel(stream, force=True)


def _follow(ray: Any, job: Job, stream: Any, inbox: queue.SimpleQueue) -> None:
    """Forward one task's messages to the driver; a task that fails ends its job as failed."""
    ended = False
    try:
        for ref in stream:
            message = ray.get(ref)
            ended = ended or isinstance(message, JobEnded)
            inbox.put((job, message))
    except Exception as exc:
        if not ended:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            inbox.put((job, JobEnded(job.key, ok=False, error=f"Ray task failed: {first}")))
    finally:
        inbox.put((job, None))


# -- on the node ---------------------------------------------------------------------------------


def ray_job(
    key: str, config: dict[str, Any], files: dict[str, bytes], sync_seconds: float
) -> Iterator[JobMessage]:
    """A bench job in a temporary run directory; streams messages, store copies and the files.

    The task holds one CPU, so its fits run one at a time unless ``SLD_FIT_THREADS`` says."""
    os.environ.setdefault(THREADS_ENV, "1")
    with tempfile.TemporaryDirectory(prefix="sld-bench-") as scratch:
        run_dir = Path(scratch) / key
        if files:
            write_run_files(run_dir, files)
        synced = time.monotonic()
        for message in run_job(key, config, run_dir):
            if isinstance(message, JobEnded):
                if RunReader.exists(run_dir):
                    yield JobFiles(key, run_files(run_dir), final=True)
                yield message
                return
            yield message
            if isinstance(message, JobProgress) and time.monotonic() - synced >= sync_seconds:
                yield JobFiles(key, _store_files(run_dir), final=False)
                synced = time.monotonic()


# -- moving run directories as bytes -------------------------------------------------------------


def store_copy(run_dir: Path) -> bytes:
    """A consistent copy of the run store (committed data only, WAL folded in), as bytes."""
    source = sqlite3.connect(f"{store_path(run_dir).resolve().as_uri()}?mode=ro", uri=True)
    with tempfile.TemporaryDirectory(prefix="sld-store-") as scratch:
        target_path = Path(scratch) / STORE_FILENAME
        target = sqlite3.connect(target_path)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return target_path.read_bytes()


def _store_files(run_dir: Path) -> dict[str, bytes]:
    """The store alone (what a task needs to resume), or nothing when there is none."""
    if not RunReader.exists(run_dir):
        return {}
    return {STORE_FILENAME: store_copy(run_dir)}


def run_files(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run directory (the store as a consistent copy), by name."""
    files = {
        path.name: path.read_bytes()
        for path in sorted(Path(run_dir).iterdir())
        if path.is_file()
        and path.name not in _SKIPPED_FILES
        and path.name != STORE_FILENAME
        and not path.name.startswith(".")
    }
    files[STORE_FILENAME] = store_copy(run_dir)
    return files


def write_run_files(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into ``run_dir``: the store first (replacing any older one and its
    write-ahead log), then the rest, each file whole or not at all."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if STORE_FILENAME in files:
        store = store_path(run_dir)
        for side in ("-wal", "-shm"):
            store.with_name(store.name + side).unlink(missing_ok=True)
        partial = store.with_name(f".{store.name}.partial")
        partial.write_bytes(files[STORE_FILENAME])
        partial.replace(store)
    for name, data in files.items():
        if name == STORE_FILENAME or "/" in name or name.startswith("."):
            continue
        target = run_dir / name
        if name == REPORT_JSON:
            write_atomically(target, _relocated(data, run_dir))
        elif name.endswith((".json", ".md")):
            write_atomically(target, data.decode("utf-8"))
        else:
            partial = run_dir / f".{name}.partial"
            partial.write_bytes(data)
            partial.replace(target)


def _relocated(report_json: bytes, run_dir: Path) -> str:
    """``report.json`` with its plot path pointing into ``run_dir`` (the node wrote its own)."""
    report = json.loads(report_json)
    if isinstance(report, dict) and report.get("plot"):
        report["plot"] = str(run_dir / PLOT_PNG)
    return dumps(report) + "\n"
