"""The mixed proposer: the LLM asked in the background, the offline proposer for every
generation; see :class:`MixedProposer`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from sld.llm._ledger import Ledger
from sld.llm._proposer import LlmProposer
from sld.proposer import Proposal, ProposalRequest, Proposer
from sld.store import RunReader

HARVEST = "llm_harvest"  # event: an LLM answer joined a generation (payload: island, launched)


class MixedProposer:
    """Asks the LLM for a share ``ratio`` of island-generations, the offline proposer for all;
    the search never waits for the LLM.

    Per island, at most one LLM request is in flight. A request of generation g for island i:

    1. *harvest*: if island i's request in flight has answered, its laws join generation g;
    2. *launch*: if (g, i) is drawn for the LLM (:meth:`uses_llm`, from the request's seed)
       and island i has nothing in flight, the LLM is asked in the background, with g's
       parents;
    3. the offline proposer fills generation g up to ``request.count``.

    So a slow model (a local one on a laptop's cores: a minute or two per answer) adds its
    laws as they come, and the search runs at the offline proposer's pace meanwhile; a model
    faster than a generation joins one generation after it was asked. Whether an answer had
    come by a generation depends on time: each harvest is recorded (event ``llm_harvest``),
    and a replay (``schedule``: the (generation, island) pairs of the recorded harvests)
    harvests exactly there, waiting for its instant answers, so a run replays exactly.
    ``blocking`` waits for each LLM request in place instead (runs recorded before
    harvests were; they replay that way). Totals and budgets are the LLM proposer's;
    :meth:`aclose` cancels what is still in flight when the run ends, and a resumed run
    starts with nothing in flight.
    """

    name = "mixed"

    def __init__(
        self,
        llm: LlmProposer,
        offline: Proposer,
        *,
        ratio: float,
        schedule: frozenset[tuple[int, int]] | None = None,
        blocking: bool = False,
    ) -> None:
        self.llm = llm
        self.offline = offline
        self.ratio = ratio
        self.schedule = schedule
        self.blocking = blocking
        self._flights: dict[int, tuple[int, asyncio.Task[list[Proposal]]]] = {}

    @property
    def ledger(self) -> Ledger:
        return self.llm.ledger

    @property
    def budget_exhausted(self) -> str:
        return self.llm.budget_exhausted

    def uses_llm(self, request: ProposalRequest) -> bool:
        """Whether ``request`` is drawn for the LLM (deterministic in the request)."""
        draw = np.random.default_rng([request.seed, request.generation, request.island, 29])
        return bool(draw.random() < self.ratio)

    async def propose(self, request: ProposalRequest) -> list[Proposal]:
        if self.blocking:
            if self.uses_llm(request):
                return await self.llm.propose(request)
            return await self.offline.propose(request)
        laws = await self._harvest(request)
        if request.island not in self._flights and self.uses_llm(request):
            task = asyncio.ensure_future(self.llm.propose(request))
            self._flights[request.island] = (request.generation, task)
        if len(laws) < request.count:
            offline = await self.offline.propose(request)
            laws += offline[: request.count - len(laws)]
        return laws

    async def _harvest(self, request: ProposalRequest) -> list[Proposal]:
        """The laws of island ``request.island``'s answered request, if it is harvested now."""
        flight = self._flights.get(request.island)
        if flight is None:
            return []
        launched, task = flight
        if self.schedule is not None:
            if (request.generation, request.island) not in self.schedule:
                return []
            await asyncio.wait({task})
        elif not task.done():
            return []
        del self._flights[request.island]
        laws = [] if task.cancelled() or task.exception() is not None else list(task.result())
        if self.llm.store is not None:
            self.llm.store.add_event(
                HARVEST,
                generation=request.generation,
                payload={"island": request.island, "launched": launched, "laws": len(laws)},
            )
        return laws

    async def aclose(self) -> None:
        """Cancel the requests still in flight (their laws would come after the run)."""
        flights, self._flights = list(self._flights.values()), {}
        for _, task in flights:
            task.cancel()
        if flights:
            await asyncio.wait([task for _, task in flights])


def recorded_harvests(run_dir: str | Path) -> frozenset[tuple[int, int]] | None:
    """The (generation, island) pairs where the run in ``run_dir`` harvested an LLM answer
    (its ``llm_harvest`` events), or None when it recorded none although it called the LLM (a
    run from before harvests were recorded, whose mixed proposer waited for each answer)."""
    with RunReader.open(run_dir) as reader:
        rows = reader.events(kind=HARVEST)
        called = reader.summary().llm_calls > 0
    if not rows and called:
        return None
    return frozenset((int(r.generation or 0), int(r.payload["island"])) for r in rows)
