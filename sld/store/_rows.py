"""What the run store hands back: one frozen dataclass per kind of row, and a whole-run snapshot."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from sld.store._sqlite import real


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
    """Counts and totals for a status line, read in one transaction."""

    task: str
    seed: int
    created: float
    candidates: int
    by_status: dict[str, int]
    generation: int | None
    events: int
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    usd: float


@dataclass(frozen=True)
class RunSnapshot:
    """One consistent read of a whole run (see :meth:`RunReader.snapshot`).

    ``state`` holds every checkpoint value the engine stored (``population``,
    ``generation``, ``elapsed``, ``progress``); ``finished`` is True when the
    last 'stopped' event came after the last 'resumed' one, and ``stopped_by``
    is then its reason. ``candidates`` and ``fitted`` are filled only when asked
    for (``rows=True``). ``last_event`` is the id of the newest event.
    """

    task: str
    seed: int
    created: float
    config: dict[str, Any]
    versions: dict[str, Any]
    summary: RunSummary
    state: dict[str, Any]
    heldout: tuple[HeldoutRow, ...]
    finished: bool
    stopped_by: str
    last_event: int
    candidates: tuple[CandidateRow, ...] = ()
    fitted: tuple[FittedRow, ...] = ()


CANDIDATE_COLUMNS = (
    "c.id, c.seq, c.generation, c.island, c.text, c.key, c.parents, c.proposer, "
    "c.operator, c.rationale, c.status, c.reason, c.complexity, c.n_params, c.created"
)
FITTED_SELECT = (
    f"SELECT {CANDIDATE_COLUMNS}, f.fit, f.train_loss, f.ok, f.seconds, "
    "s.r2, s.nmse, s.nmae, s.error, s.report "
    "FROM candidates c JOIN fits f ON f.candidate_id = c.id "
    "JOIN scores s ON s.candidate_id = c.id"
)
FITTED_SQL = f"{FITTED_SELECT} ORDER BY c.seq"
HELDOUT_SQL = "SELECT id, candidate_id, kind, text, r2, report, created FROM heldout ORDER BY id"
LLM_CALLS_SQL = (
    "SELECT id, ts, request, reply, usage, prompt_tokens, completion_tokens, usd, latency, "
    "outcome, error FROM llm_calls ORDER BY id"
)


def candidate_row(r: sqlite3.Row) -> CandidateRow:
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


def fitted_row(r: sqlite3.Row) -> FittedRow:
    return FittedRow(
        candidate=candidate_row(r),
        fit=json.loads(r["fit"]),
        train_loss=real(r["train_loss"]),
        ok=bool(r["ok"]),
        seconds=real(r["seconds"]),
        r2=real(r["r2"]),
        nmse=real(r["nmse"]),
        nmae=real(r["nmae"]),
        error=real(r["error"]),
        report=json.loads(r["report"]),
    )


def heldout_row(r: sqlite3.Row) -> HeldoutRow:
    return HeldoutRow(
        id=r["id"],
        candidate_id=r["candidate_id"],
        kind=r["kind"],
        text=r["text"],
        r2=real(r["r2"]),
        report=json.loads(r["report"]),
        created=r["created"],
    )


def event_row(r: sqlite3.Row) -> EventRow:
    return EventRow(
        id=r["id"],
        ts=r["ts"],
        generation=r["generation"],
        kind=r["kind"],
        candidate_id=r["candidate_id"],
        payload=json.loads(r["payload"]),
    )


def llm_call_row(r: sqlite3.Row) -> LlmCallRow:
    return LlmCallRow(
        id=r["id"],
        ts=r["ts"],
        request=json.loads(r["request"]),
        reply=r["reply"],
        usage=json.loads(r["usage"]),
        prompt_tokens=r["prompt_tokens"],
        completion_tokens=r["completion_tokens"],
        usd=real(r["usd"]),
        latency=real(r["latency"]),
        outcome=r["outcome"],
        error=r["error"],
    )
