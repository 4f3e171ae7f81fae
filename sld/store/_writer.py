"""Writing a run store: one SQLite file per run holding everything a discovery run did.

``<run_dir>/run.sqlite`` is written by one engine process (:class:`RunStore`) and
read by any number of others (:class:`~sld.store.RunReader`) while it is written:

* each candidate's lifecycle write (status, fit, score) and the event that
  announces it commit in one transaction, so the event log never disagrees
  with the tables;
* fits and scores are keyed by candidate (``UNIQUE``) and written with
  ``INSERT OR IGNORE``, so a write replayed after a resume is a no-op, never a
  duplicate;
* the ``events`` table is append-only (triggers refuse UPDATE and DELETE);
* writers take an advisory file lock: a second writer on the same run
  directory gets a StoreError instead of interleaving candidates.

Held-out (test) scores live in their own table, written only by the reporting
path after selection; nothing the engine reads joins it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sld.errors import StoreError
from sld.store._lifecycle import CandidateLifecycle
from sld.store._reader import RunReader
from sld.store._schema import (
    FIX,
    READABLE_VERSIONS,
    SCHEMA,
    SCHEMA_VERSION,
    store_path,
)
from sld.store._sqlite import (
    check_header,
    connect,
    dumps,
    release_writer_lock,
    store_error,
    take_writer_lock,
    translated,
)


class RunStore(CandidateLifecycle, RunReader):
    """One run's store, for writing; open with :meth:`create` or :meth:`open`, never directly.

    Every read of :class:`~sld.store.RunReader` works here too (the engine reads
    back what it wrote when it resumes). The connection is shared by the
    methods under a lock, so the engine may call it from worker threads.
    """

    def __init__(
        self, conn: sqlite3.Connection, path: Path, *, readonly: bool, lock_file: Any
    ) -> None:
        super().__init__(conn, path)
        self.readonly = readonly
        self._lock_file = lock_file

    # -- opening -------------------------------------------------------------

    @classmethod
    def create(
        cls,
        run_dir: str | Path,
        *,
        task: str,
        seed: int,
        config: Mapping[str, Any],
        versions: Mapping[str, Any],
    ) -> RunStore:
        """Create ``run_dir`` (and parents) and a fresh store in it.

        Raises StoreError when a store already exists there (resume it with
        :meth:`open`) or when the directory cannot be written.
        """
        path = store_path(run_dir)
        if path.exists():
            raise StoreError(f"a run store already exists at {path}; resume it or {FIX}")
        try:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create run directory {run_dir} ({exc.strerror or exc}); "
                "choose a writable directory with --out"
            ) from exc
        lock_file = take_writer_lock(path)
        try:
            conn = connect(path, readonly=False)
            # schema and meta commit together, so no store is ever seen half-made
            with translated(path, "create"):
                conn.executescript("BEGIN IMMEDIATE;" + SCHEMA)
                try:
                    conn.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [
                            ("schema_version", dumps(SCHEMA_VERSION)),
                            ("created", dumps(time.time())),
                            ("task", dumps(task)),
                            ("seed", dumps(int(seed))),
                        ],
                    )
                    conn.execute(
                        "INSERT INTO config (id, config, versions) VALUES (1, ?, ?)",
                        (dumps(dict(config)), dumps(dict(versions))),
                    )
                    conn.commit()
                except BaseException:
                    conn.rollback()
                    raise
            store = cls(conn, path, readonly=False, lock_file=lock_file)
        except BaseException:
            release_writer_lock(lock_file)
            raise
        return store

    @classmethod
    def open(cls, run_dir: str | Path, *, readonly: bool = False) -> RunStore:  # type: ignore[override]
        """Open an existing store to resume it, or (``readonly``) a handle that refuses writes.

        Prefer :meth:`RunReader.open` for reading. Raises StoreError when the
        file is missing, is not SQLite, lacks sld's tables, or has a schema
        version this sld cannot read (resuming needs the current one).
        """
        path = store_path(run_dir)
        check_header(path)
        lock_file = None if readonly else take_writer_lock(path)
        try:
            store = cls(
                connect(path, readonly=readonly), path, readonly=readonly, lock_file=lock_file
            )
            try:
                version = store._check_schema(READABLE_VERSIONS)
                if not readonly and version != SCHEMA_VERSION:
                    raise StoreError(
                        f"{path} was written by an older sld (store schema {version}); "
                        f"it can be read (sld report, sld tui --attach) but not resumed; {FIX}"
                    )
            except BaseException:
                store._conn.close()
                raise
        except BaseException:
            release_writer_lock(lock_file)
            raise
        return store

    def close(self) -> None:
        """Close the connection and release the writer lock; safe to call twice."""
        with self._lock:
            self._conn.close()
            release_writer_lock(self._lock_file)
            self._lock_file = None

    def __enter__(self) -> RunStore:
        return self

    # -- transactions --------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one atomic, durable commit; nests (inner blocks join the outer).

        ``BEGIN IMMEDIATE`` takes the write lock up front, so a busy database
        waits ``busy_timeout`` instead of failing on a read→write upgrade.
        """
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only; open it without readonly to write")
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            with translated(self.path, "write"):
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException as exc:
                self._depth = 0
                self._conn.rollback()
                if isinstance(exc, sqlite3.Error):
                    raise store_error(self.path, "write", exc) from exc
                raise
            self._depth = 0
            try:
                self._conn.commit()
            except sqlite3.Error as exc:
                # a failed COMMIT (busy, disk full) can leave the transaction open
                with contextlib.suppress(sqlite3.Error):
                    self._conn.rollback()
                raise store_error(self.path, "commit", exc) from exc

    def record_heldout(
        self,
        *,
        kind: str,
        text: str,
        r2: float,
        report: Mapping[str, Any],
        candidate_id: int | None = None,
    ) -> int:
        """Record a held-out score (reporting path only, after selection); replaces same kind+text.

        ``kind`` says why the law was tested ('chosen', 'human', ...);
        ``candidate_id`` is None for laws that did not come from this run.
        """
        with self.transaction(), translated(self.path, "record held-out score"):
            cur = self._conn.execute(
                "INSERT INTO heldout (candidate_id, kind, text, r2, report, created) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, text) DO UPDATE SET candidate_id = excluded.candidate_id, "
                "r2 = excluded.r2, report = excluded.report, created = excluded.created "
                "RETURNING id",
                (candidate_id, kind, text, r2, dumps(dict(report)), time.time()),
            )
            return int(cur.fetchone()[0])

    # -- events, LLM calls, state -----------------------------------------------

    def add_event(
        self,
        kind: str,
        *,
        generation: int | None = None,
        candidate_id: int | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> int:
        """Append an event ('promoted', 'migrated', 'generation', 'stopped', 'resumed', ...).

        Candidate lifecycle events (proposed, rejected, duplicate, fitted,
        failed, scored) and 'llm_call' are written by the store itself.
        """
        with self.transaction():
            return self._event(
                kind, generation=generation, candidate_id=candidate_id, payload=payload
            )

    def _event(
        self,
        kind: str,
        *,
        generation: int | None,
        candidate_id: int | None,
        payload: Mapping[str, Any] | None,
    ) -> int:
        with translated(self.path, f"add {kind} event"):
            cur = self._conn.execute(
                "INSERT INTO events (ts, generation, kind, candidate_id, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                (time.time(), generation, kind, candidate_id, dumps(dict(payload or {}))),
            )
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def record_llm_call(
        self,
        *,
        request: Mapping[str, Any],
        reply: str | None,
        usage: Mapping[str, Any],
        usd: float,
        latency: float,
        outcome: str,
        error: str | None = None,
        generation: int | None = None,
    ) -> int:
        """Record an LLM call and its 'llm_call' event; returns the call id.

        ``usage`` carries ``prompt_tokens`` and ``completion_tokens`` (missing
        counts are 0); ``outcome`` is e.g. 'ok', 'invalid', 'error', 'timeout'.
        """
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO llm_calls (ts, request, reply, usage, prompt_tokens, "
                "completion_tokens, usd, latency, outcome, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    dumps(dict(request)),
                    reply,
                    dumps(dict(usage)),
                    prompt_tokens,
                    completion_tokens,
                    usd,
                    latency,
                    outcome,
                    error,
                ),
            )
            call_id = int(cur.lastrowid)  # type: ignore[arg-type]
            self._event(
                "llm_call",
                generation=generation,
                candidate_id=None,
                payload={
                    "call_id": call_id,
                    "outcome": outcome,
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "usd": usd,
                    "latency": latency,
                },
            )
        return call_id

    def set_state(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable checkpoint value ('generation', 'population', ...)."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO state (key, value, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                (key, dumps(value), time.time()),
            )
