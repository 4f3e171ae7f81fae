"""What the app shows, read from a run store: law rows, the Pareto front, held-out scores, events.

The app never reads the engine's memory: every pane is drawn from a
:class:`RunView`, which :class:`ViewPoller` builds from a read-only connection to
the run store (the engine writes through its own connection, so reading never
blocks it). Held-out scores come only from the store's ``heldout`` table (written
by the reporting path after selection) or from an explicit request in the app;
they are shown, never fed back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sld.report import read_run
from sld.scoring import PickReport
from sld.store import EventRow, FittedRow, HeldoutRow, LlmCallRow, RunReader, RunSummary

SHOWN_STATUSES = ("proposed", "fitted", "failed")  # rejected and duplicate laws go to the event log


@dataclass(frozen=True)
class LawRow:
    """One candidate law as the population table shows it; metrics are NaN until known."""

    id: int
    text: str
    status: str
    complexity: int | None
    n_params: int | None
    r2: float
    error: float
    heldout_r2: float
    proposer: str
    operator: str
    island: int
    generation: int
    parents: tuple[int, ...]
    in_population: bool = False
    on_front: bool = False
    chosen: bool = False
    rationale: str = ""

    @property
    def mark(self) -> str:
        """One character: ★ chosen, ◆ Pareto front, ● in the population, · pending, ✗ failed."""
        if self.chosen:
            return "★"
        if self.on_front:
            return "◆"
        if self.in_population:
            return "●"
        if self.status == "proposed":
            return "·"
        if self.status == "failed" or not math.isfinite(self.error):
            return "✗"
        return " "


@dataclass(frozen=True)
class Ledger:
    """LLM usage totals for the ledger pane."""

    calls: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0
    mean_latency: float = math.nan
    by_outcome: Mapping[str, int] = field(default_factory=dict)
    recent: tuple[LlmCallRow, ...] = ()


@dataclass(frozen=True)
class RunView:
    """Everything the panes draw, read from the store in one go."""

    task: str
    seed: int
    config: Mapping[str, Any]
    summary: RunSummary
    rows: tuple[LawRow, ...]
    fits: Mapping[int, FittedRow]
    heldout: tuple[HeldoutRow, ...]
    chosen_id: int | None
    front_ids: tuple[int, ...]
    events: tuple[EventRow, ...]  # only those new since the previous read
    ledger: Ledger
    finished: bool
    stopped_by: str
    elapsed: float
    pick: PickReport | None = None  # the final pick (training rows only), once the run has one

    def row(self, candidate_id: int | None) -> LawRow | None:
        """The row of ``candidate_id``, or None."""
        return next((r for r in self.rows if r.id == candidate_id), None)

    def heldout_for(self, candidate_id: int) -> HeldoutRow | None:
        """The stored held-out score of a candidate (written after selection), if any."""
        return next((h for h in self.heldout if h.candidate_id == candidate_id), None)


def _ledger(calls: Sequence[LlmCallRow], summary: RunSummary) -> Ledger:
    by_outcome: dict[str, int] = {}
    for call in calls:
        by_outcome[call.outcome] = by_outcome.get(call.outcome, 0) + 1
    latencies = [c.latency for c in calls if math.isfinite(c.latency)]
    return Ledger(
        calls=summary.llm_calls,
        failures=sum(n for outcome, n in by_outcome.items() if outcome != "ok"),
        prompt_tokens=summary.prompt_tokens,
        completion_tokens=summary.completion_tokens,
        usd=summary.usd,
        mean_latency=sum(latencies) / len(latencies) if latencies else math.nan,
        by_outcome=by_outcome,
        recent=tuple(calls[-8:]),
    )


class ViewPoller:
    """Reads a run store into :class:`RunView`s, returning None when nothing changed since last time.

    Each read is one :func:`sld.report.read_run` (one store snapshot, the
    population restored once) plus the events and LLM calls new since the last.
    """

    def __init__(self, store: RunReader) -> None:
        self.store = store
        self.task = store.task
        self.seed = store.seed
        self.config = store.config()
        self._last_event = 0
        self._mark: tuple[Any, ...] = ()
        self._llm_calls: list[LlmCallRow] = []

    def invalidate(self) -> None:
        """Make the next :meth:`read` return a view even if the store did not change."""
        self._mark = ()

    def read(self, *, extra_heldout: Mapping[int, float] | None = None) -> RunView | None:
        """A fresh view, or None when no event, held-out score or LLM call arrived since the last read."""
        store = self.store
        mark = store.change_mark()
        if mark == self._mark:
            return None
        record = read_run(store, rows=True)
        snap = record.snapshot
        self._mark = (snap.last_event, *mark[1:])
        events = tuple(store.events(after_id=self._last_event)) if snap.last_event else ()
        events = tuple(e for e in events if e.id <= snap.last_event)
        if events:
            self._last_event = events[-1].id
        if snap.summary.llm_calls != len(self._llm_calls):
            self._llm_calls = store.llm_calls()
        best = record.chosen
        best_id = best.id if best is not None else None
        reported = [h.candidate_id for h in snap.heldout if h.kind == "chosen" and h.candidate_id]
        if snap.finished and reported:
            best_id = reported[-1]  # the law the reporting path scored when the run ended
        front = tuple(m.id for m in record.front)
        members = (
            {m.id for m in record.population.members()} if record.population is not None else set()
        )
        fits = {f.candidate.id: f for f in snap.fitted}
        heldout_r2 = {h.candidate_id: h.r2 for h in snap.heldout if h.candidate_id is not None}
        heldout_r2.update(extra_heldout or {})
        rows = []
        for c in snap.candidates:
            if c.status not in SHOWN_STATUSES:
                continue
            fit = fits.get(c.id)
            rows.append(
                LawRow(
                    id=c.id,
                    text=c.text,
                    status=c.status,
                    complexity=c.complexity,
                    n_params=c.n_params,
                    r2=fit.r2 if fit else math.nan,
                    error=fit.error if fit else math.nan,
                    heldout_r2=heldout_r2.get(c.id, math.nan),
                    proposer=c.proposer,
                    operator=c.operator,
                    island=c.island,
                    generation=c.generation,
                    parents=c.parents,
                    in_population=c.id in members,
                    on_front=c.id in front,
                    chosen=c.id == best_id,
                    rationale=c.rationale,
                )
            )
        return RunView(
            task=self.task,
            seed=self.seed,
            config=self.config,
            summary=snap.summary,
            rows=tuple(rows),
            fits=fits,
            heldout=snap.heldout,
            chosen_id=best_id,
            front_ids=front,
            events=events,
            ledger=_ledger(self._llm_calls, snap.summary),
            finished=snap.finished,
            stopped_by=snap.stopped_by,
            elapsed=float(snap.state.get("elapsed", 0.0) or 0.0),
            pick=record.pick,
        )

    def lineage(self, candidate_id: int, *, depth: int = 6) -> list[tuple[int, int, str, str]]:
        """Ancestors of a candidate, depth first: (level, id, operator, text), each id once."""
        out: list[tuple[int, int, str, str]] = []
        seen: set[int] = set()

        def walk(cid: int, level: int) -> None:
            if cid in seen or level > depth:
                return
            seen.add(cid)
            row = self.store.candidate(cid)
            out.append((level, row.id, row.operator, row.text))
            for parent in row.parents:
                walk(parent, level + 1)

        walk(candidate_id, 0)
        return out


# -- sorting and filtering the population table ----------------------------------------------


def _nan_last(value: float | int | None, reverse: bool) -> tuple[int, float]:
    """Sort key that puts missing values last in either direction."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return (1, 0.0)
    return (0, -float(value) if reverse else float(value))


