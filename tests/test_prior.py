"""The prior law: the pick pool's route for the best law proposed before any fold score."""

from __future__ import annotations

import dataclasses
import math

from test_selection import _sized  # a member of a given size and error
from test_support import TRUTH, _fitted, _sweep

from sld.corpus import load_task
from sld.evolve.pick import PRIOR_REASON, PickSettings, pick_law
from sld.evolve.pool import pick_pool, prior_law
from sld.evolve.population import Member, Population
from sld.scoring import parse_for_task, selection_scores

BRED = "loss = E + A/N**a + B/log(D)**2"  # a bred law one parameter smaller than TRUTH


def _bred(cid: int, text: str, *, params: int, error: float, generation: int = 3) -> Member:
    """A member the search bred in a later generation."""
    return dataclasses.replace(_sized(cid, text, params=params, error=error), generation=generation)


def test_the_prior_law_is_the_best_of_generation_0_neither_failed_nor_demoted():
    members = [
        _bred(1, "a", params=5, error=0.001),  # best of all, but bred
        _sized(2, "b", params=4, error=0.002, demoted=True),  # failed a check
        _sized(3, "c", params=3, error=math.inf),  # failed to fit
        _sized(4, "d", params=6, error=0.03),
        _sized(5, "e", params=5, error=0.03),
        _sized(6, "f", params=4, error=0.05),
    ]
    assert prior_law(members).id == 5  # ties: fewer parameters, then lower id
    assert prior_law(members, at_least=6).id == 4  # of the pool's size or more
    assert prior_law(members, at_least=7) is None
    assert prior_law(members[:3]) is None
    assert prior_law([]) is None


def test_the_pool_takes_the_prior_law_that_bred_laws_crowded_out_and_only_once():
    task = load_task(_sweep(), inputs=["N", "D"], outputs=["loss"], test="N >= 1e9")
    population = Population(islands=1)
    population.add(_bred(2, BRED, params=4, error=0.001))
    truth = _sized(1, TRUTH, params=5, error=0.01)
    walk = pick_pool(population, task, archive=[truth], candidates=1, simpler=False)
    assert [cid for cid, _ in walk] == [2]
    routed = pick_pool(population, task, archive=[truth], candidates=1, simpler=False, prior=True)
    assert [cid for cid, _ in routed] == [2, 1]
    held = pick_pool(population, task, archive=[truth], candidates=2, prior=True)
    assert [cid for cid, _ in held] == [2, 1]  # the walk brought it: not taken twice
    # a twin of a pool law (the same selection error) stays out, as on every route
    twin = _sized(3, TRUTH.replace("E +", "F +"), params=4, error=0.001)
    twinned = pick_pool(population, task, archive=[twin], candidates=1, simpler=False, prior=True)
    assert [cid for cid, _ in twinned] == [2]
    # a prior law smaller than every law the walk took is the simpler front's to judge
    small = _sized(4, "loss = E + A/N**a", params=3, error=0.01)
    alone = pick_pool(population, task, archive=[small], candidates=1, simpler=False, prior=True)
    assert [cid for cid, _ in alone] == [2]


def test_a_pick_that_takes_the_prior_law_says_how_it_came():
    task = load_task(_sweep(), inputs=["N", "D"], outputs=["loss"], test="N >= 1e9")
    laws = [parse_for_task(text, task) for text in (TRUTH, BRED)]
    reports = selection_scores(laws, task, seed=0, restarts=8)
    fitted = [_fitted(1, reports[0]), _fitted(2, reports[1], generation=4)]
    population = Population(islands=1)
    population.add(_bred(2, BRED, params=4, error=0.001, generation=4))  # ranked first
    population.add(_sized(1, TRUTH, params=5, error=0.002))
    settings = PickSettings(
        candidates=1, restarts=8, bootstrap=4, bootstrap_restarts=4, supported=False
    )
    routed = pick_law(population, task, settings, fitted=fitted)
    assert sorted(e.id for e in routed.entries) == [1, 2]
    assert routed.chosen == 1 and routed.reason.endswith(PRIOR_REASON)
    assert routed.routes == {1: "prior"}  # report.json and report.md name the route
    walked = pick_law(population, task, dataclasses.replace(settings, prior=False), fitted=fitted)
    assert walked.chosen == 2 and PRIOR_REASON not in walked.reason
    assert [e.id for e in walked.entries] == [2] and walked.routes == {}
