"""Fit windows: which rows a window keeps, the folds and fits it narrows, and the pick choosing
one on training rows only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sld.corpus import load_task
from sld.corpus.folds import MIN_FIT_LEVELS
from sld.corpus.window import window_mask
from sld.scoring import final_pick, heldout_score, parse_for_task
from sld.scoring._window import WINDOW_MARGIN, WindowScore, choose_window
from tests.test_folds import _rows


def test_a_window_keeps_the_rows_at_or_above_its_quantile():
    scale = np.repeat(np.arange(1.0, 11.0), 2)  # 10 levels, two rows each
    assert window_mask(scale, share=0.0).all()
    kept = window_mask(scale, share=0.5)
    assert kept.sum() == 10 and scale[kept].min() == pytest.approx(np.quantile(scale, 0.5), abs=0.5)
    assert (scale[kept] >= np.quantile(scale, 0.5)).all()
    assert not window_mask(scale, share=0.25)[scale < 3].any()


def test_a_window_keeps_at_least_the_top_three_levels_and_every_row_of_few_levels():
    scale = np.arange(1.0, 11.0)  # the 0.9 quantile (9.1) alone would keep one row
    kept = window_mask(scale, share=0.9)
    assert sorted(set(scale[kept])) == [8.0, 9.0, 10.0]
    few = np.array([1.0, 1.0, 2.0, 3.0] * 3)
    assert len(set(few)) == MIN_FIT_LEVELS and window_mask(few, share=0.75).all()
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            window_mask(scale, share=bad)


def test_a_windowed_task_narrows_fit_rows_only_and_scores_the_same_bands():
    task = load_task("vocab_scaling_law")
    windowed = task.windowed(0.5)
    assert windowed.window == 0.5 and task.window == 0.0
    scale = task.inputs.index(task.validation_scale)
    for full, narrow in zip(task.folds(), windowed.folds(), strict=True):
        assert _rows(narrow.score) == _rows(full.score)
        assert _rows(narrow.fit) < _rows(full.fit)
        for x_full, x_narrow in zip(full.fit.X, narrow.fit.X, strict=True):
            if len(x_full) and len(set(x_full[:, scale])) > MIN_FIT_LEVELS:
                assert x_narrow[:, scale].min() > x_full[:, scale].min()
    assert _rows(windowed.window_train()) < _rows(task.train())
    assert _rows(windowed.train()) == _rows(task.train())  # checks still probe the whole range
    assert _rows(task.window_train()) == _rows(task.train())
    assert windowed.windowed(0.0).folds()[0].fit.n_rows == task.folds()[0].fit.n_rows


def test_a_task_with_random_folds_has_no_scale_to_window_along():
    task = load_task("domain_mixture_scaling_law")
    assert task.validation_scale is None
    assert task.windowed(0.5) is task


def _bent_csv(tmp_path, *, bend: float):
    """E + A/N**a along N, in 4 groups; the smallest sizes lie above the law by ``bend``
    (barely trained models), fading out by a tenth of the range."""
    rng = np.random.default_rng(0)
    rows = []
    for g, amplitude in enumerate((300.0, 400.0, 500.0, 600.0)):
        for n in np.geomspace(1e6, 1e10, 17):
            clean = 1.8 + amplitude / n**0.3
            extra = bend * np.exp(-(np.log(n) - np.log(1e6)) / 1.5)
            loss = (clean + extra) * (1 + 0.002 * rng.standard_normal())
            rows.append({"g": f"g{g}", "N": n, "loss": loss})
    path = tmp_path / f"bent{bend}.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return load_task(str(path), inputs=["N"], outputs=["loss"], group="g", test="N >= 2e9")


LAWS = ["E + A/N**a", "E + A/N**a + B/log(N)", "A/N**a"]


def test_the_pick_leaves_out_small_runs_that_bend_away_and_keeps_rows_that_follow(tmp_path):
    options = dict(seed=0, restarts=8, bootstrap=3, bootstrap_restarts=3)
    shares = (0.0, 0.25, 0.5)
    bent = _bent_csv(tmp_path, bend=1.5)
    candidates = [(i, parse_for_task(t, bent)) for i, t in enumerate(LAWS)]
    pick = final_pick(candidates, bent, windows=shares, **options)
    assert pick.window > 0
    assert [w.share for w in pick.windows] == list(shares)
    kept = next(w for w in pick.windows if w.share == pick.window)
    assert all(kept.fitness <= w.fitness for w in pick.windows)
    assert "fitted above the lowest" in pick.reason
    # the window pays on held-out rows too: the law fitted without the bent rows extrapolates
    law = dict(candidates)[pick.chosen]
    windowed = heldout_score(law, bent.windowed(pick.window))
    everything = heldout_score(law, bent)
    assert windowed.parameters != everything.parameters
    assert windowed.metrics.nmse < everything.metrics.nmse

    straight = _bent_csv(tmp_path, bend=0.0)
    candidates = [(i, parse_for_task(t, straight)) for i, t in enumerate(LAWS)]
    assert final_pick(candidates, straight, windows=shares, **options).window == 0.0


def test_a_window_whose_resamples_cannot_be_fitted_is_set_aside(tmp_path, monkeypatch):
    """A window can leave a group one row per scale value; a draw with replacement then
    misses one and no law fits it. The pick must not end without a law: it sets that
    window aside, picks among the others as usual, and says so."""
    import sld.scoring._pick as pick_module

    real = pick_module.bootstrap_errors
    bent = _bent_csv(tmp_path, bend=1.5)
    candidates = [(i, parse_for_task(t, bent)) for i, t in enumerate(LAWS)]
    options = dict(seed=0, restarts=8, bootstrap=3, bootstrap_restarts=3)
    shares = (0.0, 0.25, 0.5)
    first = final_pick(candidates, bent, windows=shares, **options)
    assert first.window > 0  # as the test above: a window wins here
    poisoned = sum(bent.windowed(first.window).folds()[0].fit.rows_per_group)

    def failing_in_that_window(laws, folds, rows, *, samples, **kwargs):
        if folds[0].fit.n_rows == poisoned:
            return [[float("inf")] * samples for _ in laws]
        return real(laws, folds, rows, samples=samples, **kwargs)

    monkeypatch.setattr(pick_module, "bootstrap_errors", failing_in_that_window)
    pick = final_pick(candidates, bent, windows=shares, **options)
    assert pick.chosen is not None and pick.window != first.window
    assert f"the {first.window:.0%} fit window was set aside" in pick.reason
    # with one window only there is nothing to fall back on: no law, as before
    alone = final_pick(candidates, bent, windows=(first.window,), **options)
    assert alone.chosen is None and "set aside" not in alone.reason


def test_a_pick_started_again_keeps_the_fold_fits_it_made(tmp_path, monkeypatch):
    """Setting a window aside starts the pick again without it. The fold fits of the other
    shares were already made, in the same way: they are kept, and the pick is the one a
    pick given only the other shares makes."""
    import sld.scoring._pick as pick_module

    real_bootstrap, real_scores = pick_module.bootstrap_errors, pick_module.selection_scores
    bent = _bent_csv(tmp_path, bend=1.5)
    candidates = [(i, parse_for_task(t, bent)) for i, t in enumerate(LAWS)]
    # screens with fewer restarts than the full fits, so that no two fold fits look alike
    options = dict(seed=0, restarts=8, window_restarts=4, bootstrap=3, bootstrap_restarts=3)
    shares = (0.0, 0.25, 0.5)
    first = final_pick(candidates, bent, windows=shares, **options)
    poisoned = sum(bent.windowed(first.window).folds()[0].fit.rows_per_group)
    calls: list[tuple[int, int]] = []  # (fit rows of fold 0, restarts) per fold fit

    def failing_in_that_window(laws, folds, rows, *, samples, **kwargs):
        if folds[0].fit.n_rows == poisoned:
            return [[float("inf")] * samples for _ in laws]
        return real_bootstrap(laws, folds, rows, samples=samples, **kwargs)

    def counted(laws, task, **kwargs):
        calls.append((task.folds()[0].fit.n_rows, kwargs["restarts"]))
        return real_scores(laws, task, **kwargs)

    monkeypatch.setattr(pick_module, "bootstrap_errors", failing_in_that_window)
    monkeypatch.setattr(pick_module, "selection_scores", counted)
    again = final_pick(candidates, bent, windows=shares, **options)
    assert "set aside" in again.reason
    assert len(calls) == len(set(calls))  # no fold fit made twice
    others = tuple(s for s in shares if s != first.window)
    direct = final_pick(candidates, bent, windows=others, **options)
    assert again.chosen == direct.chosen and again.window == direct.window
    assert [e.model_dump() for e in again.entries] == [e.model_dump() for e in direct.entries]
    assert again.reason.startswith(direct.reason)


def test_one_window_is_the_pick_as_it_was(tmp_path):
    task = _bent_csv(tmp_path, bend=1.5)
    candidates = [(i, parse_for_task(t, task)) for i, t in enumerate(LAWS)]
    options = dict(seed=1, restarts=6, bootstrap=2, bootstrap_restarts=3)
    plain = final_pick(candidates, task, **options)
    assert plain.window == 0.0 and plain.windows == []
    assert "fitted" not in plain.reason
    assert final_pick(candidates, task, windows=(0.0,), **options) == plain


def test_sld_score_fits_in_a_window_when_asked_and_refuses_a_bad_share(tmp_path):
    import sld
    from sld.errors import ConfigError

    task = _bent_csv(tmp_path, bend=1.5)
    plain = sld.score("E + A/N**a", task, split="test", restarts=6)
    narrow = sld.score("E + A/N**a", task, split="test", restarts=6, window=0.5)
    assert narrow.parameters != plain.parameters
    assert narrow.metrics.nmse < plain.metrics.nmse
    every_row = sld.score("E + A/N**a", task, split="test", restarts=6, window=0.0)
    assert every_row.parameters == plain.parameters
    with pytest.raises(ConfigError, match="window"):
        sld.score("E + A/N**a", task, window=1.0)


def _tried(*fitness: float) -> list[WindowScore]:
    """Window scores at shares 0, 0.25, 0.5 and 0.75 with these best fitnesses."""
    shares = (0.0, 0.25, 0.5, 0.75)
    return [WindowScore(share=s, fitness=f, best=0) for s, f in zip(shares, fitness, strict=True)]


def test_a_window_must_gain_the_margin_over_every_row():

    assert choose_window(_tried(-1.0, -1.05, -1.09, -1.0)) == 0.0  # gains under the margin
    assert choose_window(_tried(-1.0, -1.05, -1.3, -1.45)) == 0.75  # a clear gain at each step
    assert choose_window(_tried(-1.0, -1.3, -1.3, -1.0)) == 0.25  # ties: the smaller share
    assert choose_window(_tried(-1.0, -1.0 - WINDOW_MARGIN, -1.0, -1.0)) == 0.0
    assert choose_window(_tried(-1.0, -1.05, -1.09, -1.0), margin=0.0) == 0.5
    assert choose_window(_tried(float("inf"), -1.0, float("inf"), float("inf"))) == 0.25


def test_a_window_leaves_out_no_more_rows_than_a_clear_gain_asks_for():
    """Once a share beats every row by the margin, the smallest share above 0 within the
    margin of it is kept: 0.75 beating 0.5 by a sliver moves nothing."""

    assert choose_window(_tried(-1.0, -1.05, -1.2, -1.25)) == 0.5  # 0.75 gains 0.05 over 0.5
    assert choose_window(_tried(-1.0, -1.17, -1.2, -1.25)) == 0.25  # within the margin: the widest
    # a share within the margin of the winner but not of every row is still kept: the window
    # has paid, the question is only how many rows it leaves out
    assert choose_window(_tried(-1.0, -1.06, -1.1, -1.15)) == 0.25
    assert choose_window(_tried(-1.0, -1.0, -1.2, -1.2 - 2 * WINDOW_MARGIN)) == 0.75
    # an unfitted share stays out
    assert choose_window(_tried(-1.0, float("inf"), -1.2, -1.25)) == 0.5
    assert choose_window(_tried(-1.3, -1.2, -1.25, -1.28)) == 0.0  # every row wins: nothing moves
    # without share 0 (a share set aside) the same rule holds among the rest
    rest = [w for w in _tried(-1.0, -1.05, -1.2, -1.25) if w.share > 0]
    assert choose_window(rest) == 0.5


def test_a_warm_start_reaches_every_folds_optimum_in_one_restart(tmp_path):
    from sld.scoring import selection_scores

    task = _bent_csv(tmp_path, bend=1.5)
    law = parse_for_task("E + A/N**a", task)
    (every_row,) = selection_scores([law], task, restarts=16)
    narrow = task.windowed(0.5)
    (cold,) = selection_scores([law], narrow, restarts=16)
    (warm,) = selection_scores([law], narrow, restarts=1, starts=[every_row.fit.parameters])
    assert len(warm.folds) == len(cold.folds) > 1
    for w, c in zip(warm.folds, cold.folds, strict=True):  # each fold's fit starts warm
        assert w.nmse == pytest.approx(c.nmse, rel=1e-4)
    assert warm.fit.parameters != every_row.fit.parameters


def test_the_pick_screens_windows_with_few_restarts_and_records_them(tmp_path):
    task = _bent_csv(tmp_path, bend=1.5)
    candidates = [(i, parse_for_task(t, task)) for i, t in enumerate(LAWS)]
    options = dict(seed=0, restarts=8, bootstrap=3, bootstrap_restarts=3)
    shares = (0.0, 0.25, 0.5)
    screened = final_pick(candidates, task, windows=shares, window_restarts=2, **options)
    full = final_pick(candidates, task, windows=shares, window_restarts=8, **options)
    assert screened.window_restarts == 2 and full.window_restarts == 8
    assert screened.window == full.window > 0
    assert screened.chosen == full.chosen
