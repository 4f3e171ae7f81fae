"""The discovery engine: determinism, protocol integrity, resume after SIGKILL."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sld.config import RunConfig, TaskSpec
from sld.corpus import load_task
from sld.errors import StoreError
from sld.evolve.engine import Engine
from sld.evolve.offline import OfflineProposer
from sld.report import chosen_candidate
from sld.resources import datasets_dir
from sld.scoring import parse_for_task, selection_scores
from sld.store import RunReader, RunStore

SMALL = dict(islands=2, proposals_per_island=3, restarts=4, capacity=8, migration_interval=2)


def _parallel_csv(tmp_path: Path, *, perturb_test: bool) -> Path:
    """The parallel task as a user CSV; optionally with every held-out label changed."""
    frame = pd.read_csv(datasets_dir() / "parallel_scaling_law" / "data.csv")
    if perturb_test:
        test = frame["split"] == "test"
        rng = np.random.default_rng(0)
        frame.loc[test, "loss"] = (
            frame.loc[test, "loss"] * rng.uniform(0.5, 2.0, int(test.sum())) + 3.0
        )
    path = tmp_path / ("perturbed.csv" if perturb_test else "parallel.csv")
    frame.to_csv(path, index=False)
    return path


def _load(path: Path):
    return load_task(
        str(path),
        inputs=["num_params", "parallel_size"],
        outputs=["loss"],
        group="group",
        aliases={"N": "num_params", "P": "parallel_size"},
    )


def _run(task, run_dir: Path, **overrides) -> RunStore:
    config = RunConfig(
        task=TaskSpec(source=str(run_dir)), **{"seed": 5, "generations": 3, **SMALL, **overrides}
    )
    store = RunStore.create(
        run_dir,
        task=task.name,
        seed=config.seed,
        config=config.model_dump(mode="json"),
        versions={},
    )
    asyncio.run(Engine(task=task, config=config, store=store, proposer=OfflineProposer()).run())
    return store


def _sequence(store: RunStore) -> list[tuple]:
    return [(c.seq, c.generation, c.island, c.text, c.status, c.key) for c in store.candidates()]


def _scores(store: RunStore) -> list[tuple]:
    return [
        (f.candidate.seq, round(f.r2, 9) if np.isfinite(f.r2) else None) for f in store.fitted()
    ]


def test_same_seed_gives_identical_candidate_sequence_and_selection(tmp_path):
    task = _load(_parallel_csv(tmp_path, perturb_test=False))
    a = _run(task, tmp_path / "a")
    b = _run(task, tmp_path / "b")
    assert len(_sequence(a)) >= 12
    assert _sequence(a) == _sequence(b)
    assert _scores(a) == _scores(b)
    assert chosen_candidate(a) == chosen_candidate(b)
    other = _run(task, tmp_path / "c", seed=6)
    assert _sequence(other) != _sequence(a)


def test_perturbing_every_test_label_changes_nothing_in_search(tmp_path):
    clean = _load(_parallel_csv(tmp_path, perturb_test=False))
    perturbed = _load(_parallel_csv(tmp_path, perturb_test=True))
    assert not np.allclose(np.concatenate(clean.heldout().y), np.concatenate(perturbed.heldout().y))
    a = _run(clean, tmp_path / "clean")
    b = _run(perturbed, tmp_path / "perturbed")
    assert _sequence(a) == _sequence(b)
    assert _scores(a) == _scores(b)
    assert chosen_candidate(a) == chosen_candidate(b)


def _sld(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sld.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        **kwargs,
    )


GENERATIONS = 30
FLAGS = [
    "--generations",
    str(GENERATIONS),
    "--seed",
    "2",
    "--islands",
    "2",
    "--per-island",
    "3",
    "--restarts",
    "4",
    "--bootstrap",
    "0",
    "--quiet",
]


def _fitted_count(run_dir: Path | None) -> int:
    """Fits committed so far; retries while the writer holds the store busy (a loaded machine)."""
    if run_dir is None:
        return 0
    for _ in range(100):
        try:
            with RunStore.open(run_dir, readonly=True) as store:
                return len(store.fitted())
        except Exception:  # busy, or mid-creation: look again
            time.sleep(0.05)
    return 0


def _committed(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a store that opens: its file exists a moment before its tables
    commit, and a kill in that moment leaves nothing to resume."""
    try:
        RunReader.open(run_dir).close()
    except StoreError:
        return False
    return True


