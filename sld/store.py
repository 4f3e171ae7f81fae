"""The run store: one SQLite file per run holding everything a discovery run did.

``<run_dir>/run.sqlite`` is written by one engine process and read by any
number of others (the TUI, ``sld report``) while it is written:

* WAL journal, so readers never block the writer and see only committed data;
* ``synchronous=FULL``, so every committed write survives SIGKILL or power loss;
* each candidate's lifecycle write (status, fit, score) and the event that
  announces it commit in one transaction, so the event log never disagrees
  with the tables;
* fits and scores are keyed by candidate (``UNIQUE``) and written with
  ``INSERT OR IGNORE``, so a write replayed after a resume is a no-op, never a
  duplicate;
* the ``events`` table is append-only (triggers refuse UPDATE and DELETE).

Floats may be NaN or ±inf (a failed law scores ``error = inf``). SQLite stores
NaN as NULL, so metric columns read back NULL as NaN; JSON columns are written
with ``allow_nan=True`` and read back exactly.

Held-out (test) scores live in their own table, written only by the reporting
path after selection; nothing the engine reads joins it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sld.errors import StoreError

try:  # advisory writer lock; absent on Windows, where we simply skip it
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 1
STORE_FILENAME = "run.sqlite"
LOCK_FILENAME = "run.sqlite.lock"

STATUSES = ("proposed", "rejected", "duplicate", "fitted", "failed")
BUSY_TIMEOUT_MS = 10_000

_FIX = "start a new run with --out <new dir>"

_SCHEMA = f"""
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config TEXT NOT NULL,
    versions TEXT NOT NULL
);
CREATE TABLE candidates (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    generation INTEGER NOT NULL,
    island INTEGER NOT NULL,
    text TEXT NOT NULL,
    key TEXT,
    parents TEXT NOT NULL DEFAULT '[]',
    proposer TEXT NOT NULL DEFAULT '',
    operator TEXT NOT NULL DEFAULT '',
    rationale TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ({", ".join(f"'{s}'" for s in STATUSES)})),
    reason TEXT,
    complexity INTEGER,
    n_params INTEGER,
    created REAL NOT NULL
);
CREATE INDEX candidates_key ON candidates (key);
CREATE INDEX candidates_status ON candidates (status);
CREATE TABLE fits (
    candidate_id INTEGER NOT NULL UNIQUE REFERENCES candidates (id),
    fit TEXT NOT NULL,
    train_loss REAL,
    ok INTEGER NOT NULL,
    seconds REAL,
    created REAL NOT NULL
);
CREATE TABLE scores (
    candidate_id INTEGER NOT NULL UNIQUE REFERENCES candidates (id),
    split TEXT NOT NULL DEFAULT 'validation' CHECK (split = 'validation'),
    r2 REAL,
    nmse REAL,
    nmae REAL,
    error REAL,
    report TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE heldout (
    id INTEGER PRIMARY KEY,
    candidate_id INTEGER REFERENCES candidates (id),
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    r2 REAL,
    report TEXT NOT NULL,
    created REAL NOT NULL,
    UNIQUE (kind, text)
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    generation INTEGER,
    kind TEXT NOT NULL,
    candidate_id INTEGER REFERENCES candidates (id),
    payload TEXT NOT NULL
);
CREATE INDEX events_kind ON events (kind);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE llm_calls (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    request_key TEXT NOT NULL,
    request TEXT NOT NULL,
    reply TEXT,
    usage TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    usd REAL NOT NULL DEFAULT 0,
    latency REAL,
    outcome TEXT NOT NULL,
    error TEXT
);
CREATE INDEX llm_calls_request_key ON llm_calls (request_key);
CREATE TABLE state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated REAL NOT NULL
);
"""

_TABLES = frozenset(
    {"meta", "config", "candidates", "fits", "scores", "heldout", "events", "llm_calls", "state"}
)


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class CandidateRow:
    """One proposed law and where it stands; ``key`` is None when it did not parse."""

    id: int
    seq: int
    generation: int
    island: int
    text: str
    key: str | None
    parents: tuple[int, ...]
    proposer: str
    operator: str
    rationale: str
    status: str
    reason: str | None
    complexity: int | None
    n_params: int | None
    created: float


@dataclass(frozen=True)
class FittedRow:
    """A candidate with its fit and validation score (``ok`` False for a failed fit)."""

    candidate: CandidateRow
    fit: dict[str, Any]
    train_loss: float
    ok: bool
    seconds: float
    r2: float
    nmse: float
    nmae: float
    error: float
    report: dict[str, Any]


@dataclass(frozen=True)
class HeldoutRow:
    """A held-out (test) score, written after selection by the reporting path."""

    id: int
    candidate_id: int | None
    kind: str
    text: str
    r2: float
    report: dict[str, Any]
    created: float


@dataclass(frozen=True)
class EventRow:
    """One entry of the append-only event log."""

    id: int
    ts: float
    generation: int | None
    kind: str
    candidate_id: int | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class LlmCallRow:
    """One LLM request and its reply, tokens, cost and outcome."""

    id: int
    ts: float
    request: dict[str, Any]
    reply: str | None
    usage: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int
    usd: float
    latency: float
    outcome: str
    error: str | None


@dataclass(frozen=True)
class RunSummary:
    """Counts and totals for a status line; ``best_*`` are NaN / None before any score."""

    task: str
    seed: int
    created: float
    candidates: int
    by_status: dict[str, int]
    best_candidate_id: int | None
    best_r2: float
    best_error: float
    generation: int | None
    events: int
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    usd: float


# --------------------------------------------------------------------------- helpers


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True, sort_keys=True, separators=(",", ":"))


def _real(value: float | None) -> float:
    """SQLite keeps NaN as NULL; read NULL back as NaN."""
    return math.nan if value is None else float(value)


def _request_key(request: Mapping[str, Any]) -> str:
    return hashlib.sha256(_dumps(request).encode()).hexdigest()


def store_path(run_dir: str | Path) -> Path:
    """Where the run store of ``run_dir`` lives."""
    return Path(run_dir) / STORE_FILENAME


def _candidate_row(r: sqlite3.Row) -> CandidateRow:
    return CandidateRow(
        id=r["id"],
        seq=r["seq"],
        generation=r["generation"],
        island=r["island"],
        text=r["text"],
        key=r["key"],
        parents=tuple(json.loads(r["parents"])),
        proposer=r["proposer"],
        operator=r["operator"],
        rationale=r["rationale"],
        status=r["status"],
        reason=r["reason"],
        complexity=r["complexity"],
        n_params=r["n_params"],
        created=r["created"],
    )


_CANDIDATE_COLUMNS = (
    "c.id, c.seq, c.generation, c.island, c.text, c.key, c.parents, c.proposer, "
    "c.operator, c.rationale, c.status, c.reason, c.complexity, c.n_params, c.created"
)


# --------------------------------------------------------------------------- store


class RunStore:
    """One run's SQLite store; open with :meth:`create` or :meth:`open`, never directly.

    One connection per instance, shared by its methods under a lock, so the
    engine may call it from worker threads. Writers take an advisory file lock:
    a second writer on the same run directory gets a StoreError instead of
    interleaving candidates.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool, lock_file: Any):
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self._lock = threading.RLock()
        self._lock_file = lock_file
        self._depth = 0

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
            raise StoreError(f"a run store already exists at {path}; resume it or {_FIX}")
        try:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create run directory {run_dir} ({exc.strerror or exc}); "
                "choose a writable directory with --out"
            ) from exc
        lock_file = _take_writer_lock(path)
        try:
            conn = _connect(path, readonly=False)
            # schema and meta commit together, so no store is ever seen half-made
            with _translated(path, "create"):
                conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA)
                try:
                    conn.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [
                            ("schema_version", _dumps(SCHEMA_VERSION)),
                            ("created", _dumps(time.time())),
                            ("task", _dumps(task)),
                            ("seed", _dumps(int(seed))),
                        ],
                    )
                    conn.execute(
                        "INSERT INTO config (id, config, versions) VALUES (1, ?, ?)",
                        (_dumps(dict(config)), _dumps(dict(versions))),
                    )
                    conn.commit()
                except BaseException:
                    conn.rollback()
                    raise
            store = cls(conn, path, readonly=False, lock_file=lock_file)
        except BaseException:
            _release_writer_lock(lock_file)
            raise
        return store

    @staticmethod
    def exists(run_dir: str | Path) -> bool:
        """Whether ``run_dir`` already holds a store file (resume it rather than create)."""
        return store_path(run_dir).is_file()

    @classmethod
    def open(cls, run_dir: str | Path, *, readonly: bool = False) -> RunStore:
        """Open an existing store, to resume it (writer) or to watch it (``readonly``).

        A read-only store opens the file with ``mode=ro`` and never takes locks
        a writer would wait on. Raises StoreError when the file is missing, is
        not SQLite, lacks sld's tables, or has another schema version.
        """
        path = store_path(run_dir)
        if not path.is_file():
            raise StoreError(f"no run store at {path}; check the run directory or {_FIX}")
        with path.open("rb") as f:
            header = f.read(16)
        if header != b"SQLite format 3\x00":
            raise StoreError(f"{path} is not an SQLite run store (corrupted?); {_FIX}")
        lock_file = None if readonly else _take_writer_lock(path)
        try:
            conn = _connect(path, readonly=readonly)
            store = cls(conn, path, readonly=readonly, lock_file=lock_file)
            store._check_schema()
        except BaseException:
            _release_writer_lock(lock_file)
            raise
        return store

    def _check_schema(self) -> None:
        with _translated(self.path, "open"):
            names = {
                r[0]
                for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            missing = sorted(_TABLES - names)
            if missing:
                raise StoreError(
                    f"{self.path} is not an sld run store (missing tables: "
                    f"{', '.join(missing)}); {_FIX}"
                )
            version = self._meta("schema_version")
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has store schema version {version}, this sld reads "
                f"{SCHEMA_VERSION}; use the sld that wrote it or {_FIX}"
            )

    def close(self) -> None:
        """Close the connection and release the writer lock; safe to call twice."""
        with self._lock:
            self._conn.close()
            _release_writer_lock(self._lock_file)
            self._lock_file = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
            with _translated(self.path, "write"):
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException as exc:
                self._depth = 0
                self._conn.rollback()
                if isinstance(exc, sqlite3.Error):
                    raise _store_error(self.path, "write", exc) from exc
                raise
            self._depth = 0
            try:
                self._conn.commit()
            except sqlite3.Error as exc:
                # a failed COMMIT (busy, disk full) can leave the transaction open
                with contextlib.suppress(sqlite3.Error):
                    self._conn.rollback()
                raise _store_error(self.path, "commit", exc) from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, _translated(self.path, "read"):
            return self._conn.execute(sql, params).fetchall()

    def _meta(self, key: str) -> Any:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    # -- run facts -----------------------------------------------------------

    @property
    def task(self) -> str:
        with self._lock:
            return self._meta("task")

    @property
    def seed(self) -> int:
        with self._lock:
            return self._meta("seed")

    @property
    def created(self) -> float:
        with self._lock:
            return self._meta("created")

    def config(self) -> dict[str, Any]:
        """The run config as given to :meth:`create`."""
        return json.loads(self._read("SELECT config FROM config WHERE id = 1")[0][0])

    def versions(self) -> dict[str, Any]:
        """Library and platform versions recorded at :meth:`create`."""
        return json.loads(self._read("SELECT versions FROM config WHERE id = 1")[0][0])

    # -- candidate lifecycle ---------------------------------------------------

    def add_candidate(
        self,
        *,
        text: str,
        generation: int,
        island: int,
        key: str | None = None,
        parents: Sequence[int] = (),
        proposer: str = "",
        operator: str = "",
        rationale: str = "",
        status: str = "proposed",
        reason: str | None = None,
        complexity: int | None = None,
        n_params: int | None = None,
        seq: int | None = None,
    ) -> int:
        """Record a proposed law with a ``status`` event; returns its candidate id.

        ``seq`` (proposal order) defaults to the next number, starting at 1. A
        replayed proposal (same ``seq``, same ``text``) returns the existing id
        and writes nothing; the same ``seq`` with other text means the replay
        diverged and raises StoreError.
        """
        _check_status(status)
        with self.transaction():
            if seq is not None:
                row = self._conn.execute(
                    "SELECT id, text FROM candidates WHERE seq = ?", (seq,)
                ).fetchone()
                if row is not None:
                    if row["text"] != text:
                        raise StoreError(
                            f"replayed proposal {seq} in {self.path} differs from the stored one "
                            f"({row['text']!r} vs {text!r}); the run is not replaying "
                            f"deterministically, {_FIX}"
                        )
                    return row["id"]
            else:
                seq = self._conn.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM candidates"
                ).fetchone()[0]
            with _translated(self.path, "add candidate"):
                cur = self._conn.execute(
                    "INSERT INTO candidates (seq, generation, island, text, key, parents, "
                    "proposer, operator, rationale, status, reason, complexity, n_params, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        seq,
                        generation,
                        island,
                        text,
                        key,
                        _dumps([int(p) for p in parents]),
                        proposer,
                        operator,
                        rationale,
                        status,
                        reason,
                        complexity,
                        n_params,
                        time.time(),
                    ),
                )
            candidate_id = int(cur.lastrowid)  # type: ignore[arg-type]
            payload: dict[str, Any] = {"seq": seq, "text": text, "island": island}
            if reason is not None:
                payload["reason"] = reason
            self._event(status, generation=generation, candidate_id=candidate_id, payload=payload)
        return candidate_id

    def set_status(self, candidate_id: int, status: str, *, reason: str | None = None) -> bool:
        """Move a candidate to ``status`` with an event; False (and no event) if it was already there."""
        _check_status(status)
        with self.transaction():
            generation, current = self._candidate_state(candidate_id)
            if current == status:
                return False
            self._conn.execute(
                "UPDATE candidates SET status = ?, reason = ? WHERE id = ?",
                (status, reason, candidate_id),
            )
            payload = {} if reason is None else {"reason": reason}
            self._event(status, generation=generation, candidate_id=candidate_id, payload=payload)
        return True

    def record_fit(
        self,
        candidate_id: int,
        fit: Mapping[str, Any],
        *,
        train_loss: float,
        ok: bool,
        seconds: float,
        reason: str | None = None,
    ) -> bool:
        """Record a fit (``fit`` is a FitResult ``model_dump``) and mark the candidate fitted or failed.

        Returns False and writes nothing when the candidate already has a fit
        (a replay after resume). Prefer :meth:`record_fit_and_score`, which
        cannot leave a fit without its score.
        """
        with self.transaction():
            generation, _ = self._candidate_state(candidate_id)
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO fits (candidate_id, fit, train_loss, ok, seconds, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (candidate_id, _dumps(dict(fit)), train_loss, int(bool(ok)), seconds, time.time()),
            )
            if cur.rowcount == 0:
                return False
            status = "fitted" if ok else "failed"
            self._conn.execute(
                "UPDATE candidates SET status = ?, reason = ? WHERE id = ?",
                (status, reason, candidate_id),
            )
            payload: dict[str, Any] = {"train_loss": train_loss, "seconds": seconds}
            if reason is not None:
                payload["reason"] = reason
            self._event(status, generation=generation, candidate_id=candidate_id, payload=payload)
        return True

    def record_score(
        self,
        candidate_id: int,
        *,
        r2: float,
        nmse: float,
        nmae: float,
        error: float,
        report: Mapping[str, Any],
    ) -> bool:
        """Record the validation score with a ``scored`` event; False (no write) if already scored.

        ``error`` is the fitness the population minimises (validation NMSE;
        ``inf`` for a failed law); ``report`` is a ScoreReport ``model_dump``.
        """
        with self.transaction():
            generation, _ = self._candidate_state(candidate_id)
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO scores (candidate_id, r2, nmse, nmae, error, report, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (candidate_id, r2, nmse, nmae, error, _dumps(dict(report)), time.time()),
            )
            if cur.rowcount == 0:
                return False
            self._event(
                "scored",
                generation=generation,
                candidate_id=candidate_id,
                payload={"r2": r2, "nmse": nmse, "error": error},
            )
        return True

    def record_fit_and_score(
        self,
        candidate_id: int,
        fit: Mapping[str, Any],
        *,
        train_loss: float,
        ok: bool,
        seconds: float,
        r2: float,
        nmse: float,
        nmae: float,
        error: float,
        report: Mapping[str, Any],
        reason: str | None = None,
    ) -> bool:
        """:meth:`record_fit` then :meth:`record_score` in one transaction; False if either existed."""
        with self.transaction():
            fit_written = self.record_fit(
                candidate_id, fit, train_loss=train_loss, ok=ok, seconds=seconds, reason=reason
            )
            score_written = self.record_score(
                candidate_id, r2=r2, nmse=nmse, nmae=nmae, error=error, report=report
            )
        return fit_written and score_written

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
        with self.transaction(), _translated(self.path, "record held-out score"):
            cur = self._conn.execute(
                "INSERT INTO heldout (candidate_id, kind, text, r2, report, created) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, text) DO UPDATE SET candidate_id = excluded.candidate_id, "
                "r2 = excluded.r2, report = excluded.report, created = excluded.created "
                "RETURNING id",
                (candidate_id, kind, text, r2, _dumps(dict(report)), time.time()),
            )
            return int(cur.fetchone()[0])

    def _candidate_state(self, candidate_id: int) -> tuple[int, str]:
        row = self._conn.execute(
            "SELECT generation, status FROM candidates WHERE id = ?", (candidate_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"no candidate {candidate_id} in {self.path}")
        return row["generation"], row["status"]

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
        with _translated(self.path, f"add {kind} event"):
            cur = self._conn.execute(
                "INSERT INTO events (ts, generation, kind, candidate_id, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                (time.time(), generation, kind, candidate_id, _dumps(dict(payload or {}))),
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
                "INSERT INTO llm_calls (ts, request_key, request, reply, usage, prompt_tokens, "
                "completion_tokens, usd, latency, outcome, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    _request_key(request),
                    _dumps(dict(request)),
                    reply,
                    _dumps(dict(usage)),
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

    def llm_reply_for(self, request: Mapping[str, Any]) -> str | None:
        """The first 'ok' reply stored for exactly this request, so a resumed run can replay it."""
        rows = self._read(
            "SELECT request, reply FROM llm_calls WHERE request_key = ? AND outcome = 'ok' "
            "ORDER BY id",
            (_request_key(request),),
        )
        wanted = _dumps(dict(request))
        for row in rows:
            if row["request"] == wanted:
                return row["reply"]
        return None

    def set_state(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable checkpoint value ('generation', 'population', ...)."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO state (key, value, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                (key, _dumps(value), time.time()),
            )

    def get_state(self, key: str, default: Any = None) -> Any:
        """The value last stored under ``key``, or ``default``."""
        rows = self._read("SELECT value FROM state WHERE key = ?", (key,))
        return default if not rows else json.loads(rows[0][0])

    # -- readers -----------------------------------------------------------------

    def candidates(self, *, status: str | None = None) -> list[CandidateRow]:
        """Candidates in proposal (``seq``) order, optionally only those with ``status``."""
        where, params = ("WHERE c.status = ?", (status,)) if status is not None else ("", ())
        rows = self._read(
            f"SELECT {_CANDIDATE_COLUMNS} FROM candidates c {where} ORDER BY c.seq", params
        )
        return [_candidate_row(r) for r in rows]

    def candidate(self, candidate_id: int) -> CandidateRow:
        """One candidate by id; StoreError if there is none."""
        rows = self._read(
            f"SELECT {_CANDIDATE_COLUMNS} FROM candidates c WHERE c.id = ?", (candidate_id,)
        )
        if not rows:
            raise StoreError(f"no candidate {candidate_id} in {self.path}")
        return _candidate_row(rows[0])

    def pending(self) -> list[CandidateRow]:
        """Candidates whose lifecycle a kill interrupted: still 'proposed', or fitted but unscored.

        A resumed engine refits exactly these (in seq order); everything else
        is final.
        """
        rows = self._read(
            f"SELECT {_CANDIDATE_COLUMNS} FROM candidates c "
            "LEFT JOIN scores s ON s.candidate_id = c.id "
            "WHERE c.status = 'proposed' "
            "OR (c.status IN ('fitted', 'failed') AND s.candidate_id IS NULL) "
            "ORDER BY c.seq"
        )
        return [_candidate_row(r) for r in rows]

    def fitted(self) -> list[FittedRow]:
        """Every candidate with both a fit and a validation score, in seq order.

        Failed fits are included (``ok`` False, ``error`` usually inf).
        """
        rows = self._read(
            f"SELECT {_CANDIDATE_COLUMNS}, f.fit, f.train_loss, f.ok, f.seconds, "
            "s.r2, s.nmse, s.nmae, s.error, s.report "
            "FROM candidates c JOIN fits f ON f.candidate_id = c.id "
            "JOIN scores s ON s.candidate_id = c.id ORDER BY c.seq"
        )
        return [
            FittedRow(
                candidate=_candidate_row(r),
                fit=json.loads(r["fit"]),
                train_loss=_real(r["train_loss"]),
                ok=bool(r["ok"]),
                seconds=_real(r["seconds"]),
                r2=_real(r["r2"]),
                nmse=_real(r["nmse"]),
                nmae=_real(r["nmae"]),
                error=_real(r["error"]),
                report=json.loads(r["report"]),
            )
            for r in rows
        ]

    def heldout(self) -> list[HeldoutRow]:
        """Held-out scores written by the reporting path, in insertion order."""
        rows = self._read(
            "SELECT id, candidate_id, kind, text, r2, report, created FROM heldout ORDER BY id"
        )
        return [
            HeldoutRow(
                id=r["id"],
                candidate_id=r["candidate_id"],
                kind=r["kind"],
                text=r["text"],
                r2=_real(r["r2"]),
                report=json.loads(r["report"]),
                created=r["created"],
            )
            for r in rows
        ]

    def events(
        self, *, after_id: int = 0, limit: int | None = None, kind: str | None = None
    ) -> list[EventRow]:
        """Events with id > ``after_id`` in append order; tail a live run by passing the last id seen."""
        sql = "SELECT id, ts, generation, kind, candidate_id, payload FROM events WHERE id > ?"
        params: list[Any] = [after_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [
            EventRow(
                id=r["id"],
                ts=r["ts"],
                generation=r["generation"],
                kind=r["kind"],
                candidate_id=r["candidate_id"],
                payload=json.loads(r["payload"]),
            )
            for r in self._read(sql, params)
        ]

    def llm_calls(self) -> list[LlmCallRow]:
        """Every LLM call in order."""
        rows = self._read(
            "SELECT id, ts, request, reply, usage, prompt_tokens, completion_tokens, usd, latency, "
            "outcome, error FROM llm_calls ORDER BY id"
        )
        return [
            LlmCallRow(
                id=r["id"],
                ts=r["ts"],
                request=json.loads(r["request"]),
                reply=r["reply"],
                usage=json.loads(r["usage"]),
                prompt_tokens=r["prompt_tokens"],
                completion_tokens=r["completion_tokens"],
                usd=_real(r["usd"]),
                latency=_real(r["latency"]),
                outcome=r["outcome"],
                error=r["error"],
            )
            for r in rows
        ]

    def summary(self) -> RunSummary:
        """Counts by status, the best validation score, event count and LLM totals, in one snapshot."""
        with self._lock, _translated(self.path, "read"):
            conn = self._conn
            # one read transaction, so the counts agree with each other
            if not self._depth:
                conn.execute("BEGIN")
            try:
                by_status = {s: 0 for s in STATUSES}
                for status, n in conn.execute(
                    "SELECT status, COUNT(*) FROM candidates GROUP BY status"
                ):
                    by_status[status] = n
                # NaN is stored as NULL, so only real scores compete
                best = conn.execute(
                    "SELECT candidate_id, r2, error FROM scores WHERE r2 IS NOT NULL "
                    "ORDER BY r2 DESC, candidate_id LIMIT 1"
                ).fetchone()
                llm = conn.execute(
                    "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), "
                    "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(usd), 0) FROM llm_calls"
                ).fetchone()
                n_events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
                generation = conn.execute(
                    "SELECT value FROM state WHERE key = 'generation'"
                ).fetchone()
                if generation is None:
                    generation = conn.execute("SELECT MAX(generation) FROM candidates").fetchone()
                else:
                    generation = (json.loads(generation[0]),)
                task, seed, created = self._meta("task"), self._meta("seed"), self._meta("created")
            finally:
                if not self._depth:
                    conn.rollback()
        return RunSummary(
            task=task,
            seed=seed,
            created=created,
            candidates=sum(by_status.values()),
            by_status=by_status,
            best_candidate_id=None if best is None else best[0],
            best_r2=math.nan if best is None else _real(best[1]),
            best_error=math.nan if best is None else _real(best[2]),
            generation=generation[0],
            events=n_events,
            llm_calls=llm[0],
            prompt_tokens=llm[1],
            completion_tokens=llm[2],
            usd=float(llm[3]),
        )


# --------------------------------------------------------------------------- plumbing


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise StoreError(f"unknown candidate status {status!r}; use one of {', '.join(STATUSES)}")


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN ourselves) with sld's pragmas."""
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
        hint = _FIX if readonly else "choose a writable directory with --out"
        raise StoreError(f"cannot open run store {path} ({exc}); {hint}") from exc
    conn.row_factory = sqlite3.Row
    with _translated(path, "open"):
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
def _translated(path: Path, action: str) -> Iterator[None]:
    """Turn sqlite3 errors into one-line StoreErrors naming the file and a fix."""
    try:
        yield
    except sqlite3.Error as exc:
        raise _store_error(path, action, exc) from exc


def _store_error(path: Path, action: str, exc: sqlite3.Error) -> StoreError:
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
        return StoreError(f"cannot {action} run store {path} ({text}); {_FIX}")
    return StoreError(f"{path} is not a readable run store ({text}); {_FIX}")


def _take_writer_lock(path: Path) -> Any:
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


def _release_writer_lock(lock_file: Any) -> None:
    if lock_file is not None:
        with contextlib.suppress(OSError):
            lock_file.close()
