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
:mod:`sld.evolve._fidelity`; the engine's fitting methods are in :mod:`sld.evolve._fitting`).

Protocol integrity. The engine only ever calls :func:`sld.scoring.selection_scores`
(each selection fold: fit below a cutoff of the training rows, score the band above;
checks on training inputs); it never touches
``task.heldout()``. Held-out scores are the reporting path's business
(:mod:`sld.report`), after selection.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sld.config import RunConfig
from sld.corpus import Task
from sld.errors import ParseError
from sld.evolve._fidelity import CONFIRMED_KEY as CONFIRMED_KEY
from sld.evolve._fidelity import SCREEN_KEY as SCREEN_KEY
from sld.evolve._fidelity import SCREENED as SCREENED
from sld.evolve._fidelity import generation_width
from sld.evolve._fitting import Fitting
from sld.evolve._fitting import Progress as Progress
from sld.evolve._members import (
    as_parent,
)
from sld.evolve._resume import Batch, resume
from sld.evolve._resume import member_from_fitted as member_from_fitted
from sld.evolve.population import Member, Population
from sld.evolve.start import start_proposals
from sld.proposer import Proposal, ProposalRequest, Proposer, task_brief
from sld.scoring import parse_for_task
from sld.store import RunStore

LIVE_POPULATION = "population_live"  # state key: the population at a mid-generation stop


class Engine(Fitting):
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

    def _out_of_budget(self, generation: int, *, waiting: bool = False) -> str:
        """Why the run ends before fitting ``generation`` ("" to go on); ``waiting``: that
        generation has candidates to fit, and the time budget lets the first of them be fitted
        when no law has been yet (:meth:`_owed`)."""
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
        if self._out_of_time() and not (waiting and self._owed()):
            return f"time budget ({c.time_limit:g} s)"
        return ""

    # -- proposing -------------------------------------------------------------

    async def _propose(self, generation: int, population: Population) -> list[tuple[int, Proposal]]:
        """All islands' proposals for ``generation``, drawn from ``population`` as it is now;
        generation 0 opens with the config's start laws (:mod:`sld.evolve.start`)."""
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
        given = start_proposals(c.start_laws, islands=c.islands) if generation == 0 else []
        return given + [
            (r.island, p) for r, batch in zip(requests, batches, strict=True) for p in batch
        ]

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
        """Evolve until a budget runs out; returns the final progress counters. A proposer
        with an ``aclose`` coroutine (one that works in the background) is closed at the end."""
        try:
            return await self._evolve()
        finally:
            close = getattr(self.proposer, "aclose", None)
            if close is not None:
                await close()

    async def _evolve(self) -> Progress:
        self._started = time.monotonic()
        population, generation, batch = self._resume_state()
        resumed = batch is not None or generation > 0
        if resumed:
            self.store.add_event("resumed", generation=generation)
        if batch is None:
            first = await self._propose(generation, population)
            batch = self._checkpoint(generation - 1, population, generation, first)
        while True:
            self.progress.generation = generation
            reason = self._out_of_budget(generation, waiting=bool(batch.to_fit))
            if reason:
                break
            proposing = asyncio.ensure_future(self._propose(generation + 1, population))
            try:
                members, complete = await asyncio.to_thread(self._fit_batch, batch, population)
            except BaseException:
                await _cancelled(proposing)
                raise
            proposals = await self._next_proposals(proposing) if complete else None
            if proposals is None:  # the run ends here: the next generation is not needed
                complete = False
                await _cancelled(proposing)
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
            assert proposals is not None
            batch = self._checkpoint(generation, population, generation + 1, proposals)
            generation += 1
        self.progress.stopped_by = reason
        self.progress.elapsed = self._elapsed()
        self.store.add_event("stopped", generation=generation, payload={"reason": reason})
        return self.progress

    async def _next_proposals(
        self, proposing: asyncio.Future[list[tuple[int, Proposal]]]
    ) -> list[tuple[int, Proposal]] | None:
        """The next generation's proposals once ``proposing`` has them, or None when the run
        must end first: asked to stop, or out of time (:meth:`_interrupted`) while a slow
        proposer (an LLM) is still answering. The finished generation's fits are stored, so
        a resumed run reuses them and proposes the next generation again."""
        while not proposing.done():
            if self._interrupted():
                return None
            await asyncio.wait({proposing}, timeout=0.2)
        return proposing.result()

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


async def _cancelled(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait until it has ended; what it raised or returned is dropped
    (a resumed run proposes that generation again, from the same checkpoint and seed)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
