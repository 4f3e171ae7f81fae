"""The discovery engine's fitting side: screen a generation, fit the promoted in chunks,
confirm would-be leaders, record every fit (a mixin of :class:`sld.evolve.engine.Engine`).

Chunks have a fixed size, so timing never changes which laws are fitted together; a chunk
and its confirmations are recorded in one transaction. The time budget and a stop are
checked between chunks, so a run may end up to one chunk past its budget.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sld.config import RunConfig
from sld.corpus import Task
from sld.errors import SldError
from sld.evolve._fidelity import SCREENED, confirm, confirm_leaders, screen
from sld.evolve._members import member_from_report, member_of, proposer_notes, stored_score
from sld.evolve._resume import Batch
from sld.evolve.population import Member, Population
from sld.evolve.start import NAME as START
from sld.law import Law
from sld.scoring import ScoreReport, selection_scores
from sld.store import CandidateRow, RunStore


@dataclass
class Progress:
    """What the progress display shows; updated after every fit."""

    generation: int = 0
    proposed: int = 0
    fitted: int = 0
    screened: int = 0
    width: int = 1  # proposals_per_island multiplier of a screening generation
    rejected: int = 0
    duplicates: int = 0
    best_r2: float = float("nan")
    best_law: str = ""
    elapsed: float = 0.0
    stopped_by: str = ""

    @property
    def rate(self) -> float:
        """Fully fitted candidates per second of wall time (screened-out ones not counted)."""
        return self.fitted / self.elapsed if self.elapsed > 0 else 0.0


class Fitting:
    """The fitting methods of :class:`sld.evolve.engine.Engine`, which sets these attributes."""

    task: Task
    config: RunConfig
    store: RunStore
    progress: Progress
    on_progress: Callable[[Progress], None] | None
    stop_requested: bool
    width: int
    _running: threading.Event
    _started: float
    _elapsed_before: float
    _notes: dict[int, dict[str, Any]]
    _screened_out: set[int]

    def _elapsed(self) -> float:
        return self._elapsed_before + (time.monotonic() - self._started)

    def _record(
        self, row: CandidateRow, report: ScoreReport, *, extra: dict[str, Any] | None = None
    ) -> Member:
        """Write one candidate's fit and validation score (plus ``extra`` report keys) in one
        transaction."""
        stored = stored_score(report, extra=extra)
        self._notes[row.id] = proposer_notes(stored["report"], row)
        self.store.record_fit_and_score(row.id, **stored)
        return member_from_report(row, report)

    def _fit_chunk(
        self,
        chunk: Sequence[tuple[CandidateRow, Law]],
        *,
        population: Population,
        leaders: Sequence[float],
    ) -> list[Member]:
        """Fit a few candidates in one batched call: every selection fold, plus the checks;
        re-fit at ``final_restarts`` the ones that rank among the best with ``leaders``
        (:func:`confirm`); record them all in one transaction."""
        laws = [law for _, law in chunk]
        try:
            reports = selection_scores(
                laws, self.task, seed=self.config.seed, restarts=self.config.restarts
            )
        except SldError as exc:  # a batch the fitter refuses outright: every law in it failed
            for row, _ in chunk:
                self.store.set_status(row.id, "failed", reason=str(exc))
            return [member_of(row, r2=math.nan, error=math.inf) for row, _ in chunk]
        reports, extras = confirm(
            laws,
            reports,
            fitness=lambda i, report: population.fitness(member_from_report(chunk[i][0], report)),
            leaders=leaders,
            top=self.config.confirm_top,
            task=self.task,
            seed=self.config.seed,
            restarts=self.config.final_restarts,
            narrow=self.config.final_narrow,
        )
        with self.store.transaction():
            return [
                self._record(row, report, extra=extra)
                for (row, _), report, extra in zip(chunk, reports, extras, strict=True)
            ]

    def _screen(self, batch: Batch) -> list[Member]:
        """Screen the generation's candidates (:func:`screen`); record the screened-out ones,
        keep the promoted. Start laws (:mod:`sld.evolve.start`) are not screened: they go
        first to the full fit.

        One transaction writes every screened-out candidate and the ``screened`` state, so
        a kill leaves either no screen on record (it is redone, with the same outcome) or
        all of it. ``batch.to_fit`` keeps only the promoted candidates, in order.
        """
        if self.store.get_state(SCREENED) == batch.generation:
            return []
        given = [item for item in batch.to_fit if item[0].proposer == START]
        screened = [item for item in batch.to_fit if item[0].proposer != START]
        laws = [law for _, law in screened]
        share = self.config.screen_share / self.width
        outcome = screen(laws, self.task, seed=self.config.seed, share=share)
        if outcome is None:
            return []
        out: list[Member] = []
        with self.store.transaction():
            for i in outcome.dropped:
                row = screened[i][0]
                self.store.record_fit_and_score(row.id, **outcome.record(i))
                self._screened_out.add(row.id)
                out.append(member_of(row, r2=math.nan, error=math.inf))
            self.store.set_state(SCREENED, batch.generation)
        self.progress.screened += len(laws)
        batch.to_fit = given + [screened[i] for i in outcome.promoted]
        return out

    def _fit_batch(self, batch: Batch, population: Population) -> tuple[list[Member], bool]:
        """Screen a generation, then fully fit the promoted in fixed-size chunks (fixed, so
        timing never changes the results), confirming against ``population`` as the
        generation began; returns the members and whether every candidate was dealt with
        (False: time ran out or a stop came first)."""
        members: list[Member] = []
        size = self.config.fit_chunk
        leaders = confirm_leaders(population, top=self.config.confirm_top)
        self._hold()
        if self._interrupted():
            return members, not batch.to_fit
        screened_out = self._screen(batch)
        if screened_out and self.on_progress is not None:
            self.progress.elapsed = self._elapsed()
            self.on_progress(self.progress)
        members += screened_out
        fitted = 0
        for start in range(0, len(batch.to_fit), size):
            self._hold()
            if self._interrupted():
                break  # left 'proposed': a resumed run fits them
            chunk = batch.to_fit[start : start + size]
            for member in self._fit_chunk(chunk, population=population, leaders=leaders):
                members.append(member)
                fitted += 1
                self.progress.fitted += 1
                self._note_best(member)
            self.progress.elapsed = self._elapsed()
            if self.on_progress is not None:
                self.on_progress(self.progress)
        return members, fitted == len(batch.to_fit)

    def _hold(self) -> None:
        """Wait while paused: wall time keeps running, nothing is screened or fitted."""
        while not self._running.wait(timeout=0.2):
            pass

    def _interrupted(self) -> bool:
        """Asked to stop, or out of time once a law has been fully fitted (:meth:`_owed`)."""
        if self.stop_requested:
            return True
        return self._out_of_time() and not self._owed()

    def _out_of_time(self) -> bool:
        return self.config.time_limit is not None and self._elapsed() >= self.config.time_limit

    def _owed(self) -> bool:
        """Whether the run still owes its first full fit: until one law has been fitted and
        scored, the time budget does not interrupt fitting, so a run whose proposals came
        late (a slow LLM, a budget shorter than the first generation) still ends with a law
        to pick and report instead of none. A stop request always interrupts."""
        return self.progress.fitted == 0

    def _note_best(self, member: Member) -> None:
        if math.isfinite(member.r2) and not (member.r2 <= self.progress.best_r2):
            self.progress.best_r2 = member.r2
            self.progress.best_law = member.text
