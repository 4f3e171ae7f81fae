"""Narrowing in the final pick (RunConfig.final_narrow): every fit that compares laws there asks
for it, and the search's confirmations; the search's own fits and the fit handed on (delivered
checks, held-out scores) do not."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from test_selection import LAWS, SMALL, _csv, _task

from sld.config import RunConfig, TaskSpec
from sld.evolve.engine import Engine
from sld.evolve.offline import OfflineProposer
from sld.evolve.pick import PickSettings
from sld.fit import _fit as fit_internals
from sld.fit import _many as many_internals
from sld.report import finalize, read_run
from sld.scoring import final_pick, parse_for_task
from sld.store import RunStore


@pytest.fixture
def asked(monkeypatch) -> list[int]:
    """The ``narrow`` of every LM run started from here on, in order."""
    seen: list[int] = []
    for module in (fit_internals, many_internals):
        real = module.run_lm

        def spy(*args, _real=real, **kwargs):
            seen.append(kwargs.get("narrow", 0))
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, "run_lm", spy)
    return seen


def test_the_pick_narrows_only_when_the_run_config_asks():
    config = RunConfig(task=TaskSpec(source="parallel_scaling_law"))
    assert config.final_narrow == 0 == PickSettings().narrow  # measured, not the default
    assert PickSettings.from_config(config).narrow == 0
    on = RunConfig(task=TaskSpec(source="parallel_scaling_law"), final_narrow=8)
    assert PickSettings.from_config(on).narrow == 8


def test_every_fit_of_the_pick_asks_for_its_narrowing(tmp_path, asked):
    task = _task(_csv(tmp_path, perturb=False))
    candidates = [(i, parse_for_task(text, task)) for i, text in enumerate(LAWS[:3])]
    options = dict(seed=4, restarts=4, bootstrap=2, bootstrap_restarts=2, windows=(0.0, 0.5))
    pick = final_pick(candidates, task, **options, narrow=8)
    assert pick.narrow == 8 and pick.chosen is not None
    # fold fits, screens and resamples narrow; the delivered fit (the last) does not
    assert len(asked) >= 4 and set(asked[:-1]) == {8} and asked[-1] == 0
    asked.clear()
    plain = final_pick(candidates, task, **options)
    assert plain.narrow == 0 and set(asked) == {0}
    # these groups are far below the rows a batch needs to narrow: the same fits, the same pick
    assert [e.folds for e in plain.entries] == [e.folds for e in pick.entries]


@pytest.mark.slow
def test_a_run_narrows_its_confirmations_pick_and_chosen_law_only(tmp_path, asked):
    task = _task(_csv(tmp_path, perturb=False))
    start = ["E + A/N**a + B/U**b"]  # scored on held-out rows as its author would fit it
    config = RunConfig(
        task=TaskSpec(source=str(tmp_path)),
        seed=4,
        generations=2,
        **{**SMALL, "final_restarts": 6, "final_narrow": 2, "confirm_top": 2, "start_laws": start},
    )
    store = RunStore.create(
        tmp_path / "run", task=task.name, seed=4, config=config.model_dump(mode="json"), versions={}
    )
    asyncio.run(Engine(task=task, config=config, store=store, proposer=OfflineProposer()).run())
    pick = dataclasses.replace(PickSettings.from_config(config), candidates=4, bootstrap=3)
    finalize(store, task, seed=4, restarts=6, bootstrap=0, pick=pick)
    assert 0 in asked and 2 in asked  # the search's own fits run every restart to the end
    confirmed = [f.report["confirmed"] for f in store.fitted() if "confirmed" in f.report]
    assert confirmed and all(c["narrow"] == 2 for c in confirmed)
    record = read_run(store)
    assert record.pick is not None and record.pick.narrow == 2
    fidelity = {row.kind: row.report["fit"]["fidelity"] for row in store.heldout()}
    # the fit handed on, like a start law's, runs every restart to the end
    assert fidelity["chosen"]["narrow"] == 0 == fidelity["start"]["narrow"]


@pytest.mark.parametrize("keep", [3, 12, 32])
def test_a_narrowing_no_pick_fit_could_use_is_refused(keep):
    with pytest.raises(
        ValueError, match=f"final_narrow={keep} cannot narrow 32 restarts.*2, 4, 8, 16"
    ):
        RunConfig(task=TaskSpec(source="parallel_scaling_law"), final_narrow=keep)
    assert (
        RunConfig(task=TaskSpec(source="parallel_scaling_law"), final_narrow=16).final_narrow == 16
    )