SORT_KEYS: dict[str, Callable[[LawRow], Any]] = {
    "id": lambda r: r.id,
    "law": lambda r: r.text,
    "complexity": lambda r: r.complexity,
    "params": lambda r: r.n_params,
    "r2": lambda r: r.r2,
    "heldout": lambda r: r.heldout_r2,
    "proposer": lambda r: r.proposer,
    "island": lambda r: r.island,
    "generation": lambda r: r.generation,
}


def sort_rows(rows: Iterable[LawRow], column: str, *, reverse: bool = False) -> list[LawRow]:
    """Rows ordered by ``column`` (a key of ``SORT_KEYS``); missing numbers last, ties by id."""
    get = SORT_KEYS[column]
    rows = sorted(rows, key=lambda r: r.id)
    if column in ("law", "proposer"):
        return sorted(rows, key=lambda r: str(get(r)).lower(), reverse=reverse)
    return sorted(rows, key=lambda r: _nan_last(get(r), reverse))


def filter_rows(rows: Iterable[LawRow], query: str) -> list[LawRow]:
    """Rows whose law, proposer, status, island (``i2``) or generation (``g3``) match every word."""
    words = query.lower().split()
    if not words:
        return list(rows)

    def haystack(r: LawRow) -> str:
        return f"{r.text} {r.proposer} {r.operator} {r.status} i{r.island} g{r.generation} #{r.id}".lower()

    return [r for r in rows if all(w in haystack(r) for w in words)]


def number(value: float | None, digits: int = 4) -> str:
    """A metric for display; '—' when missing or not finite."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}f}"
