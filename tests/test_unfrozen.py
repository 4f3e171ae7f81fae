"""Unfrozen variants: a law's frozen terms fitted, and the pick judging the variant in its place."""

from __future__ import annotations

import math

from test_selection import _csv, _sized, _task

from sld.config import RunConfig, TaskSpec
from sld.corpus import load_task
from sld.evolve.pick import PICK_STATE, PickSettings, confirmed_reports, pick_law
from sld.evolve.population import Population
from sld.evolve.unfrozen import (
    PROPOSER,
    UNFROZEN_IDS,
    store_variant,
    unfrozen_law,
    unfrozen_pool,
    within_limit,
)
from sld.report import read_run
from sld.scoring import PickReport, final_pick, parse_for_task, selection_scores
from sld.store import RunStore

FROZEN = "E + A/N**a + B/U**b + 3/log(D)"  # data_constrained, with a frozen term in D
PLAIN = "E + A/N**a + B/U**b"
SETTINGS = PickSettings(seed=4, candidates=4, restarts=4, bootstrap=2, bootstrap_restarts=2)


def test_the_variant_fits_what_the_search_fixed_and_keeps_the_task_limit():
    task = load_task("overtraining_scaling_law")  # at most 4 parameters
    law = parse_for_task("loss = E + A/N**a + 93/log(D)", task)
    variant = unfrozen_law(law, task)
    assert variant is not None and variant.frozen_terms == 0
    assert variant.parameters == ("E", "A", "a", "F")
    assert variant.text == "loss = E + A/params**a + F/log(tokens)"
    # one more parameter would break the limit: no variant, the law keeps its frozen term
    assert (
        unfrozen_law(parse_for_task("loss = E + A/N**a + B/D**a + 93/log(D)", task), task) is None
    )
    assert (
        unfrozen_law(parse_for_task("loss = E + A/N**a + 93/log(D)", task), task, max_params=3)
        is None
    )
    assert unfrozen_law(parse_for_task("loss = E + A/N**a + B/D**a", task), task) is None
    # a new name never takes one the law, an input, an alias or an output already holds
    taken = parse_for_task("loss = F + G*N**a + 2/log(D)", task)
    assert unfrozen_law(taken, task).parameters == ("F", "G", "a", "H")


def test_the_pool_judges_the_variant_in_the_frozen_laws_place(tmp_path):
    task = _task(_csv(tmp_path, perturb=False))
    population = Population(islands=1)
    population.add(_sized(1, FROZEN, params=5, error=0.01))
    population.add(_sized(2, PLAIN, params=5, error=0.02))
    variant = unfrozen_law(parse_for_task(FROZEN, task), task)
    assert variant is not None
    on = pick_law(population, task, SETTINGS)
    off = pick_law(population, task, PickSettings(**{**SETTINGS.__dict__, "unfreeze": False}))
    assert sorted(e.id for e in off.entries) == [1, 2]
    assert sorted(e.id for e in on.entries) == [2, UNFROZEN_IDS + 1]
    entry = {e.id: e for e in on.entries}
    assert entry[UNFROZEN_IDS + 1].law == variant.text
    # its scores are the ones the pick would have given the variant on its own
    alone = final_pick([(7, variant)], task, seed=4, restarts=4, bootstrap=2, bootstrap_restarts=2)
    assert entry[UNFROZEN_IDS + 1].folds == alone.entries[0].folds
    # the law without a frozen term is scored as before
    assert entry[2].folds == {e.id: e for e in off.entries}[2].folds
    assert on.unfreeze and on.unfrozen == {UNFROZEN_IDS + 1: 1} and off.unfrozen == {}
    # here the variant wins, and the reason says whose place it took
    assert on.chosen == UNFROZEN_IDS + 1
    assert on.reason.endswith(
        "it is law 1 with its frozen terms' coefficients fitted (unfrozen), in that law's place in the pool"
    )


def test_a_law_keeps_its_place_when_its_variant_is_there_already_or_cannot_be_fitted(tmp_path):
    task = _task(_csv(tmp_path, perturb=False))
    frozen = parse_for_task(FROZEN, task)
    variant = unfrozen_law(frozen, task)
    plain = parse_for_task(PLAIN, task)
    options = dict(seed=4, restarts=4, polish=0, max_params=None)
    # the variant is in the pool already: the frozen law leaves, nothing is fitted
    known: dict = {}
    pool, parents = unfrozen_pool([(1, frozen), (2, variant)], task, known=known, **options)
    assert [cid for cid, _ in pool] == [2] and parents == {} and known == {}
    # near-variants that differ only in the frozen number share one variant: the first takes it
    twin = parse_for_task(FROZEN.replace("3/log(D)", "5/log(D)"), task)
    assert unfrozen_law(twin, task).key == variant.key
    pool, parents = unfrozen_pool(
        [(1, frozen), (2, plain), (3, twin)], task, known=known, **options
    )
    assert [cid for cid, _ in pool] == [UNFROZEN_IDS + 1, 2] and parents == {UNFROZEN_IDS + 1: 1}
    # a limit the variant breaks: the law stays as it was
    pool, parents = unfrozen_pool(
        [(1, frozen), (2, plain)], task, known=known, **{**options, "max_params": 5}
    )
    assert [cid for cid, _ in pool] == [1, 2] and parents == {}
    # the pick counts a frozen term against the limit: a law over it leaves, never all of them
    assert within_limit(pool, task, max_params=5) == [(2, plain)]
    assert within_limit([(1, frozen)], task, max_params=5) == [(1, frozen)]
    assert within_limit(pool, task, max_params=None) == pool  # no limit on this task


