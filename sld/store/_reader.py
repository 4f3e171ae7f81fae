"""Reading a run store: what ``sld report``, the report builder, replay and the TUI use.

A :class:`RunReader` opens ``run.sqlite`` read-only (``mode=ro``, no locks a
writer would wait on), so any number of readers may follow a run while one
engine process writes it; they see committed data only. :meth:`RunReader.snapshot`
reads a whole run in one transaction, so everything in it agrees.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sld.errors import StoreError
from sld.store._rows import (
    CANDIDATE_COLUMNS,
    FITTED_SELECT,
    FITTED_SQL,
    HELDOUT_SQL,
    LLM_CALLS_SQL,
    CandidateRow,
    EventRow,
    FittedRow,
    HeldoutRow,
    LlmCallRow,
    RunSnapshot,
    RunSummary,
    candidate_row,
    event_row,
    fitted_row,
    heldout_row,
    llm_call_row,
)
from sld.store._schema import FIX, READABLE_VERSIONS, SCHEMA_VERSION, STATUSES, TABLES, store_path
from sld.store._sqlite import check_header, connect, translated


class RunReader:
    """Read access to one run's store; open with :meth:`open`.

    One connection per instance, shared by its methods under a lock, so worker
    threads may share a reader.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0  # open write transactions (a writer's; always 0 for a reader)

    @staticmethod
    def exists(run_dir: str | Path) -> bool:
        """Whether ``run_dir`` holds a store file."""
        return store_path(run_dir).is_file()

    @classmethod
    def open(cls, run_dir: str | Path) -> RunReader:
        """Open the store in ``run_dir`` read-only.

        Raises StoreError when the file is missing, is not SQLite, lacks sld's
        tables, or has a schema version this sld cannot read.
        """
        path = store_path(run_dir)
        check_header(path)
        reader = cls(connect(path, readonly=True), path)
        try:
            reader._check_schema(READABLE_VERSIONS)
        except BaseException:
            reader.close()
            raise
        return reader

    def _check_schema(self, versions: frozenset[int]) -> int:
        with translated(self.path, "open"):
            names = {
                r[0]
                for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            missing = sorted(TABLES - names)
            if missing:
                raise StoreError(
                    f"{self.path} is not an sld run store (missing tables: "
                    f"{', '.join(missing)}); {FIX}"
                )
            version = self._meta("schema_version")
        if version not in versions:
            raise StoreError(
                f"{self.path} has store schema version {version}, this sld reads "
                f"{SCHEMA_VERSION}; use the sld that wrote it or {FIX}"
            )
        return int(version)

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> RunReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, translated(self.path, "read"):
            return self._conn.execute(sql, params).fetchall()

    def _meta(self, key: str) -> Any:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    @contextlib.contextmanager
    def _consistent(self) -> Iterator[sqlite3.Connection]:
        """One read transaction (or the writer's open one), so several queries agree."""
        with self._lock, translated(self.path, "read"):
            if self._depth:
                yield self._conn
                return
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.rollback()

    # -- run facts -------------------------------------------------------------------

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
        """The run config as given when the store was created."""
        return json.loads(self._read("SELECT config FROM config WHERE id = 1")[0][0])

    def versions(self) -> dict[str, Any]:
        """Library and platform versions recorded when the store was created."""
        return json.loads(self._read("SELECT versions FROM config WHERE id = 1")[0][0])

    def get_state(self, key: str, default: Any = None) -> Any:
        """The checkpoint value last stored under ``key``, or ``default``."""
        rows = self._read("SELECT value FROM state WHERE key = ?", (key,))
        return default if not rows else json.loads(rows[0][0])

    # -- rows ------------------------------------------------------------------------

    def candidates(
        self, *, status: str | None = None, proposer: str | None = None
    ) -> list[CandidateRow]:
        """Candidates in proposal (``seq``) order, optionally only those with ``status`` and
        only those from ``proposer``."""
        terms = [
            (f"c.{name} = ?", value)
            for name, value in (("status", status), ("proposer", proposer))
            if value is not None
        ]
        where = f"WHERE {' AND '.join(t for t, _ in terms)}" if terms else ""
        rows = self._read(
            f"SELECT {CANDIDATE_COLUMNS} FROM candidates c {where} ORDER BY c.seq",
            tuple(v for _, v in terms),
        )
        return [candidate_row(r) for r in rows]

    def candidate(self, candidate_id: int) -> CandidateRow:
        """One candidate by id; StoreError if there is none."""
        rows = self._read(
            f"SELECT {CANDIDATE_COLUMNS} FROM candidates c WHERE c.id = ?", (candidate_id,)
        )
        if not rows:
            raise StoreError(f"no candidate {candidate_id} in {self.path}")
        return candidate_row(rows[0])

    def pending(self) -> list[CandidateRow]:
        """Candidates whose lifecycle a kill interrupted: still 'proposed', or fitted but unscored.

        A resumed engine refits exactly these (in seq order); everything else
        is final.
        """
        rows = self._read(
            f"SELECT {CANDIDATE_COLUMNS} FROM candidates c "
            "LEFT JOIN scores s ON s.candidate_id = c.id "
            "WHERE c.status = 'proposed' "
            "OR (c.status IN ('fitted', 'failed') AND s.candidate_id IS NULL) "
            "ORDER BY c.seq"
        )
        return [candidate_row(r) for r in rows]

    def fitted(self) -> list[FittedRow]:
        """Every candidate with both a fit and a validation score, in seq order.

        Failed fits are included (``ok`` False, ``error`` usually inf).
        """
        return [fitted_row(r) for r in self._read(FITTED_SQL)]

    def scored(self, candidate_ids: Iterable[int]) -> dict[int, FittedRow]:
        """The fitted and scored rows of ``candidate_ids``, by id; an id not yet scored is left out.

        A fit and its score are written once and never change, so this read agrees with
        any earlier snapshot that already counted these candidates as scored.
        """
        ids = sorted(set(candidate_ids))
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = self._read(f"{FITTED_SELECT} WHERE c.id IN ({marks}) ORDER BY c.seq", ids)
        return {row.candidate.id: row for row in map(fitted_row, rows)}

    def heldout(self) -> list[HeldoutRow]:
        """Held-out scores written by the reporting path, in insertion order."""
        return [heldout_row(r) for r in self._read(HELDOUT_SQL)]

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
        return [event_row(r) for r in self._read(sql, params)]

    def llm_calls(self) -> list[LlmCallRow]:
        """Every LLM call in order."""
        return [llm_call_row(r) for r in self._read(LLM_CALLS_SQL)]

    # -- whole-run reads ---------------------------------------------------------------

    def summary(self) -> RunSummary:
        """Counts by status, event count and LLM totals, in one snapshot."""
        with self._consistent() as conn:
            return self._summary(conn)

    def _summary(self, conn: sqlite3.Connection) -> RunSummary:
        by_status = {s: 0 for s in STATUSES}
        for status, n in conn.execute("SELECT status, COUNT(*) FROM candidates GROUP BY status"):
            by_status[status] = n
        llm = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), "
            "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(usd), 0) FROM llm_calls"
        ).fetchone()
        n_events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        stored = conn.execute("SELECT value FROM state WHERE key = 'generation'").fetchone()
        if stored is None:
            generation = conn.execute("SELECT MAX(generation) FROM candidates").fetchone()[0]
        else:
            generation = json.loads(stored[0])
        return RunSummary(
            task=self._meta("task"),
            seed=self._meta("seed"),
            created=self._meta("created"),
            candidates=sum(by_status.values()),
            by_status=by_status,
            generation=generation,
            events=n_events,
            llm_calls=llm[0],
            prompt_tokens=llm[1],
            completion_tokens=llm[2],
            usd=float(llm[3]),
        )

    def change_mark(self) -> tuple[int, int, float]:
        """(newest event id, held-out rows, newest held-out write): equal marks, same run.

        Every write but a held-out score appends an event, so a poller that sees
        the same mark twice may skip the read in between.
        """
        row = self._read(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM events), (SELECT COUNT(*) FROM heldout), "
            "(SELECT COALESCE(MAX(created), 0) FROM heldout)"
        )[0]
        return int(row[0]), int(row[1]), float(row[2])

    def snapshot(self, *, rows: bool = False) -> RunSnapshot:
        """The whole run in one read transaction; ``rows`` adds every candidate and fitted row."""
        with self._consistent() as conn:
            summary = self._summary(conn)
            config, versions = conn.execute(
                "SELECT config, versions FROM config WHERE id = 1"
            ).fetchone()
            state = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM state")}
            heldout = tuple(heldout_row(r) for r in conn.execute(HELDOUT_SQL))
            last_stop = conn.execute(
                "SELECT kind, payload FROM events WHERE kind IN ('stopped', 'resumed') "
                "ORDER BY id DESC LIMIT 1"
            ).fetchone()
            last_event = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
            candidates: tuple[CandidateRow, ...] = ()
            fitted: tuple[FittedRow, ...] = ()
            if rows:
                candidates = tuple(
                    candidate_row(r)
                    for r in conn.execute(
                        f"SELECT {CANDIDATE_COLUMNS} FROM candidates c ORDER BY c.seq"
                    )
                )
                fitted = tuple(fitted_row(r) for r in conn.execute(FITTED_SQL))
        finished = last_stop is not None and last_stop["kind"] == "stopped"
        return RunSnapshot(
            task=summary.task,
            seed=summary.seed,
            created=summary.created,
            config=json.loads(config),
            versions=json.loads(versions),
            summary=summary,
            state=state,
            heldout=heldout,
            finished=finished,
            stopped_by=str(json.loads(last_stop["payload"]).get("reason", "")) if finished else "",
            last_event=int(last_event),
            candidates=candidates,
            fitted=fitted,
        )
