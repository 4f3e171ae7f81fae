"""The local executor: ``jobs`` worker processes, each running one bench job at a time.

Workers are started with the ``spawn`` method (JAX does not survive ``fork``)
and live for several jobs, so each pays JAX's import and compile-cache load
once. Each talks to the driver over its own pipe, so a worker that dies
costs only its current job. A death by a signal (a crash in native code, the
out-of-memory killer) may not happen again, so that job gets one more try on a
fresh worker, which resumes it from its run store (nothing fitted is lost or
repeated); a second death, or an exit with an error, is reported as the job's
failure, and the next ``sld bench`` resumes it.

Workers die with the driver (``PR_SET_PDEATHSIG`` on Linux, and a parent check
everywhere): a killed bench leaves no orphan holding a run store's writer lock.
SIGINT or SIGTERM stops a worker's search cleanly after the current fit.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from sld.bench._job import JobEnded, JobMessage, JobNotice, run_job
from sld.bench._plan import Job
from sld.fit import THREADS_ENV, usable_cores

RETRIES_AFTER_A_SIGNAL = 1  # fresh-worker tries a job gets after its worker died by a signal


class LocalExecutor:
    """Run jobs in up to ``jobs`` worker processes on this machine."""

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        self.jobs = jobs

    def describe(self) -> str:
        """How the jobs run, for the progress line."""
        return f"{self.jobs} local worker process{'es' if self.jobs != 1 else ''}"

    def run(self, todo: Sequence[Job], root: Path) -> Iterator[JobMessage]:
        """Run every job of ``todo`` in ``root``; yields each job's messages as they come.

        SIGINT or SIGTERM (when iterated in the main thread) stops the running
        searches cleanly after their current fit, starts no further job, yields
        the last messages, then raises KeyboardInterrupt.
        """
        if not todo:
            return
        pool = _Pool(root, fit_threads_each(self.jobs))
        pending = collections.deque(todo)
        tries: collections.Counter[str] = collections.Counter()
        interrupted = threading.Event()
        with _interrupts_to(interrupted):
            try:
                for _ in range(min(self.jobs, len(pending))):
                    pool.start(pending.popleft())
                stopping = False
                while pool.busy:
                    if interrupted.is_set() and not stopping:
                        stopping = True
                        pool.stop_all()
                    for message in pool.next_messages():
                        yield message
                        if isinstance(message, JobEnded):
                            worker = pool.release(message.key)
                            if pending and not interrupted.is_set():
                                pool.assign(worker, pending.popleft())
                            else:
                                pool.retire(worker)
                    for signalled, message in pool.reap():
                        if (
                            signalled is not None
                            and isinstance(message, JobEnded)
                            and tries[signalled.key] < RETRIES_AFTER_A_SIGNAL
                            and not interrupted.is_set()
                        ):
                            tries[signalled.key] += 1
                            note = f"{message.error}: resuming the run on a fresh worker"
                            yield JobNotice(signalled.key, note)
                            pending.appendleft(signalled)
                        else:
                            yield message
                        if isinstance(message, JobEnded) and pending and not interrupted.is_set():
                            pool.start(pending.popleft())
            finally:
                pool.close()
        if interrupted.is_set():
            raise KeyboardInterrupt


@contextlib.contextmanager
def _interrupts_to(flag: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``flag`` instead of raising (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: flag.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Worker:
    def __init__(self, ctx: Any, root: Path, threads: int) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=worker_main,
            args=(child, str(root), os.getpid(), threads),
            name="sld-bench-worker",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.job: Job | None = None


class _Pool:
    """The worker processes and which job each holds."""

    def __init__(self, root: Path, threads: int) -> None:
        self.root = root
        self.threads = threads
        self.ctx = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []

    @property
    def busy(self) -> list[_Worker]:
        return [w for w in self.workers if w.job is not None]

    def start(self, job: Job) -> None:
        worker = _Worker(self.ctx, self.root, self.threads)
        self.workers.append(worker)
        self.assign(worker, job)

    def assign(self, worker: _Worker, job: Job) -> None:
        if not worker.process.is_alive():  # it died after its last job: a fresh one takes this
            self.workers.remove(worker)
            worker.conn.close()
            self.start(job)
            return
        worker.job = job
        with contextlib.suppress(OSError):  # it died just now: reap() reports the job
            worker.conn.send(job)

    def release(self, key: str) -> _Worker:
        worker = next(w for w in self.workers if w.job is not None and w.job.key == key)
        worker.job = None
        return worker

    def retire(self, worker: _Worker) -> None:
        with contextlib.suppress(OSError):
            worker.conn.send(None)

    def next_messages(self) -> list[JobMessage]:
        """Every message that is ready, after waiting (at most a second) for one or a death."""
        busy = self.busy
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=1))
        messages: list[JobMessage] = []
        for worker in busy:
            if worker.conn in ready or worker.process.sentinel in ready:
                messages.extend(_drain(worker.conn))
        return messages

    def reap(self) -> list[tuple[Job | None, JobMessage]]:
        """The last messages of each worker that died, and its job's failure when it had not
        ended it; the dead workers leave the pool. A failure from a death by a signal comes
        paired with its job (so it can be tried again), every other message with None."""
        messages: list[tuple[Job | None, JobMessage]] = []
        for worker in [w for w in self.workers if not w.process.is_alive()]:
            drained = _drain(worker.conn)
            messages.extend((None, m) for m in drained)
            self.workers.remove(worker)
            worker.process.join()
            worker.conn.close()
            job = worker.job
            if job is None or any(isinstance(m, JobEnded) and m.key == job.key for m in drained):
                continue
            code = worker.process.exitcode
            by_signal = -code if code is not None and code < 0 else None
            how = f"exit code {code}" if by_signal is None else f"signal {by_signal}"
            failure = JobEnded(job.key, ok=False, error=f"worker process died ({how})")
            messages.append((None if by_signal is None else job, failure))
        return messages

    def stop_all(self) -> None:
        for worker in self.busy:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.process.pid, signal.SIGTERM)

    def close(self) -> None:
        """Retire every worker; one still busy (an error in the driver) is stopped first."""
        self.stop_all()
        for worker in self.workers:
            self.retire(worker)
        for worker in self.workers:
            worker.process.join(timeout=60)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self.workers.clear()


def _drain(conn: Connection) -> list[JobMessage]:
    messages: list[JobMessage] = []
    try:
        while conn.poll():
            messages.append(conn.recv())
    except (EOFError, OSError):
        pass  # the worker died; the pool notices through its sentinel
    return messages


# -- the worker process --------------------------------------------------------------------


def fit_threads_each(jobs: int) -> int:
    """Fit threads of each of ``jobs`` workers: their share of the cores, so that the workers
    together run one fit per core (:mod:`sld.fit._threads`)."""
    return max(1, usable_cores() // jobs)


def worker_main(conn: Connection, root: str, parent: int, threads: int = 1) -> None:
    """A worker: run each job the driver sends until it sends None or goes away.

    ``threads``: its fits run at once (``SLD_FIT_THREADS``), unless the driver's environment
    already set that."""
    _die_with_parent(parent)
    os.environ.setdefault(THREADS_ENV, str(threads))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        for message in run_job(job.key, job.config, Path(root) / job.run_dir, stop=stop):
            conn.send(message)


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when the driver dies (Linux); exit if it already has."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            pr_set_pdeathsig = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
