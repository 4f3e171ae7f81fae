"""The discovery loop: propose → parse → dedupe → fit → validation score → population.

Determinism with overlap. Generation g+1 is proposed *while* generation g is
being fitted, so its parents are drawn from the population as it stood before
g's results arrived (a lag of one generation). Every random draw comes from a
generator seeded by ``(seed, generation, island)``, so the candidate sequence is
a function of the seed alone, whatever the timing.

Durability. At the end of generation g one transaction writes the population
snapshot, the checkpoint ``generation = g`` and every proposal of generation
g+1 (parsed, deduplicated, with status). Fits are written one by one as they
finish, each with its validation score in the same transaction. A killed run
therefore resumes from the checkpoint: proposals of g+1 come back from the
store, fits already written are reused, and only candidates still 'proposed'
are fitted. No fit is lost or repeated.

Fidelity. Each generation's new candidates are screened cheaply first, and only the
promising share gets the full selection fit; a new law that would lead the population is
confirmed by a re-fit at ``final_restarts`` before it is recorded (both in
:mod:`sld.evolve._fidelity`).

Protocol integrity. The engine only ever calls :func:`sld.scoring.selection_scores`
(each selection fold: fit below a cutoff of the training rows, score the band above;
checks on training inputs); it never touches
``task.heldout()``. Held-out scores are the reporting path's business
(:mod:`sld.report`), after selection.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sld.config import RunConfig
from sld.corpus import Task
from sld.errors import ParseError, SldError
from sld.evolve._fidelity import CONFIRMED_KEY as CONFIRMED_KEY
from sld.evolve._fidelity import SCREEN_KEY as SCREEN_KEY
from sld.evolve._fidelity import SCREENED as SCREENED
from sld.evolve._fidelity import confirm, confirm_leaders, generation_width, screen
from sld.evolve._members import (
    as_parent,
    member_from_report,
    member_of,
    proposer_notes,
    validation_error,
)
from sld.evolve._resume import Batch, resume
from sld.evolve._resume import member_from_fitted as member_from_fitted
from sld.evolve.population import Member, Population
from sld.law import Law
from sld.proposer import Proposal, ProposalRequest, Proposer, task_brief
from sld.scoring import ScoreReport, parse_for_task, selection_scores
from sld.store import CandidateRow, RunStore

LIVE_POPULATION = "population_live"  # state key: the population at a mid-generation stop


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


class Engine:
    """Runs one discovery to its budget, writing everything to ``store``.

    ``on_progress`` is called from the fitting thread after each fit.
    :meth:`stop`, :meth:`pause` and :meth:`resume` may be called from any thread
    (TUI, signal handler); a stop ends the run cleanly after the current fit. A
    proposer with a non-empty ``budget_exhausted`` attribute (an LLM whose token
    or dollar budget ran out) also ends the run.
    """

    def __init__(
        self,
        *,
        task: Task,
        config: RunConfig,
        store: RunStore,
        proposer: Proposer,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.task = task
        self.config = config
        self.store = store
        self.proposer = proposer
        self.on_progress = on_progress
        self.brief = task_brief(task)
        self.progress = Progress()
        self.stop_requested = False
        self._running = threading.Event()
        self._running.set()
        self._started = 0.0
        self._elapsed_before = float(store.get_state("elapsed", 0.0) or 0.0)
        self._keys_in_flight: dict[str, int] = {}
        self._failures: list[tuple[str, str]] = []
        # candidate id -> what proposers are told about it (see _notes); population members only
        self._notes: dict[int, dict[str, Any]] = {}
        self._screened_out: set[int] = set()
        self.width = generation_width(config, task)
        self.progress.width = self.width

    # -- control (thread-safe) -------------------------------------------------

    def stop(self) -> None:
        """End the run after the current fit."""
        self.stop_requested = True
        self._running.set()

    def pause(self) -> None:
        """Hold fitting before the next candidate until :meth:`resume`."""
        self._running.clear()

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # -- budgets ---------------------------------------------------------------

    def _elapsed(self) -> float:
        return self._elapsed_before + (time.monotonic() - self._started)

    def _out_of_budget(self, generation: int) -> str:
        c = self.config
        if self.stop_requested:
            return "stop requested"
        exhausted = getattr(self.proposer, "budget_exhausted", "")
        if exhausted:
            return str(exhausted)
        if c.generations is not None and generation >= c.generations:
            return f"generation budget ({c.generations})"
        if c.max_candidates is not None and self.progress.proposed >= c.max_candidates:
            return f"candidate budget ({c.max_candidates})"
        if c.time_limit is not None and self._elapsed() >= c.time_limit:
            return f"time budget ({c.time_limit:g} s)"
        return ""

    # -- proposing -------------------------------------------------------------

    async def _propose(self, generation: int, population: Population) -> list[tuple[int, Proposal]]:
        """All islands' proposals for ``generation``, drawn from ``population`` as it is now."""
        c = self.config
        requests = []
        tried = population.keys() | frozenset(self._keys_in_flight)
        for island in range(c.islands):
            rng = np.random.default_rng([c.seed, generation, island, 7])
            chosen = population.select_parents(island=island, count=2, rng=rng)
            parents = tuple(as_parent(m, self._notes.get(m.id)) for m in chosen)
            requests.append(
                ProposalRequest(
                    brief=self.brief,
                    parents=parents,
                    count=c.proposals_per_island * self.width,
                    generation=generation,
                    island=island,
                    seed=c.seed,
                    failures=tuple(self._failures[-8:]),
                    tried=tried,
                )
            )
        batches = await asyncio.gather(*(self.proposer.propose(r) for r in requests))
        return [(r.island, p) for r, batch in zip(requests, batches, strict=True) for p in batch]

    def _record_proposals(
        self, generation: int, proposals: Sequence[tuple[int, Proposal]], population: Population
    ) -> Batch:
        """Parse, dedupe and store one generation's proposals (caller holds a transaction)."""
        batch = Batch(generation=generation)
        for island, proposal in proposals:
            if (
                self.config.max_candidates is not None
                and self.progress.proposed >= self.config.max_candidates
            ):
                break
            self.progress.proposed += 1
            common: dict[str, Any] = dict(
                text=proposal.text,
                generation=generation,
                island=island,
                parents=proposal.parents,
                proposer=proposal.proposer,
                operator=proposal.operator,
                rationale=proposal.rationale,
            )
            try:
                law = parse_for_task(proposal.text, self.task, max_params=self.config.max_params)
            except ParseError as exc:
                self.store.add_candidate(**common, status="rejected", reason=str(exc))
                self._failures.append((proposal.text, str(exc)))
                self.progress.rejected += 1
                continue
            shape: dict[str, Any] = dict(
                key=law.key, complexity=law.complexity, n_params=len(law.parameters)
            )
            earlier = self._keys_in_flight.get(law.key)
            if earlier is not None or population.knows(law.key):
                reason = (
                    f"same law as candidate #{earlier}"
                    if earlier
                    else "same law as a fitted candidate"
                )
                self.store.add_candidate(**common, **shape, status="duplicate", reason=reason)
                self.progress.duplicates += 1
                continue
            cid = self.store.add_candidate(**common, **shape, status="proposed")
            self._keys_in_flight[law.key] = cid
            batch.to_fit.append((self.store.candidate(cid), law))
        return batch

    # -- fitting ---------------------------------------------------------------

    def _record(
        self, row: CandidateRow, report: ScoreReport, *, extra: dict[str, Any] | None = None
    ) -> Member:
        """Write one candidate's fit and validation score (plus ``extra`` report keys) in one
        transaction."""
        error, r2, nmse, nmae = validation_error(report)
        stored = {**report.model_dump(mode="json", exclude={"fit"}), **(extra or {})}
        self._notes[row.id] = proposer_notes(stored, row)
        self.store.record_fit_and_score(
            row.id,
            report.fit.model_dump(mode="json"),
            train_loss=report.fit.train_loss,
            ok=report.fit.ok and report.metrics is not None,
            seconds=report.seconds["total"],
            reason=report.reason,
            r2=r2,
            nmse=nmse,
            nmae=nmae,
            error=error,
            report=stored,
        )
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
        )
        with self.store.transaction():
            return [
                self._record(row, report, extra=extra)
                for (row, _), report, extra in zip(chunk, reports, extras, strict=True)
            ]

    def _screen(self, batch: Batch) -> list[Member]:
        """Screen the generation's candidates (:func:`screen`); record the screened-out ones,
        keep the promoted.

        One transaction writes every screened-out candidate and the ``screened`` state, so
        a kill leaves either no screen on record (it is redone, with the same outcome) or
        all of it. ``batch.to_fit`` keeps only the promoted candidates, in order.
        """
        if self.store.get_state(SCREENED) == batch.generation:
            return []
        laws = [law for _, law in batch.to_fit]
        share = self.config.screen_share / self.width
        outcome = screen(laws, self.task, seed=self.config.seed, share=share)
        if outcome is None:
            return []
        out: list[Member] = []
        with self.store.transaction():
            for i in outcome.dropped:
                row = batch.to_fit[i][0]
                self.store.record_fit_and_score(row.id, **outcome.record(i))
                self._screened_out.add(row.id)
                out.append(member_of(row, r2=math.nan, error=math.inf))
            self.store.set_state(SCREENED, batch.generation)
        self.progress.screened += len(laws)
        batch.to_fit = [batch.to_fit[i] for i in outcome.promoted]
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
        """Out of time, or asked to stop."""
        if self.config.time_limit is not None and self._elapsed() >= self.config.time_limit:
            return True
        return self.stop_requested

    def _note_best(self, member: Member) -> None:
        if math.isfinite(member.r2) and not (member.r2 <= self.progress.best_r2):
            self.progress.best_r2 = member.r2
            self.progress.best_law = member.text

    # -- the loop --------------------------------------------------------------

    def _checkpoint(
        self,
        generation: int,
        population: Population,
        next_generation: int,
        next_proposals: Sequence[tuple[int, Proposal]],
    ) -> Batch:
        with self.store.transaction():
            self.store.set_state("population", population.snapshot())
            self.store.set_state(LIVE_POPULATION, None)
            self.store.set_state("generation", generation)
            self.store.set_state("elapsed", self._elapsed())
            batch = self._record_proposals(next_generation, next_proposals, population)
            self.store.set_state("progress", self._progress_state())
            self.store.add_event(
                "generation",
                generation=generation,
                payload={"best_r2": self.progress.best_r2, "fitted": self.progress.fitted},
            )
        return batch

    def _progress_state(self) -> dict[str, Any]:
        p = self.progress
        return {
            "proposed": p.proposed,
            "fitted": p.fitted,
            "screened": p.screened,
            "width": p.width,
            "rejected": p.rejected,
            "duplicates": p.duplicates,
        }

    def _resume_state(self) -> tuple[Population, int, Batch | None]:
        """Population and next generation from the last checkpoint, plus its stored batch."""
        state = resume(self.store, task=self.task, config=self.config)
        for name, value in state.counts.items():
            setattr(self.progress, name, value)
        self._screened_out = set(state.screened_out)
        for m in state.population.members():
            self._note_best(m)
        self._notes.update(state.notes)
        self._keys_in_flight.update(state.keys_in_flight)
        return state.population, state.generation, state.batch

    async def run(self) -> Progress:
        """Evolve until a budget runs out; returns the final progress counters."""
        self._started = time.monotonic()
        population, generation, batch = self._resume_state()
        resumed = batch is not None or generation > 0
        if resumed:
            self.store.add_event("resumed", generation=generation)
        if batch is None:
            proposals = await self._propose(generation, population)
            batch = self._checkpoint(generation - 1, population, generation, proposals)
        while True:
            self.progress.generation = generation
            reason = self._out_of_budget(generation)
            if reason:
                break
            fitting = asyncio.to_thread(self._fit_batch, batch, population)
            proposing = self._propose(generation + 1, population)
            (members, complete), proposals = await asyncio.gather(fitting, proposing)
            finished = sorted([*batch.done, *members], key=lambda m: m.id)  # candidate order
            if not complete:  # ran out of time or stopped mid-batch
                for m in finished:
                    self._promote(population, m)
                reason = self._out_of_budget(generation) or "stop requested"
                with self.store.transaction():
                    # the laws fitted so far compete for the report even when no generation
                    # finished (a slow task); resume starts from the checkpoint's population,
                    # so proposals stay a function of the seed
                    self.store.set_state(LIVE_POPULATION, population.snapshot())
                    self.store.set_state("elapsed", self._elapsed())
                    self.store.set_state("progress", self._progress_state())
                break
            for m in finished:
                self._promote(population, m)
            for member_id, source, target in population.migrate(
                generation=generation, rng=np.random.default_rng([self.config.seed, generation, 11])
            ):
                self.store.add_event(
                    "migrated",
                    generation=generation,
                    candidate_id=member_id,
                    payload={"from": source, "to": target},
                )
            self._keys_in_flight = {
                k: v for k, v in self._keys_in_flight.items() if not population.knows(k)
            }
            alive = {m.id for m in population.members()}
            self._notes = {i: n for i, n in self._notes.items() if i in alive}
            batch = self._checkpoint(generation, population, generation + 1, proposals)
            generation += 1
        self.progress.stopped_by = reason
        self.progress.elapsed = self._elapsed()
        self.store.add_event("stopped", generation=generation, payload={"reason": reason})
        return self.progress

    def _promote(self, population: Population, member: Member) -> None:
        if not member.key:
            return
        if population.add(member):
            self.store.add_event(
                "promoted",
                generation=member.generation,
                candidate_id=member.id,
                payload={"island": member.island, "error": member.error},
            )
        elif member.failed and member.id not in self._screened_out:
            self._failures.append((member.text, "could not be fitted or scored"))
