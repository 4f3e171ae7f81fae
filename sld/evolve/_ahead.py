"""Working one generation ahead: generation g+1's screen and its promoted laws' selection fits
run while g's full fits and confirmations do.

Why. A generation's full fits run in chunks of a few laws on a pool of one thread per core,
and each chunk ends with one thread idle while the other finishes its last law; its
confirmations (one to three laws) leave the same gap. Generation g+1's proposals are ready
by then (they are drawn while g is fitted), and its screen is one batched fit of many laws,
so its runs fill those gaps (README, "Speed").

Why it changes no result. The screen ranks a generation's laws among themselves: it is a
pure function of the laws, in order, the task and the seed (:func:`sld.evolve._fidelity.screen`);
a chunk's selection fit (:func:`sld.scoring.selection_scores`) is a pure function of its
laws, in order, the task, the seed and the restarts. Only confirmation needs the
population as g ended, so it is not done ahead. :func:`work_ahead` predicts the laws the
checkpoint will record for g+1 (every proposal parsed, start laws and duplicates of known
or earlier keys left out, as ``Engine._record_proposals`` does), screens them, and fits the
promoted in the chunks the engine will cut; :func:`take` and :func:`take_chunk` hand those
to g+1 only when the laws are the same, key for key, in order, else the work is done then
as before. Nothing of it is stored until g+1 records it, in the engine's own
transactions, so a killed run redoes it from the checkpoint with the same outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field

from sld.corpus import Task
from sld.errors import ParseError, SldError
from sld.evolve._fidelity import Screen, screen
from sld.evolve.start import NAME as START
from sld.law import Law
from sld.proposer import Proposal
from sld.scoring import ScoreReport, parse_for_task, selection_scores


@dataclass(frozen=True)
class Ahead:
    """Generation ``generation``'s work, done before its proposals were recorded: ``keys``
    the canonical keys of the laws screened, in order; ``outcome`` what
    :func:`sld.evolve._fidelity.screen` returned for them (None: nothing screened);
    ``chunks`` each chunk's selection scores (or the :class:`SldError` the fitter refused
    the chunk with), by the chunk's keys in order: the first chunks of the promoted laws,
    as many as were fitted before the work was called off."""

    generation: int
    keys: tuple[str, ...]
    outcome: Screen | None
    chunks: dict[tuple[str, ...], list[ScoreReport] | SldError] = field(default_factory=dict)


def parse_all(
    proposals: Sequence[tuple[int, Proposal]], *, task: Task, max_params: int | None
) -> dict[str, Law | ParseError]:
    """Each proposal's text -> its law for ``task``, or the :class:`ParseError` it raised."""
    parsed: dict[str, Law | ParseError] = {}
    for _, proposal in proposals:
        if proposal.text not in parsed:
            try:
                parsed[proposal.text] = parse_for_task(proposal.text, task, max_params=max_params)
            except ParseError as exc:
                parsed[proposal.text] = exc
    return parsed


def screened_laws(
    proposals: Sequence[tuple[int, Proposal]],
    *,
    parsed: Mapping[str, Law | ParseError],
    known: Set[str],
) -> list[Law]:
    """The laws a generation's screen will get from ``proposals`` (``parsed``: each text's
    law, :func:`parse_all`), in order: each one that parses, is not a start law, and whose
    key is neither in ``known`` (the population's and the in-flight keys) nor an earlier
    proposal's."""
    seen = set(known)
    laws = []
    for _, proposal in proposals:
        law = parsed[proposal.text]
        if isinstance(law, ParseError) or law.key in seen:
            continue
        seen.add(law.key)
        if proposal.proposer != START:
            laws.append(law)
    return laws


def work_ahead(
    laws: Sequence[Law],
    *,
    generation: int,
    task: Task,
    seed: int,
    share: float,
    restarts: int,
    chunk: int,
    go: Callable[[], bool],
) -> Ahead:
    """Screen generation ``generation``'s ``laws`` (:func:`screened_laws`) at ``share``, then
    fit the promoted in chunks of ``chunk`` at ``seed`` and ``restarts``, as the engine
    would; ``go()`` is asked before each chunk, and the work ends when it says no."""
    outcome = screen(laws, task, seed=seed, share=share)
    ahead = Ahead(generation=generation, keys=tuple(law.key for law in laws), outcome=outcome)
    promoted = [laws[i] for i in outcome.promoted] if outcome is not None else list(laws)
    for start in range(0, len(promoted), chunk):
        if not go():
            break
        part = promoted[start : start + chunk]
        found: list[ScoreReport] | SldError
        try:
            found = selection_scores(part, task, seed=seed, restarts=restarts)
        except SldError as exc:
            found = exc
        ahead.chunks[tuple(law.key for law in part)] = found
    return ahead


def take(
    ahead: Ahead | None, *, generation: int, laws: Sequence[Law]
) -> tuple[bool, Screen | None]:
    """``(True, outcome)`` when ``ahead`` screened exactly ``laws`` (by key, in order) for
    ``generation``; ``(False, None)`` otherwise, and the screen must be run."""
    if ahead is None or ahead.generation != generation:
        return False, None
    if ahead.keys != tuple(law.key for law in laws):
        return False, None
    return True, ahead.outcome


def take_chunk(ahead: Ahead | None, laws: Sequence[Law]) -> list[ScoreReport] | SldError | None:
    """The selection scores ``ahead`` fitted for exactly this chunk of ``laws`` (or the error
    the fitter refused it with); None when it did not fit this chunk."""
    if ahead is None:
        return None
    return ahead.chunks.get(tuple(law.key for law in laws))
