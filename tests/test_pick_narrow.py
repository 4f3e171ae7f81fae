"""Narrowing in the final pick (RunConfig.final_narrow): every fit the pick makes asks for it,
the chosen law's held-out fit too; the human and start laws' held-out fits and the search's
own fits do not."""

from __future__ import annotations

import pytest
from test_selection import LAWS, _csv, _run, _task

from sld.config import RunConfig, TaskSpec
from sld.evolve.pick import PickSettings
from sld.fit import _fit as fit_internals
from sld.fit import _many as many_internals
from sld.report import read_run
from sld.scoring import final_pick, parse_for_task


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


def test_the_run_config_narrows_the_pick_and_its_confirmations_by_default():
    config = RunConfig(task=TaskSpec(source="parallel_scaling_law"))
    assert config.final_narrow == 8
    assert PickSettings.from_config(config).narrow == 8 == PickSettings().narrow
    off = RunConfig(task=TaskSpec(source="parallel_scaling_law"), final_narrow=0)
    assert PickSettings.from_config(off).narrow == 0


def test_every_fit_of_the_pick_asks_for_its_narrowing(tmp_path, asked):
    task = _task(_csv(tmp_path, perturb=False))
    candidates = [(i, parse_for_task(text, task)) for i, text in enumerate(LAWS[:3])]
    options = dict(seed=4, restarts=4, bootstrap=2, bootstrap_restarts=2, windows=(0.0, 0.5))
    pick = final_pick(candidates, task, **options, narrow=8)
    assert pick.narrow == 8 and pick.chosen is not None
    assert len(asked) >= 4 and set(asked) == {8}  # fold fits, screens, resamples, delivered
    asked.clear()
    plain = final_pick(candidates, task, **options)
    assert plain.narrow == 0 and set(asked) == {0}
    # these groups are far below the rows a batch needs to narrow: the same fits, the same pick
    assert [e.folds for e in plain.entries] == [e.folds for e in pick.entries]


@pytest.mark.slow
def test_a_run_narrows_its_confirmations_pick_and_chosen_law_only(tmp_path, asked):
    task = _task(_csv(tmp_path, perturb=False))
    start = ["E + A/N**a + B/U**b"]  # scored on held-out rows as its author would fit it
    store = _run(task, tmp_path / "run", final_restarts=6, confirm_top=2, start_laws=start)
    assert 0 in asked and 8 in asked  # the search's own fits run every restart to the end
    confirmed = [f.report["confirmed"] for f in store.fitted() if "confirmed" in f.report]
    assert confirmed and all(c["narrow"] == 8 for c in confirmed)
    record = read_run(store)
    assert record.pick is not None and record.pick.narrow == 8
    fidelity = {row.kind: row.report["fit"]["fidelity"] for row in store.heldout()}
    assert fidelity["chosen"]["narrow"] == 8  # fitted as the pick judged it
    assert fidelity["start"]["narrow"] == 0  # as its author fitted it
