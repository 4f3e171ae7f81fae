"""How many LM runs one process executes at once: by default, one per core it may use.

XLA:CPU runs one LM execution on about one core (its loop body is many small ops, too
small to split across threads), and a process that dispatches its runs one after
another executes them one at a time. The laws of a :func:`sld.fit.fit_many` call are
independent runs, each compiled and launched by the calling thread, so they execute
from a pool of worker threads instead: every run computes exactly what it computes
alone (the same executable on the same inputs), so every fit is the same whatever the
thread count, and only the wall time changes. Measured: README, "Speed".

``SLD_FIT_THREADS`` sets the count (a positive integer); ``sld bench`` gives each of its
worker processes its share of the cores. With one thread, runs are dispatched from the
calling thread as before.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from sld.errors import FitError

ENV = "SLD_FIT_THREADS"

_LOCK = threading.Lock()
_POOL: tuple[int, ThreadPoolExecutor] | None = None


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def fit_threads() -> int:
    """LM runs executed at once: ``SLD_FIT_THREADS`` when set, else :func:`usable_cores`."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return usable_cores()
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise FitError(
            f"{ENV}={raw!r} is not a positive whole number: set it to how many fits may run "
            f"at once (for example 1), or unset it to use every core"
        )
    return value


def fit_pool() -> ThreadPoolExecutor | None:
    """The process's worker threads for LM runs, sized by :func:`fit_threads` (None: one
    thread, so runs stay in the caller's). Re-sized when the setting changes."""
    global _POOL
    threads = fit_threads()
    if threads == 1:
        return None
    with _LOCK:
        if _POOL is None or _POOL[0] != threads:
            if _POOL is not None:
                _POOL[1].shutdown(wait=False)  # its running fits finish; it takes no more
            _POOL = (threads, ThreadPoolExecutor(threads, thread_name_prefix="sld-fit"))
        return _POOL[1]
