"""fit_many_sets (row sets as extra groups) and fidelity (screening fits)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import sympy as sp
from pydantic import ValidationError
from test_fit import POWER_LAW, Rows, make_law, power_rows

from sld.errors import FitError
from sld.fit import SCREEN, Fidelity, FitResult, fit_law, fit_many, fit_many_sets
from sld.fit import _lowering as lowering
from sld.fit import _run as run_internals
from sld.fit._fidelity import subsample
from sld.fit._lowering import MIN_INSTRUCTIONS, lower
from sld.fit._program import compile_law


def resample(rows: Rows, rng: np.random.Generator) -> Rows:
    idx = [rng.integers(0, len(x), size=len(x)) for x in rows.X]
    return Rows(
        rows.groups,
        tuple(x[i] for x, i in zip(rows.X, idx, strict=True)),
        tuple(y[i] for y, i in zip(rows.y, idx, strict=True)),
    )


def test_row_sets_fit_as_one_batch_match_separate_fits() -> None:
    rows = power_rows([(1.7, 400.0, 0.3), (2.5, 50.0, 0.15)], noise=1e-3)
    rng = np.random.default_rng(7)
    samples = [resample(rows, rng) for _ in range(3)]
    seeds = [11, 12, 13]
    (batched,) = fit_many_sets([POWER_LAW], samples, seeds=seeds)
    assert len(batched) == 3
    for got, sample, seed in zip(batched, samples, seeds, strict=True):
        one = fit_law(POWER_LAW, sample, seed=seed)
        assert got.ok and one.ok
        assert got.groups == ["g0", "g1"]
        assert got.train_loss == pytest.approx(one.train_loss, rel=1e-8)
        for g in got.groups:
            assert got.parameters[g]["a"] == pytest.approx(one.parameters[g]["a"], rel=1e-6)


def test_unfittable_row_set_fails_alone() -> None:
    good = power_rows([(1.7, 400.0, 0.3)], noise=1e-3)
    flat = Rows(("g0",), good.X, (np.full_like(good.y[0], 2.0),))
    (results,) = fit_many_sets([POWER_LAW], [good, flat, good])
    assert results[0].ok and results[2].ok
    assert not results[1].ok and "variance" in (results[1].reason or "")
    assert results[0].train_loss == pytest.approx(results[2].train_loss, rel=1e-8)


def test_seeds_must_match_row_sets() -> None:
    rows = power_rows([(1.7, 400.0, 0.3)])
    with pytest.raises(FitError):
        fit_many_sets([POWER_LAW], [rows, rows], seeds=[1, 2, 3])
    with pytest.raises(FitError):
        fit_many_sets([POWER_LAW], [])


def test_results_record_their_fidelity() -> None:
    rows = power_rows([(1.7, 400.0, 0.3)], noise=1e-3)
    (full,) = fit_many([POWER_LAW], rows, restarts=8, max_iter=50)
    assert full.fidelity == Fidelity(restarts=8, max_iter=50)
    assert fit_law(POWER_LAW, rows, restarts=8).fidelity == Fidelity(restarts=8)
    (screen,) = fit_many([POWER_LAW], rows, fidelity=SCREEN)
    assert screen.fidelity == SCREEN and screen.restarts == SCREEN.restarts
    again = FitResult.model_validate_json(screen.model_dump_json())
    assert again == screen


def test_subsample_is_seeded_ordered_and_bounded() -> None:
    rows = power_rows([(1.7, 400.0, 0.3), (2.5, 50.0, 0.15)], n=100)
    one = subsample(rows, max_rows=30, seed=3)
    two = subsample(rows, max_rows=30, seed=3)
    other = subsample(rows, max_rows=30, seed=4)
    assert [len(x) for x in one.X] == [30, 30]
    for a, b in zip(one.X, two.X, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(one.X[0], other.X[0])
    full = rows.X[0][:, 0]
    picked = one.X[0][:, 0]
    positions = [int(np.flatnonzero(full == v)[0]) for v in picked]
    assert positions == sorted(positions)
    assert subsample(rows, max_rows=100, seed=3) is rows


def test_screen_on_a_subsample_finds_the_law() -> None:
    rows = power_rows([(1.7, 400.0, 0.3)], n=600, noise=1e-3)
    screen = Fidelity(restarts=4, max_iter=60, max_rows=64)
    (res,) = fit_many([POWER_LAW], rows, fidelity=screen, seed=2)
    assert res.ok
    assert res.parameters["g0"]["a"] == pytest.approx(0.3, rel=0.05)


def test_float32_screen_fits_close_to_float64() -> None:
    rows = power_rows([(1.7, 400.0, 0.3)], n=200, noise=1e-2)
    (f64,) = fit_many([POWER_LAW], rows)
    (f32,) = fit_many([POWER_LAW], rows, fidelity=Fidelity(dtype="float32", max_iter=60))
    assert f32.ok and f32.fidelity is not None and f32.fidelity.dtype == "float32"
    assert f32.train_loss == pytest.approx(f64.train_loss, rel=1e-2)


def test_fidelity_rejects_nonsense() -> None:
    with pytest.raises(ValidationError):
        Fidelity(restarts=0)
    with pytest.raises(ValidationError):
        Fidelity(max_rows=2)
    with pytest.raises(ValidationError):
        SCREEN.restarts = 3  # type: ignore[misc]


def test_a_warm_start_begins_restart_zero_where_it_says() -> None:
    rows = power_rows([(1.7, 400.0, 0.3), (2.5, 50.0, 0.15)], noise=1e-3)
    (best,) = fit_many([POWER_LAW], rows, restarts=16)
    assert best.ok
    # three LM steps from the seeded start leave the fit short; from the best fit they stay there
    (cold,) = fit_many([POWER_LAW], rows, restarts=1, max_iter=3)
    (warm,) = fit_many([POWER_LAW], rows, restarts=1, max_iter=3, starts=[best.parameters])
    for g in ("g0", "g1"):
        assert warm.group_loss[g] == pytest.approx(best.group_loss[g], rel=1e-6)
        assert cold.group_loss[g] > 1.5 * best.group_loss[g]
    # only the named groups are warm; a start missing a parameter is ignored
    (one,) = fit_many(
        [POWER_LAW], rows, restarts=1, max_iter=3, starts=[{"g1": best.parameters["g1"]}]
    )
    assert one.group_loss["g0"] == pytest.approx(cold.group_loss["g0"], rel=1e-12)
    assert one.group_loss["g1"] == pytest.approx(best.group_loss["g1"], rel=1e-6)
    partial = {"g0": {"E": 1.7, "A": 400.0}}
    (same,) = fit_many([POWER_LAW], rows, restarts=1, max_iter=3, starts=[partial])
    assert same.group_loss == cold.group_loss
    with pytest.raises(FitError):
        fit_many([POWER_LAW], rows, restarts=1, starts=[None, None])


# Longer than the old 16-instruction bucket, within 32: its own executable before
_N = sp.Symbol("N", positive=True)
_E, _A, _a, _b, _c, _k = sp.symbols("E A a b c k", real=True)
LONG_LAW = make_law(
    [
        _E
        + _A / _N**_a
        + _k * sp.log(_N) ** 2 / (1 + _c * _N**_b)
        + sp.exp(-_b * sp.log(_N)) * sp.log(_N) / (1 + _k * sp.log(_N) ** 3)
    ],
    ["N"],
)


def _instructions(law: object) -> int:
    return lower(compile_law(law).program).n_instructions


def test_small_and_long_laws_share_one_executable() -> None:
    assert _instructions(POWER_LAW) <= 16 < _instructions(LONG_LAW) <= MIN_INSTRUCTIONS
    rows = power_rows([(1.7, 400.0, 0.3)], noise=1e-3)
    run_internals._COMPILED.clear()
    short, long = fit_many([POWER_LAW, LONG_LAW], rows, restarts=4, max_iter=20)
    assert short.ok and long.ok
    assert len(run_internals._COMPILED) == 1


def test_wider_instruction_and_hoisted_padding_changes_no_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = power_rows([(1.7, 400.0, 0.3), (2.5, 50.0, 0.15)], noise=1e-3)

    def fits() -> list[tuple[object, ...]]:
        return [
            (f.train_loss, f.parameters, f.group_loss, f.iterations, f.finite_restarts)
            for f in fit_many([POWER_LAW, LONG_LAW], rows, restarts=6, seed=5)
        ]

    before = fits()
    monkeypatch.setattr(lowering, "MIN_INSTRUCTIONS", 4 * MIN_INSTRUCTIONS)
    monkeypatch.setattr(lowering, "MIN_HOISTED", 4 * lowering.MIN_HOISTED)
    assert lower(compile_law(POWER_LAW).program).n_registers >= 4 * MIN_INSTRUCTIONS
    assert fits() == before  # to the last bit: padding is memory, never arithmetic


def test_the_compile_cache_keeps_the_most_recently_used_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # each compiled run holds hundreds of memory mappings, so the cache is bounded
    # (sld.fit._run.COMPILED_MAX); a run used again moves to the back of the queue
    monkeypatch.setattr(run_internals, "COMPILED_MAX", 2)
    monkeypatch.setattr(run_internals, "_COMPILED", OrderedDict())
    rows = power_rows([(1.7, 400.0, 0.3)], noise=1e-3)
    seeds = iter(range(100))  # a new seed each call, so no fit comes from the part cache

    def fit(restarts: int) -> tuple[object, ...]:
        assert fit_many([POWER_LAW], rows, restarts=restarts, max_iter=5, seed=next(seeds))[0].ok
        return next(reversed(run_internals._COMPILED))  # the run just used

    two, three = fit(2), fit(3)
    assert fit(2) == two  # used again: now the most recent
    four = fit(4)  # evicts three, the least recently used
    assert list(run_internals._COMPILED) == [two, four]
    assert three not in run_internals._COMPILED