@pytest.mark.slow
def test_sigkilled_run_resumes_without_losing_or_repeating_fits(tmp_path):
    # Uninterrupted reference run.
    reference_out = tmp_path / "reference"
    done = _sld("discover", "parallel_scaling_law", "--out", str(reference_out), *FLAGS)
    assert done.wait(timeout=600) == 0, done.stderr.read().decode()
    (reference_dir,) = reference_out.iterdir()

    out = tmp_path / "killed"
    rng = random.Random(1)
    kills = 0
    run_dir = None
    while kills < 6:
        args = (
            ["discover", "--resume", str(run_dir)]
            if run_dir
            else ["discover", "parallel_scaling_law", "--out", str(out)]
        )
        before = _fitted_count(run_dir)
        proc = _sld(*(args + (FLAGS[8:] if run_dir else FLAGS)))
        # Kill after a random number of new fits (or, for the first start, a random
        # moment), so the kills land mid-run however fast or loaded the machine is: at most
        # 4 new fits a start, so six starts cannot use up the run's budget of fits.
        target = before + rng.randint(1, 4)
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            if run_dir is None and out.exists() and rng.random() < 0.3:
                # first start: killed at a random early moment; after one kill before the
                # store was committed, wait for the commit, so a slow machine cannot spend
                # every kill on starts that never got going
                dirs = list(out.iterdir())
                if kills == 0 or (dirs and _committed(dirs[0])):
                    break
            if run_dir is not None and _fitted_count(run_dir) >= target:
                break
            time.sleep(rng.uniform(0.05, 0.4))
        if proc.poll() is not None:
            assert proc.returncode == 0, proc.stderr.read().decode()
            break  # finished before we could kill it
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        dirs = list(out.iterdir()) if out.exists() else []
        if dirs and _committed(dirs[0]):
            run_dir = dirs[0]
        elif dirs:
            shutil.rmtree(dirs[0])  # killed before the store was committed: start over
    assert kills >= 5
    assert run_dir is not None
    final = _sld("discover", "--resume", str(run_dir), "--quiet", "--bootstrap", "0")
    assert final.wait(timeout=600) == 0, final.stderr.read().decode()

    with (
        RunStore.open(reference_dir, readonly=True) as ref,
        RunStore.open(run_dir, readonly=True) as got,
    ):
        assert _sequence(got) == _sequence(ref)
        assert _scores(got) == _scores(ref)
        fitted_ids = [f.candidate.id for f in got.fitted()]
        assert len(fitted_ids) == len(set(fitted_ids))
        assert not [
            c for c in got.candidates() if c.status == "proposed" and c.generation < GENERATIONS
        ]
        assert chosen_candidate(got) == chosen_candidate(ref)


def test_a_run_stopped_inside_its_first_generation_still_reports_a_chosen_law(tmp_path):
    from sld.evolve.engine import LIVE_POPULATION
    from sld.evolve.population import Population
    from sld.report import read_run

    task = _load(_parallel_csv(tmp_path, perturb_test=False))
    run_dir = tmp_path / "stopped"
    config = RunConfig(  # every candidate fully fitted (no screen), so two fits end no generation
        task=TaskSpec(source=str(run_dir)),
        seed=5,
        generations=3,
        **{**SMALL, "fit_chunk": 1, "screen_share": 1.0},
    )
    store = RunStore.create(
        run_dir, task=task.name, seed=5, config=config.model_dump(mode="json"), versions={}
    )
    engine = Engine(task=task, config=config, store=store, proposer=OfflineProposer())
    engine.on_progress = lambda progress: engine.stop() if progress.fitted >= 2 else None
    asyncio.run(engine.run())
    checkpoint = Population.restore(store.get_state("population"))
    assert checkpoint.members() == []  # generation 0 never finished
    live = Population.restore(store.get_state(LIVE_POPULATION))
    assert [m.generation for m in live.members()] == [0, 0]
    chosen = read_run(store).chosen
    assert chosen is not None and chosen.id in {m.id for m in live.members()}


class _LateProposer(OfflineProposer):
    """The offline proposer, answering generation 0 after ``first`` seconds (an LLM slower
    than the whole time budget) and later generations after ``later`` seconds."""

    def __init__(self, first: float, later: float) -> None:
        super().__init__()
        self.delays = (first, later)
        self.cancelled = 0

    async def propose(self, request):
        try:
            await asyncio.sleep(self.delays[min(request.generation, 1)])
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return await super().propose(request)


def test_proposals_that_arrive_after_the_time_budget_still_end_in_a_chosen_law(tmp_path):
    """The time budget never ends a run before its first full fit: a run whose first
    proposals came after the budget (a slow LLM) fits one chunk and reports a law, and the
    next generation's proposals, no longer needed, are cancelled rather than awaited."""
    from sld.report import read_run

    task = _load(_parallel_csv(tmp_path, perturb_test=False))
    run_dir = tmp_path / "late"
    config = RunConfig(
        task=TaskSpec(source=str(run_dir)), seed=5, time_limit=0.2, **{**SMALL, "fit_chunk": 2}
    )
    store = RunStore.create(
        run_dir, task=task.name, seed=5, config=config.model_dump(mode="json"), versions={}
    )
    proposer = _LateProposer(first=0.5, later=600.0)  # awaited, generation 1 would hang the test
    progress = asyncio.run(Engine(task=task, config=config, store=store, proposer=proposer).run())
    assert progress.fitted == 2  # one chunk, then the budget applies
    assert progress.stopped_by.startswith("time budget")
    assert proposer.cancelled == 2  # both islands' generation-1 requests
    chosen = read_run(store).chosen
    assert chosen is not None and np.isfinite(chosen.error)


def test_laws_that_would_lead_are_confirmed_with_the_final_restarts(tmp_path):
    """A new law that would rank among the best few is scored on a ``final_restarts`` fit.

    Its stored selection error is that fit's, re-computable alone with ``selection_scores``;
    with ``confirm_top=0`` nothing is confirmed.
    """
    task = _load(_parallel_csv(tmp_path, perturb_test=False))
    store = _run(task, tmp_path / "on", confirm_top=2, final_restarts=12)
    rows = [f for f in store.fitted() if "confirmed" in f.report]
    assert rows, "the first generation beats an empty population: its laws are confirmed"
    assert all(f.report["confirmed"]["restarts"] == 12 for f in rows)
    assert all(f.report["confirmed"]["narrow"] == 0 for f in rows)  # final_narrow's default
    best = min(
        (f for f in store.fitted() if np.isfinite(f.error) and "screen" not in f.report),
        key=lambda f: f.error,
    )
    assert "confirmed" in best.report
    law = parse_for_task(best.candidate.text, task)
    again = selection_scores([law], task, seed=5, restarts=12)[0]
    assert again.error == pytest.approx(best.error, rel=1e-6)
    off = _run(task, tmp_path / "off", confirm_top=0, final_restarts=12)
    assert not [f for f in off.fitted() if "confirmed" in f.report]
