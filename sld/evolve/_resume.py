"""Reading a run back from its store: the members its fits were, and what its last
checkpoint holds (population, counters, the generation still to fit).

A checkpoint (written by the engine at the end of generation g, in one transaction) holds
the population snapshot, ``generation = g``, the progress counters, and every proposal
of generation g+1 with its status. Fits written after it are reused: a resumed run only
fits the candidates still 'proposed', so no fit is lost or repeated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sld.config import RunConfig
from sld.corpus import Task
from sld.evolve._fidelity import SCREEN_KEY
from sld.evolve._members import is_demoted, member_of, proposer_notes
from sld.evolve.population import Member, Population
from sld.law import Law
from sld.scoring import parse_for_task
from sld.store import CandidateRow, FittedRow, RunStore


@dataclass
class Batch:
    """One generation's candidates: (candidate row, parsed law) still to fit, and
    already-fitted members."""

    generation: int
    to_fit: list[tuple[CandidateRow, Law]] = field(default_factory=list)
    done: list[Member] = field(default_factory=list)


def member_from_fitted(row: FittedRow) -> Member | None:
    """The member a stored, fully scored candidate was (None for a failed or screened-out one).

    What the search ranked it by: its selection error, fold 0's R², and whether it failed
    an extrapolation check; its home island is the one it was proposed on.
    """
    if not row.ok or not math.isfinite(row.error) or SCREEN_KEY in row.report:
        return None
    return member_of(row.candidate, r2=row.r2, error=row.error, demoted=is_demoted(row.report))


@dataclass(frozen=True)
class Resumed:
    """What a run's store says at its last checkpoint (see :func:`resume`).

    ``generation``: the next generation to fit; ``batch``: its stored candidates (None when
    it was never proposed); ``counts``: progress counters, ``fitted`` recounted from the
    stored fits; ``screened_out``: ids of screened-out candidates; ``notes``: what
    proposers are told about each population member and each fitted candidate of
    ``generation``; ``keys_in_flight``: canonical key -> id of ``generation``'s candidates.
    """

    population: Population
    generation: int
    batch: Batch | None
    counts: dict[str, int]
    screened_out: frozenset[int]
    notes: dict[int, dict[str, Any]]
    keys_in_flight: dict[str, int]


def resume(store: RunStore, *, task: Task, config: RunConfig) -> Resumed:
    """The state a run restarts from: its last checkpoint, plus the fits written after it
    (a fresh population from ``config`` when nothing was checkpointed)."""
    c = config
    snapshot = store.get_state("population")
    population = (
        Population.restore(snapshot)
        if snapshot is not None
        else Population(
            islands=c.islands,
            capacity=c.capacity,
            migration_interval=c.migration_interval,
            migrants=c.migrants,
            complexity_weight=c.complexity_weight,
            param_weight=c.param_weight,
        )
    )
    generation = int(store.get_state("generation", -1)) + 1
    counts = {name: int(value) for name, value in (store.get_state("progress") or {}).items()}
    every = store.fitted()
    screened_out = frozenset(f.candidate.id for f in every if SCREEN_KEY in f.report)
    counts["fitted"] = len(every) - len(screened_out)
    members = {m.id for m in population.members()}
    notes = {
        f.candidate.id: proposer_notes(f.report, f.candidate)
        for f in every
        if f.candidate.id in members or f.candidate.generation == generation
    }
    stored = [r for r in store.candidates() if r.generation == generation]
    fitted = {f.candidate.id: f for f in every if f.candidate.generation == generation}
    batch = _pending(stored, fitted, generation=generation, task=task, config=c)
    return Resumed(
        population=population,
        generation=generation,
        batch=batch,
        counts=counts,
        screened_out=screened_out,
        notes=notes,
        keys_in_flight={row.key: row.id for row in stored if row.key},
    )


def _pending(
    stored: list[CandidateRow],
    fitted: dict[int, FittedRow],
    *,
    generation: int,
    task: Task,
    config: RunConfig,
) -> Batch | None:
    """Generation ``generation``'s stored candidates as a batch: fitted and failed ones done,
    'proposed' ones (parsed again) still to fit; None when none was stored."""
    if not stored:
        return None
    batch = Batch(generation=generation)
    for row in stored:
        if row.id in fitted:
            f = fitted[row.id]
            batch.done.append(member_of(row, r2=f.r2, error=f.error, demoted=is_demoted(f.report)))
        elif row.status == "failed":
            batch.done.append(member_of(row, r2=math.nan, error=math.inf))
        elif row.status == "proposed":
            law = parse_for_task(row.text, task, max_params=config.max_params)
            batch.to_fit.append((row, law))
    return batch
