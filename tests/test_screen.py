"""Screening in search: who is promoted, what is recorded, and that it never changes a full score."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from sld.config import RunConfig, TaskSpec
from sld.corpus import load_task
from sld.evolve._fidelity import (
    MAX_WIDTH,
    confirm_leaders,
    generation_width,
    screen_width,
    to_confirm,
)
from sld.evolve.engine import CONFIRMED_KEY, SCREEN_KEY, Engine
from sld.evolve.offline import OfflineProposer
from sld.evolve.population import Member, Population
from sld.fit import SCREEN
from sld.report import chosen_candidate
from sld.scoring import parse_for_task, screen_promoted, screen_scores, selection_scores
from sld.store import RunStore

SMALL = dict(islands=2, proposals_per_island=4, restarts=4, capacity=8, migration_interval=2)


def _config(run_dir: Path, **overrides) -> RunConfig:
    return RunConfig(
        task=TaskSpec(source="parallel_scaling_law"),
        **{"seed": 3, "generations": 2, **SMALL, **overrides},
    )


def _engine(task, run_dir: Path, config: RunConfig) -> Engine:
    if RunStore.exists(run_dir):
        store = RunStore.open(run_dir)
    else:
        store = RunStore.create(
            run_dir, task=task.name, seed=config.seed, config=config.model_dump(), versions={}
        )
    return Engine(task=task, config=config, store=store, proposer=OfflineProposer())


def _run(task, run_dir: Path, **overrides) -> RunStore:
    engine = _engine(task, run_dir, _config(run_dir, **overrides))
    asyncio.run(engine.run())
    return engine.store


@pytest.fixture(scope="module")
def task():
    return load_task("parallel_scaling_law")


def test_promotion_keeps_the_best_share_in_input_order() -> None:
    errors = [0.5, math.inf, 0.1, math.nan, 0.3, 0.1]
    assert screen_promoted(errors, share=1 / 3) == [2, 5]
    assert screen_promoted(errors, share=0.5) == [2, 4, 5]
    assert screen_promoted(errors, share=0.01) == [2]
    assert screen_promoted(errors, share=1.0) == list(range(6))
    assert screen_promoted([], share=0.5) == []


def test_the_leaders_are_the_top_best_fitnesses_among_laws_that_did_not_fail() -> None:
    population = Population(islands=1)
    for cid, error in enumerate([0.04, math.inf, 0.01, 0.02], start=1):
        population.add(
            Member(
                id=cid,
                key=f"k{cid}",
                text=f"a*N**{cid}",
                complexity=5,
                n_params=1,
                error=error,
                r2=0.9,
                island=0,
                generation=0,
            )
        )
    fitness = sorted(population.fitness(m) for m in population.members() if not m.failed)
    assert len(fitness) == 3
    assert confirm_leaders(population, top=1) == (fitness[0],)
    assert confirm_leaders(population, top=3) == tuple(fitness)
    assert confirm_leaders(population, top=4) == tuple(fitness)  # fewer laws than top
    assert confirm_leaders(population, top=0) == ()  # confirmation off


def test_only_new_laws_that_rank_among_the_top_with_the_leaders_are_confirmed() -> None:
    leaders = (1.0, 2.0, 3.0)
    # 0.5 and 1.5 rank 1st and 3rd; 2.5 beats the third leader but two new laws beat it
    assert to_confirm([2.5, 0.5, 9.0, 1.5], leaders=leaders, top=3, confirmed=set()) == [1, 3]
    # once those two are confirmed (and stay where they are) nothing is left to confirm
    assert to_confirm([2.5, 0.5, 9.0, 1.5], leaders=leaders, top=3, confirmed={1, 3}) == []
    # confirmed laws that fell let the next one up: it is confirmed in the next round
    assert to_confirm([2.5, 0.5, 9.0, 8.0], leaders=leaders, top=3, confirmed={1, 3}) == []
    assert to_confirm([2.5, 8.5, 9.0, 8.0], leaders=leaders, top=3, confirmed={1, 3}) == [0]
    # fewer leaders than top (an early generation): the best new laws fill the top
    assert to_confirm([4.0, 3.0, 2.0, 1.0], leaders=(), top=3, confirmed=set()) == [1, 2, 3]
    # behind every leader: not confirmed; a tie with a leader confirms the new law
    assert to_confirm([3.5], leaders=leaders, top=3, confirmed=set()) == []
    assert to_confirm([3.0], leaders=leaders, top=3, confirmed=set()) == [0]
    # failed laws never; top 0 never
    assert to_confirm([math.inf, math.inf], leaders=(), top=3, confirmed=set()) == []
    assert to_confirm([0.1], leaders=leaders, top=0, confirmed=set()) == []


def test_screen_fits_at_screen_fidelity_on_the_validation_fold(task) -> None:
    laws = [parse_for_task(t, task) for t in ("a * N ** (-b) + c", "a + b * log(N)")]
    reports = screen_scores(laws, task, seed=0)
    assert [r.fit.fidelity for r in reports] == [SCREEN, SCREEN]
    fold = task.folds()[0]
    for r in reports:
        assert r.ok and r.checks is None
        assert r.selection_error == r.metrics.nmse == r.folds[0].nmse
        assert r.folds[0].rows == fold.score.n_rows


def test_promoted_scores_are_the_unscreened_scores_and_screened_out_never_win(task, tmp_path):
    screened = _run(task, tmp_path / "screened", screen_share=0.25)
    plain = _run(task, tmp_path / "plain", screen_share=1.0)
    rows = screened.fitted()
    out = [f for f in rows if SCREEN_KEY in f.report]
    full = [f for f in rows if SCREEN_KEY not in f.report]
    assert out and full
    # every generation promotes ceil(share * candidates) of its fitted candidates
    for g in {f.candidate.generation for f in rows}:
        n = sum(f.candidate.generation == g for f in rows)
        assert sum(f.candidate.generation == g for f in full) == math.ceil(0.25 * n)

    # screened out: recorded with the screen's fidelity, an infinite error, never chosen
    for f in out:
        assert f.fit["fidelity"] == SCREEN.model_dump(mode="json")
        assert f.error == math.inf and f.candidate.status == ("fitted" if f.ok else "failed")
        assert f.candidate.reason.startswith("screened out")
    population = Population.restore(screened.get_state("population"))
    out_ids = {f.candidate.id for f in out}
    assert not out_ids & {m.id for m in population.members()}
    assert chosen_candidate(screened)["id"] not in out_ids

    # promoted: the full score is exactly the one selection gives the law alone (at the
    # final restarts for a law confirmed because it would have led the population)
    def alone(f):
        confirmed = f.report.get(CONFIRMED_KEY)
        restarts = confirmed["restarts"] if confirmed else SMALL["restarts"]
        law = parse_for_task(f.candidate.text, task)
        return selection_scores([law], task, seed=3, restarts=restarts)[0]

    assert any(CONFIRMED_KEY in f.report for f in full)
    for f, report in zip(full, map(alone, full), strict=True):
        assert f.error == report.error
        assert f.report["folds"] == [s.model_dump(mode="json") for s in report.folds]
        assert f.fit["fidelity"]["max_rows"] is None
    # ... and generation 0 (the same proposals in both runs) scores identically unscreened
    unscreened = {f.candidate.text: f for f in plain.fitted() if f.candidate.generation == 0}
    for f in full:
        if f.candidate.generation == 0:
            other = unscreened[f.candidate.text]
            assert (f.error, f.r2, f.report["folds"]) == (
                other.error,
                other.r2,
                other.report["folds"],
            )


def test_the_screen_widens_by_the_share_of_rows_its_subsample_drops(task) -> None:
    rows = [len(x) for x in task.folds()[0].fit.X]
    assert rows == [12, 12]
    assert screen_width(task) == 1  # no group over SCREEN.max_rows
    assert screen_width(task, max_rows=None) == 1
    assert screen_width(task, max_rows=12) == 1
    assert screen_width(task, max_rows=5) == 2  # 24 rows, 10 screened
    assert screen_width(task, max_rows=3) == 4  # 24 rows, 6 screened
    assert screen_width(task, max_rows=1) == MAX_WIDTH  # 24 rows, 2 screened: capped
    assert screen_width(task, max_rows=1, cap=3) == 3
    big = load_task("lr_bsz_scaling_law")  # one group of 1,572 fold-0 fit rows: 6, capped
    assert screen_width(big) == MAX_WIDTH


def test_the_generation_width_follows_the_config_then_the_task(task) -> None:
    def width(**overrides) -> int:
        return generation_width(_config(Path("unused"), **overrides), task)

    assert width() == 1
    assert width(screen_width=3) == 3
    assert width(screen_width=3, screen_share=1.0) == 1  # nothing is screened
    assert width(screen_width=2, proposer="llm") == 2
    big = load_task("lr_bsz_scaling_law")
    config = _config(Path("unused"))
    assert generation_width(config, big) == MAX_WIDTH
    for proposer in ("llm", "mixed"):
        assert generation_width(config.model_copy(update={"proposer": proposer}), big) == 1


def test_a_wider_generation_proposes_more_and_promotes_as_many(task, tmp_path) -> None:
    store = _run(task, tmp_path / "wide", screen_share=0.5, screen_width=2)
    assert store.get_state("progress")["width"] == 2
    rows = store.fitted()
    generations = {f.candidate.generation for f in rows}
    counts = [sum(f.candidate.generation == g for f in rows) for g in generations]
    # 2 islands x 4 per island x width 2, less duplicates; more than one plain generation holds
    assert max(counts) > SMALL["islands"] * SMALL["proposals_per_island"]
    for g, n in zip(generations, counts, strict=True):
        full = [f for f in rows if f.candidate.generation == g and SCREEN_KEY not in f.report]
        assert len(full) == math.ceil(0.25 * n)


def test_a_run_stopped_after_its_screen_resumes_without_screening_or_fitting_again(task, tmp_path):
    reference = _run(task, tmp_path / "reference", screen_share=0.25)
    run_dir = tmp_path / "stopped"
    config = _config(run_dir, screen_share=0.25, fit_chunk=1)
    engine = _engine(task, run_dir, config)
    engine.on_progress = lambda progress: engine.stop() if progress.fitted >= 1 else None
    asyncio.run(engine.run())
    first = engine.store
    written = {f.candidate.id for f in first.fitted()}
    assert any(SCREEN_KEY in f.report for f in first.fitted())
    assert [c for c in first.candidates() if c.status == "proposed"]  # promoted, not yet fitted
    first.close()

    resumed = _engine(task, run_dir, _config(run_dir, screen_share=0.25))
    asyncio.run(resumed.run())
    store = resumed.store
    fit_events = [e.candidate_id for e in store.events() if e.kind in ("fitted", "failed")]
    assert len(fit_events) == len(set(fit_events))  # nothing fitted or screened twice
    assert written <= {f.candidate.id for f in store.fitted()}
    seq = [(c.seq, c.text, c.status) for c in store.candidates()]
    assert seq == [(c.seq, c.text, c.status) for c in reference.candidates()]
    scores = [(f.candidate.seq, f.error, SCREEN_KEY in f.report) for f in store.fitted()]
    assert scores == [
        (f.candidate.seq, f.error, SCREEN_KEY in f.report) for f in reference.fitted()
    ]
