"""The candidate lifecycle writes of a run store: proposed → fitted or failed → scored.

Each write and the event that announces it commit in one transaction, so the
event log never disagrees with the tables. Fits and scores are keyed by
candidate and written with ``INSERT OR IGNORE``: a write replayed after a
resume is a no-op, never a duplicate.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sld.errors import StoreError
from sld.store._schema import FIX, STATUSES
from sld.store._sqlite import dumps, translated


class CandidateLifecycle:
    """The candidate writes of :class:`~sld.store.RunStore` (a mixin over its connection)."""

    if TYPE_CHECKING:  # provided by RunStore
        path: Path
        _conn: sqlite3.Connection

        def transaction(self) -> contextlib.AbstractContextManager[None]: ...

        def _event(
            self,
            kind: str,
            *,
            generation: int | None,
            candidate_id: int | None,
            payload: Mapping[str, Any] | None,
        ) -> int: ...

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
                            f"deterministically, {FIX}"
                        )
                    return row["id"]
            else:
                seq = self._conn.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM candidates"
                ).fetchone()[0]
            with translated(self.path, "add candidate"):
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
                        dumps([int(p) for p in parents]),
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
                (candidate_id, dumps(dict(fit)), train_loss, int(bool(ok)), seconds, time.time()),
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
                (candidate_id, r2, nmse, nmae, error, dumps(dict(report)), time.time()),
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

    def _candidate_state(self, candidate_id: int) -> tuple[int, str]:
        row = self._conn.execute(
            "SELECT generation, status FROM candidates WHERE id = ?", (candidate_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"no candidate {candidate_id} in {self.path}")
        return row["generation"], row["status"]


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise StoreError(f"unknown candidate status {status!r}; use one of {', '.join(STATUSES)}")
