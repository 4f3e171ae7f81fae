"""SQLite plumbing shared by the reader and the writer: connections, errors, the writer lock.

Floats may be NaN or ±inf (a failed law scores ``error = inf``). SQLite stores
NaN as NULL, so metric columns read back NULL as NaN (:func:`real`); JSON
columns are written with ``allow_nan=True`` (:func:`dumps`) and read back exactly.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sld.errors import StoreError
from sld.store._schema import BUSY_TIMEOUT_MS, FIX, LOCK_FILENAME

try:  # advisory writer lock; absent on Windows, where we simply skip it
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


def dumps(value: Any) -> str:
    """Compact, key-sorted JSON that keeps NaN and ±inf (read back by ``json.loads``)."""
    return json.dumps(value, allow_nan=True, sort_keys=True, separators=(",", ":"))


def real(value: float | None) -> float:
    """SQLite keeps NaN as NULL; read NULL back as NaN."""
    return math.nan if value is None else float(value)


def check_header(path: Path) -> None:
    """StoreError unless ``path`` is a file that starts like an SQLite database."""
    if not path.is_file():
        raise StoreError(f"no run store at {path}; check the run directory or {FIX}")
    with path.open("rb") as f:
        header = f.read(16)
    if header != b"SQLite format 3\x00":
        raise StoreError(f"{path} is not an SQLite run store (corrupted?); {FIX}")


def connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN ourselves) with sld's pragmas.

    The writer's connection uses WAL (readers never block it and see only
    committed data) and ``synchronous=FULL`` (a commit survives SIGKILL or power
    loss); a reader opens the file ``mode=ro`` with ``query_only``.
    """
    target = f"{path.resolve().as_uri()}?mode=ro" if readonly else str(path)
    try:
        conn = sqlite3.connect(
            target,
            uri=readonly,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        hint = FIX if readonly else "choose a writable directory with --out"
        raise StoreError(f"cannot open run store {path} ({exc}); {hint}") from exc
    conn.row_factory = sqlite3.Row
    with translated(path, "open"):
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if readonly:
            conn.execute("PRAGMA query_only = ON")
        else:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"cannot put run store {path} in WAL mode (got {mode}); "
                    "use a local disk for --out"
                )
            conn.execute("PRAGMA synchronous = FULL")
    return conn


@contextlib.contextmanager
def translated(path: Path, action: str) -> Iterator[None]:
    """Turn sqlite3 errors into one-line StoreErrors naming the file and a fix."""
    try:
        yield
    except sqlite3.Error as exc:
        raise store_error(path, action, exc) from exc


def store_error(path: Path, action: str, exc: sqlite3.Error) -> StoreError:
    """The one-line StoreError for an sqlite3 error met while doing ``action``."""
    text = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        return StoreError(f"cannot {action} in {path}: {text}")
    if isinstance(exc, sqlite3.OperationalError):
        if "locked" in text or "busy" in text:
            return StoreError(
                f"run store {path} stayed locked for {BUSY_TIMEOUT_MS // 1000} s during {action}; "
                "is another sld writing this run?"
            )
        if "readonly" in text or "unable to open" in text:
            return StoreError(
                f"cannot {action} run store {path} ({text}); choose a writable directory with --out"
            )
        return StoreError(f"cannot {action} run store {path} ({text}); {FIX}")
    return StoreError(f"{path} is not a readable run store ({text}); {FIX}")


def take_writer_lock(path: Path) -> Any:
    """An exclusive advisory lock beside the store; the OS drops it when the writer dies."""
    if fcntl is None:  # pragma: no cover
        return None
    lock_path = path.with_name(LOCK_FILENAME)
    try:
        f = lock_path.open("a")
    except OSError as exc:
        raise StoreError(
            f"cannot write in run directory {path.parent} ({exc.strerror or exc}); "
            "choose a writable directory with --out"
        ) from exc
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        f.close()
        raise StoreError(
            f"run store {path} is open for writing by another sld process; "
            "wait for it to finish, watch it read-only, or start a new run with --out"
        ) from exc
    return f


def release_writer_lock(lock_file: Any) -> None:
    """Drop the lock taken by :func:`take_writer_lock` (None: nothing to drop)."""
    if lock_file is not None:
        with contextlib.suppress(OSError):
            lock_file.close()
