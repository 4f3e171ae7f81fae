"""Waiting in tests: poll a condition until it holds; never sleep and hope.

A test that needs another thread, process or the TUI's event loop to get
somewhere waits for the condition it means (rows in a table, a file, a state),
checking it every ``every`` seconds. The deadline only bounds a hang: on a
loaded 2-core machine (CI shares one) a tiny discovery run can take minutes, so
:data:`HANG` is long, and a slow machine makes a test slower, never red.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

HANG = 300.0
"""Seconds after which a wait is a hang, not a slow machine."""


def wait_until(
    condition: Callable[[], object], *, what: str, timeout: float = HANG, every: float = 0.05
) -> None:
    """Return once ``condition()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(every)


async def pilot_wait_until(
    pilot: Any,
    condition: Callable[[], object],
    *,
    what: str,
    timeout: float = HANG,
    every: float = 0.05,
) -> None:
    """:func:`wait_until` inside a Textual pilot: the app keeps running between checks."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        await pilot.pause(every)
