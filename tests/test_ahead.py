"""Working one generation ahead (sld.evolve._ahead): the laws it predicts, the work it hands
over, and that a run doing it records exactly what a run without it records."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from sld.config import RunConfig, TaskSpec
from sld.corpus import load_task
from sld.errors import ParseError
from sld.evolve import _fitting
from sld.evolve import engine as engine_module
from sld.evolve._ahead import Ahead, parse_all, screened_laws, take, take_chunk, work_ahead
from sld.evolve._fidelity import screen
from sld.evolve.engine import Engine
from sld.evolve.offline import OfflineProposer
from sld.evolve.start import NAME as START
from sld.proposer import Proposal
from sld.scoring import parse_for_task, selection_scores
from sld.store import RunStore

LAWS = [
    "loss = E + A/num_params**a",
    "loss = E + A/(num_params**a*parallel_size**b)",
    "loss = E + A/num_params**a + B/parallel_size",
    "loss = A*num_params**a",
    "loss = E + A*log(num_params)",
    "loss = E + A/num_params**a*(1 + B/parallel_size)",
]
SMALL = dict(islands=2, proposals_per_island=4, restarts=4, capacity=8, migration_interval=2)


@pytest.fixture(scope="module")
def task():
    return load_task("parallel_scaling_law")


def _proposal(text: str, proposer: str = "offline") -> tuple[int, Proposal]:
    return 0, Proposal(text=text, parents=(), proposer=proposer, operator="test")


def test_the_laws_screened_ahead_are_those_the_checkpoint_records_in_order(task) -> None:
    known = parse_for_task(LAWS[0], task).key
    proposals = [
        _proposal(LAWS[1]),
        _proposal("loss = E + import os"),  # does not parse: rejected
        _proposal(LAWS[0]),  # a known key: a duplicate
        _proposal("loss = E + A/(parallel_size**b*num_params**a)"),  # LAWS[1] again
        _proposal(LAWS[2], proposer=START),  # recorded, but start laws are never screened
        _proposal(LAWS[2]),  # the start law's key: a duplicate
        _proposal(LAWS[3]),
    ]
    parsed = parse_all(proposals, task=task, max_params=8)
    assert isinstance(parsed["loss = E + import os"], ParseError)
    laws = screened_laws(proposals, parsed=parsed, known={known})
    assert [law.key for law in laws] == [
        parse_for_task(text, task).key for text in (LAWS[1], LAWS[3])
    ]


def test_work_done_ahead_is_taken_only_for_the_same_laws_of_the_same_generation(task) -> None:
    laws = [parse_for_task(text, task) for text in LAWS]
    outcome = screen(laws, task, seed=3, share=0.5)
    assert outcome is not None
    ahead = Ahead(generation=4, keys=tuple(law.key for law in laws), outcome=outcome)
    assert take(ahead, generation=4, laws=laws) == (True, outcome)
    assert take(ahead, generation=5, laws=laws) == (False, None)
    assert take(ahead, generation=4, laws=laws[::-1]) == (False, None)
    assert take(ahead, generation=4, laws=laws[:-1]) == (False, None)
    assert take(None, generation=4, laws=laws) == (False, None)
    assert take_chunk(None, laws[:2]) is None


def test_work_ahead_fits_the_promoted_in_the_engines_chunks_until_told_to_stop(task) -> None:
    laws = [parse_for_task(text, task) for text in LAWS]
    asked: list[int] = []

    def always() -> bool:
        asked.append(1)
        return True

    ahead = work_ahead(
        laws, generation=1, task=task, seed=3, share=0.5, restarts=4, chunk=2, go=always
    )
    outcome = screen(laws, task, seed=3, share=0.5)
    assert outcome is not None and ahead.outcome is not None
    assert ahead.outcome.promoted == outcome.promoted and ahead.outcome.errors == outcome.errors
    promoted = [laws[i] for i in outcome.promoted]
    chunks = [promoted[i : i + 2] for i in range(0, len(promoted), 2)]
    assert list(ahead.chunks) == [tuple(law.key for law in c) for c in chunks]
    assert len(asked) == len(chunks)
    for chunk in chunks:
        found = take_chunk(ahead, chunk)
        assert isinstance(found, list)
        direct = selection_scores(chunk, task, seed=3, restarts=4)
        assert [(r.error, r.folds) for r in found] == [(r.error, r.folds) for r in direct]
    assert take_chunk(ahead, chunks[0][::-1]) is None  # another chunk: not fitted ahead

    answers = iter([True, False])
    stopped = work_ahead(
        laws,
        generation=1,
        task=task,
        seed=3,
        share=0.5,
        restarts=4,
        chunk=2,
        go=lambda: next(answers),
    )
    assert list(stopped.chunks) == list(ahead.chunks)[:1]


def _engine(task, run_dir: Path, **overrides: Any) -> Engine:
    config = RunConfig(
        task=TaskSpec(source="parallel_scaling_law"),
        **{"seed": 3, "generations": 3, "screen_share": 0.25, "fit_chunk": 2, **SMALL, **overrides},
    )
    if RunStore.exists(run_dir):
        store = RunStore.open(run_dir)
    else:
        store = RunStore.create(
            run_dir, task=task.name, seed=config.seed, config=config.model_dump(), versions={}
        )
    return Engine(task=task, config=config, store=store, proposer=OfflineProposer())


def _record(store: RunStore) -> list[tuple[Any, ...]]:
    """What a run wrote of each candidate, less the seconds it took."""

    def timeless(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: timeless(v) for k, v in value.items() if "second" not in k}
        if isinstance(value, list):
            return [timeless(v) for v in value]
        return value

    fitted = {f.candidate.id: f for f in store.fitted()}
    out = []
    for c in store.candidates():
        f = fitted.get(c.id)
        out.append(
            (c.seq, c.generation, c.text, c.status, c.reason)
            + ((f.train_loss, f.error, f.r2, timeless(f.report)) if f else ())
        )
    return out


@pytest.fixture
def slow_fits(monkeypatch):
    """Each generation's fits start a moment late, so its successor's proposals are always
    ready while they run and work ahead happens; counts what was taken from it."""
    taken = {"screens": 0, "chunks": 0}
    fit_batch, take_screen, take_fits = (
        _fitting.Fitting._fit_batch,
        _fitting.take,
        _fitting.take_chunk,
    )

    def late(self, batch, population):
        time.sleep(0.3)
        return fit_batch(self, batch, population)

    def counted_screen(*args, **kwargs):
        found = take_screen(*args, **kwargs)
        taken["screens"] += found[0]
        return found

    def counted_chunk(*args, **kwargs):
        found = take_fits(*args, **kwargs)
        taken["chunks"] += found is not None
        return found

    monkeypatch.setattr(_fitting.Fitting, "_fit_batch", late)
    monkeypatch.setattr(_fitting, "take", counted_screen)
    monkeypatch.setattr(_fitting, "take_chunk", counted_chunk)
    return taken


def test_a_run_working_ahead_records_what_a_run_without_it_records(
    task, tmp_path, monkeypatch, slow_fits
) -> None:
    monkeypatch.setattr(engine_module, "AHEAD", False)
    plain = _engine(task, tmp_path / "plain")
    asyncio.run(plain.run())
    assert slow_fits == {"screens": 0, "chunks": 0}

    monkeypatch.setattr(engine_module, "AHEAD", True)
    ahead = _engine(task, tmp_path / "ahead")
    asyncio.run(ahead.run())
    assert slow_fits["screens"] == 2 and slow_fits["chunks"] >= 2  # generations 1 and 2
    assert _record(ahead.store) == _record(plain.store)
    assert ahead.store.get_state("population") == plain.store.get_state("population")


def test_a_run_stopped_while_working_ahead_resumes_to_the_same_record(
    task, tmp_path, monkeypatch, slow_fits
) -> None:
    monkeypatch.setattr(engine_module, "AHEAD", False)
    reference = _engine(task, tmp_path / "reference")
    asyncio.run(reference.run())

    monkeypatch.setattr(engine_module, "AHEAD", True)
    run_dir = tmp_path / "stopped"
    first = _engine(task, run_dir)
    stops: list[int] = []

    def stop_in_generation_one(progress) -> None:
        if progress.generation == 1 and not stops:
            stops.append(progress.fitted)
            first.stop()

    first.on_progress = stop_in_generation_one
    asyncio.run(first.run())
    assert stops and first.progress.stopped_by == "stop requested"
    first.store.close()

    resumed = _engine(task, run_dir)
    asyncio.run(resumed.run())
    assert _record(resumed.store) == _record(reference.store)
