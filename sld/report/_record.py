"""One read of a run: its store snapshot, the population restored once, and the stored scores of
the laws a report shows (:func:`read_run`); the chosen law and the Pareto front as that read
sees them (:class:`RunRecord`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from sld.evolve.engine import LIVE_POPULATION, member_from_fitted
from sld.evolve.pick import PICK_STATE
from sld.evolve.population import Member, Population
from sld.evolve.start import NAME as START
from sld.scoring import PickReport
from sld.store import CandidateRow, FittedRow, RunReader, RunSnapshot


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A run as one read of its store sees it; the population restored from its checkpoint once.

    ``chosen`` is the final pick's law when the run has one (:mod:`sld.evolve.pick`), else
    the population's best by penalised selection error (no test data involved either
    way); ``front`` the Pareto front over (selection error, complexity); ``scored`` the
    stored fit and validation score of the chosen law, of every law the final pick ranked and
    of every start law, by candidate id; ``starts`` the start laws' candidates
    (:mod:`sld.evolve.start`), in order.
    """

    snapshot: RunSnapshot
    population: Population | None
    scored: Mapping[int, FittedRow] = dataclasses.field(default_factory=dict)
    starts: tuple[CandidateRow, ...] = ()

    @property
    def pick(self) -> PickReport | None:
        stored = self.snapshot.state.get(PICK_STATE)
        return PickReport.model_validate(stored) if stored else None

    @property
    def chosen(self) -> Member | None:
        if self.population is None:
            return None
        pick = self.pick
        if pick is not None and pick.chosen is not None:
            for member in self.population.members():
                if member.id == pick.chosen:
                    return member
            # the pick may choose a law the population no longer holds (see pick_pool)
            row = self.scored.get(pick.chosen)
            recovered = member_from_fitted(row) if row is not None else None
            if recovered is not None:
                return recovered
        return self.population.best()

    @property
    def front(self) -> list[Member]:
        return self.population.pareto_front() if self.population is not None else []

    def to_frame(self) -> pd.DataFrame:
        """The population, best first: one row per member (its fields: ``id``, ``text``,
        ``complexity``, ``n_params``, ``error`` = selection error, ``r2`` = validation R²,
        ``island``, ...), plus ``on_front`` (on the Pareto front) and ``chosen`` (the pick)."""
        members = self.population.members() if self.population is not None else []
        front = {m.id for m in self.front}
        chosen = self.chosen.id if self.chosen is not None else None
        rows = [
            {**dataclasses.asdict(m), "on_front": m.id in front, "chosen": m.id == chosen}
            for m in members
        ]
        columns = [f.name for f in dataclasses.fields(Member)] + ["on_front", "chosen"]
        return pd.DataFrame(rows, columns=columns)


def read_run(source: RunReader | str | Path, *, rows: bool = False) -> RunRecord:
    """One consistent read of a run, from an open reader or a run directory (opened read-only
    and closed again); ``rows`` adds every candidate and fit, for viewers."""
    if not isinstance(source, RunReader):
        with RunReader.open(source) as reader:
            return read_run(reader, rows=rows)
    snapshot = source.snapshot(rows=rows)
    stored = snapshot.state.get(LIVE_POPULATION) or snapshot.state.get("population")
    record = RunRecord(snapshot, Population.restore(stored) if stored is not None else None)
    pick = record.pick
    shown = [e.id for e in pick.entries] if pick is not None else []
    if pick is not None and pick.chosen is not None:
        shown.append(pick.chosen)
    if record.chosen is not None:
        shown.append(record.chosen.id)
    # with rows the snapshot holds every candidate already: no second read on the TUI's poll
    listed = snapshot.candidates if rows else source.candidates(proposer=START)
    starts = tuple(c for c in listed if c.proposer == START)
    shown += [c.id for c in starts]
    # a score is written once, so this second read agrees with the snapshot
    return dataclasses.replace(record, scored=source.scored(shown), starts=starts)