def _frozen_in_a_store(tmp_path, *, island: int):
    """A run store holding the FROZEN law as candidate ``parent`` (generation 3), the task, and
    the law's variant with its fold scores: (store, task, parent, variant, report)."""
    task = _task(_csv(tmp_path, perturb=False))
    config = RunConfig(task=TaskSpec(source=str(tmp_path)), seed=4)
    store = RunStore.create(
        tmp_path / "run", task=task.name, seed=4, config=config.model_dump(mode="json"), versions={}
    )
    frozen = parse_for_task(FROZEN, task)
    parent = store.add_candidate(text=frozen.text, generation=3, island=island, key=frozen.key)
    variant = unfrozen_law(frozen, task)
    report = selection_scores([variant], task, seed=4, restarts=4)[0]
    return store, task, parent, variant, report


def test_a_variant_is_recorded_once_as_a_confirmed_candidate_and_can_be_the_chosen_law(tmp_path):
    store, task, parent, variant, report = _frozen_in_a_store(tmp_path, island=1)
    assert math.isfinite(report.error)
    first = store_variant(store, parent, variant, report, restarts=4)
    again = store_variant(store, parent, variant, report, restarts=4)  # a pick started again
    assert first == again
    [row] = store.candidates(proposer=PROPOSER)
    assert (row.id, row.parents, row.generation, row.island, row.text) == (
        first,
        (parent,),
        3,
        1,
        variant.text,
    )
    # the pick reads it back as confirmed at its restarts, so it is not fitted again
    assert confirmed_reports(store.fitted(), restarts=4)[first].folds == report.folds
    assert first not in confirmed_reports(store.fitted(), restarts=8)
    # chosen by a pick, it is the run's chosen law though no population ever held it
    pick = PickReport(
        chosen=first,
        entries=[],
        restarts=4,
        bootstrap=0,
        quantile=0.8,
        node_weight=0.01,
        param_weight=0.02,
        reason="",
    )
    store.set_state(PICK_STATE, pick.model_dump(mode="json"))
    store.set_state("population", Population(islands=1).snapshot())
    assert read_run(store).chosen.text == variant.text


def test_changing_every_test_label_changes_no_variant_or_its_scores(tmp_path):
    clean, perturbed = _task(_csv(tmp_path, perturb=False)), _task(_csv(tmp_path, perturb=True))
    options = dict(seed=4, restarts=4, polish=0, max_params=None)
    a_known: dict = {}
    b_known: dict = {}
    plain = (2, parse_for_task(PLAIN, clean))
    a, _ = unfrozen_pool(
        [(1, parse_for_task(FROZEN, clean)), plain], clean, known=a_known, **options
    )
    b, _ = unfrozen_pool(
        [(1, parse_for_task(FROZEN, perturbed)), plain], perturbed, known=b_known, **options
    )
    assert [(cid, law.key) for cid, law in a] == [(cid, law.key) for cid, law in b]
    assert list(a_known) == [UNFROZEN_IDS + 1]
    x, y = a_known[UNFROZEN_IDS + 1], b_known[UNFROZEN_IDS + 1]
    assert [f.model_dump() for f in x.folds] == [f.model_dump() for f in y.folds]
    assert (x.selection_error, x.checks, x.fit.parameters) == (
        y.selection_error,
        y.checks,
        y.fit.parameters,
    )


def test_a_pick_run_again_walks_the_pool_the_first_walked_though_its_variant_is_stored(tmp_path):
    """A variant an earlier pick recorded is the pick's own product, not a search candidate:
    a resumed run or bench/repick.py must not walk it into the pool beside its parent's."""
    store, task, parent, variant, report = _frozen_in_a_store(tmp_path, island=0)
    stored = store_variant(store, parent, variant, report, restarts=4)
    population = Population(islands=1)
    population.add(_sized(parent, FROZEN, params=5, error=0.01))
    population.add(_sized(parent + 100, PLAIN, params=5, error=0.02))
    first = pick_law(population, task, SETTINGS)
    again = pick_law(population, task, SETTINGS, fitted=store.fitted())
    assert stored not in {e.id for e in again.entries}
    assert [e.id for e in again.entries] == [e.id for e in first.entries]
    assert again.chosen == first.chosen
