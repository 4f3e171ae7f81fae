"""The final pick's pool: which of a run's laws the pick judges.

Which laws (:func:`pick_pool`): the best by search fitness among the population and
every other fully scored candidate of the run (``archive``), at most ``per_shape`` of
one shape (:attr:`sld.law.Law.shape`: the top three levels of the tree), and one of a
set of *fit twins* (:func:`sld.evolve.population.twins`: one law written several ways,
``A*N**a`` and ``A/N**a`` or ``exp(a*log(N))``, fitted to the same optimum). A converged
population is often one form in many near-variants or spellings; they extrapolate
alike, so ten of them put one bet ten times, and the bootstrap then chooses among
copies. Capping each lets the best of the other forms the run found compete on the
same terms.

The pool then takes the *simpler front* (:func:`simpler_front`): for each parameter count
below the pool's largest, the law with the lowest selection error at that count, when it
beats every law with fewer parameters and is no worse than a law the pool already took.
The pick prefers the fewest parameters among laws it cannot tell from its leader (step 5
of :mod:`sld.scoring._pick`), so a simpler law that the search ranked just below the top
ten (its one cheap fit a little worse, or its shape already taken twice) must be in the
pool to be preferred; one worse than every law there could never be plausible.

With ``supported``, the pool last takes the *best-supported* law (:func:`supported_law`): the
fully scored law, not demoted by a check, with the lowest information criterion of its fold-0
fit (:func:`sld.scoring.information_criterion`: the fit rows only, each parameter paid for
by the fit it buys). The search ranks by the fold bands alone; where they are few rows of one
fold, thousands of laws compared on them turn up some whose extra term bends toward those
rows, and the law the fit rows support best can rank hundreds below them and never reach the
pool (``bench/selection_sweep.md``, "The best-supported law in the pool"). In the pool it is
judged as every other law is: the pick may still pass it over.

With ``prior``, the pool then takes the *prior law* (:func:`prior_law`): of the fully scored
laws of generation 0 with at least as many parameters as the fewest the walk took, the one
with the lowest selection error, not demoted by a check. Generation 0 is proposed before the
search has seen any fold score (the offline families' seeds and their first mutations, a
user's start laws, an LLM's first proposals), so its best law was chosen among a few dozen,
not bred among thousands on the same fold bands, and its fold error is not flattered by that
choice. Where the bands are few, the bred laws fill the pool and the plain forms never reach
it. The route offers a law of the pool's own size whose structure the search did not breed;
a smaller law is the simpler front's to admit, by its error, or the pick's fewest-parameter
step would take it past that condition (``bench/selection_sweep.md``, "The prior law in the
pool").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from sld.corpus import Task
from sld.errors import ParseError
from sld.evolve._resume import member_from_fitted
from sld.evolve.population import Member, Population, twins
from sld.law import Law
from sld.scoring import information_criterion, parse_for_task
from sld.store import FittedRow


def pick_pool(
    population: Population,
    task: Task,
    *,
    archive: Sequence[Member] = (),
    candidates: int = 10,
    per_shape: int = 2,
    max_params: int | None = None,
    simpler: bool = True,
    support: Mapping[int, float] | None = None,
    prior: bool = False,
) -> list[tuple[int, Law]]:
    """(id, law) of up to ``candidates`` laws for the final pick, best search fitness first,
    then (with ``simpler``) the laws of the :func:`simpler_front` the walk left out, then
    (with ``support``, candidate id → information criterion) the :func:`supported_law`
    when the pool does not hold it or a fit twin of it, then (with ``prior``) the
    :func:`prior_law` on the same terms.

    The pool is the population's members and the ``archive`` members not in it, ranked
    as the population ranks (fitness, then complexity, then id); walking that order, a
    law joins unless ``per_shape`` laws of its shape already have, or one of its fit twins
    (:func:`twins`) already has. Failed members, and stored laws the task no longer
    parses, are skipped.
    """
    pool, _ = pool_and_routes(
        population,
        task,
        archive=archive,
        candidates=candidates,
        per_shape=per_shape,
        max_params=max_params,
        simpler=simpler,
        support=support,
        prior=prior,
    )
    return pool


def pool_and_routes(
    population: Population,
    task: Task,
    *,
    archive: Sequence[Member],
    candidates: int,
    per_shape: int,
    max_params: int | None,
    simpler: bool,
    support: Mapping[int, float] | None,
    prior: bool = False,
) -> tuple[list[tuple[int, Law]], dict[int, str]]:
    """:func:`pick_pool`'s pool, and the route that brought each law the routes added
    (id → "supported" or "prior"; a law the walk, the simpler front or an earlier route
    already brought, or a twin of one, is not there)."""
    members = {m.id: m for m in archive if not m.failed}
    members.update((m.id, m) for m in population.members() if not m.failed)
    ranked = sorted(members.values(), key=lambda m: (population.fitness(m), m.complexity, m.id))
    pool: list[tuple[int, Law]] = []
    taken: dict[str, int] = {}
    admitted: list[Member] = []
    for member in ranked:
        if len(pool) >= candidates:
            break
        if any(twins(member, other) for other in admitted):
            continue  # before parsing: a converged run has many twins, and the test is free
        try:
            law = parse_for_task(member.text, task, max_params=max_params)
        except ParseError:
            continue
        if taken.get(law.shape, 0) >= per_shape:
            continue
        taken[law.shape] = taken.get(law.shape, 0) + 1
        admitted.append(member)
        pool.append((member.id, law))
    if not admitted:
        return pool, {}
    extra = simpler_front(ranked, below=admitted) if simpler else []
    fewest = min(m.n_params for m in admitted)  # the prior law is of the walk's size or more
    offers: list[tuple[Member | None, str]] = [(m, "") for m in extra]  # "": the front
    offers.append((supported_law(ranked, support) if support else None, "supported"))
    offers.append((prior_law(ranked, at_least=fewest) if prior else None, "prior"))
    brought: dict[int, str] = {}
    for offer, name in offers:
        if offer is None:
            continue
        if offer.id in {m.id for m in admitted} or any(twins(offer, o) for o in admitted):
            continue  # the walk, the simpler front or an earlier route brought it (or a twin)
        try:
            law = parse_for_task(offer.text, task, max_params=max_params)
        except ParseError:
            continue
        admitted.append(offer)
        pool.append((offer.id, law))
        if name:
            brought[offer.id] = name
    return pool, brought


def supported_law(members: Sequence[Member], support: Mapping[int, float]) -> Member | None:
    """The member of ``members`` with the lowest finite ``support`` (candidate id →
    information criterion), neither failed nor demoted by a check (ties: fewer parameters,
    then lower id); None when there is none."""
    scored = [
        m
        for m in members
        if not m.failed and not m.demoted and math.isfinite(support.get(m.id, math.inf))
    ]
    return min(scored, key=lambda m: (support[m.id], m.n_params, m.id), default=None)


def prior_law(members: Sequence[Member], *, at_least: int = 0) -> Member | None:
    """The member of ``members`` from generation 0 with the lowest selection error among
    those with at least ``at_least`` parameters, neither failed nor demoted by a check
    (ties: fewer parameters, then lower id); None when there is none."""
    first = [
        m
        for m in members
        if m.generation == 0 and m.n_params >= at_least and not m.failed and not m.demoted
    ]
    return min(first, key=lambda m: (m.error, m.n_params, m.id), default=None)


def fit_support(fitted: Sequence[FittedRow], task: Task) -> dict[int, float]:
    """Candidate id → the information criterion of its stored fold-0 fit
    (:func:`sld.scoring.information_criterion`), for every fully scored law in ``fitted``.

    The search fits fold 0 on ``task.folds()[0]``'s fit rows, so every law here was fitted
    on the same values and the criteria compare.
    """
    rows = task.folds()[0].fit
    outputs = len(rows.outputs)
    values = {g: len(x) * outputs for g, x in zip(rows.groups, rows.X, strict=True)}
    out = {}
    for record in fitted:
        member = member_from_fitted(record)
        if member is None:
            continue
        losses = record.fit.get("group_loss") or {}
        out[member.id] = information_criterion(losses, values=values, n_params=member.n_params)
    return out


def simpler_front(members: Sequence[Member], *, below: Sequence[Member]) -> list[Member]:
    """The laws of ``members`` that a simpler pick could be, fewest parameters first.

    Per parameter count, the member with the lowest selection error (ties: fewer nodes,
    then lower id); of those, each whose error is below that of every member with fewer
    parameters (the Pareto front of error against parameters), that has fewer parameters
    than the most in ``below`` (the pool so far) and an error no larger than the largest
    there, and that is neither in ``below`` nor demoted by an extrapolation check.
    No threshold: the pool's own laws bound the front from both sides.
    """
    if not below:
        return []
    most = max(m.n_params for m in below)
    worst = max(m.error for m in below)
    taken = {m.id for m in below}
    best: dict[int, Member] = {}
    for m in members:
        if m.failed or m.demoted:
            continue
        held = best.get(m.n_params)
        if held is None or (m.error, m.complexity, m.id) < (held.error, held.complexity, held.id):
            best[m.n_params] = m
    front, floor = [], math.inf
    for count in sorted(best):
        m = best[count]
        if m.error >= floor:
            continue
        floor = m.error
        if count < most and m.error <= worst and m.id not in taken:
            front.append(m)
    return front
