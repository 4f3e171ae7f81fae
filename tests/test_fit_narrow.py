"""Narrowing the restarts (sld.fit._narrow): which restarts run on, and a fit that narrows."""

from __future__ import annotations

import numpy as np
import pytest
from test_fit import POWER_LAW, power_rows

from sld.fit import Fidelity, fit_law, fit_many
from sld.fit import _fit as fit_internals
from sld.fit import _run as run_internals
from sld.fit._lm import initial_carry
from sld.fit._narrow import chunks, kept, narrows


@pytest.mark.parametrize(
    ("restarts", "keep", "at", "max_iter", "expected"),
    [
        (16, 8, 20, 200, True),
        (32, 8, 20, 200, True),
        (16, 4, 20, 200, True),
        (8, 8, 20, 200, False),  # nothing to leave out
        (12, 8, 20, 200, False),  # not a whole number of chunks
        (16, 3, 20, 200, False),  # odd: the damping parity could not be kept
        (16, 0, 20, 200, False),  # turned off
        (16, 8, 200, 200, False),  # no iterations left past the short run
        (16, 8, 0, 200, False),
    ],
)
def test_narrows_only_where_restarts_can_be_left_out(restarts, keep, at, max_iter, expected):
    assert narrows(restarts=restarts, keep=keep, at=at, max_iter=max_iter) is expected


def test_chunks_cut_per_restart_arrays_and_share_the_rest():
    carry = initial_carry(np.arange(2 * 8 * 3, dtype=float).reshape(2, 8, 3))
    parts = chunks(carry, keep=4)
    assert len(parts) == 2
    np.testing.assert_array_equal(parts[1]["p"], carry["p"][:, 4:])
    assert parts[0]["lam"].shape == (2, 4)
    assert parts[0]["it"] is carry["it"] and parts[0]["best_ref"] is carry["best_ref"]


def _out(
    F: np.ndarray,
    *,
    it: int,
    good: np.ndarray | None = None,
    ref: tuple[int, list[float]] = (0, [50.0, 50.0]),
    stalled: bool = False,
) -> dict[str, np.ndarray]:
    """A stand-in LM output: p tags each restart by its F, so the tests can see which were kept."""
    G, R = F.shape
    return {
        "ref_it": np.asarray(ref[0], dtype=np.int32),
        "best_ref": np.asarray(ref[1][:G]),
        "stalled": np.asarray(stalled),
        "p": np.repeat(F[..., None], 2, axis=-1),
        "lam": np.ones((G, R)),
        "nu": np.full((G, R), 2.0),
        "active": np.ones((G, R), dtype=bool),
        "converged": np.zeros((G, R), dtype=bool),
        "good": np.ones((G, R), dtype=bool) if good is None else good,
        "dsq": np.ones((G, R, 2)),
        "F": F,
        "it": np.asarray(it, dtype=np.int32),
    }


def test_kept_takes_each_groups_best_by_parity_and_counts_every_good_restart():
    # group 0: the four lowest F are at even indices; parity keeps 2 even and 2 odd
    F0 = np.array([[1.0, 9.0, 2.0, 8.0], [3.0, 7.0, 4.0, 6.0]])
    F1 = np.array([[5.0, 5.0, 0.5, np.inf], [1.0, 2.0, 3.0, 4.0]])
    good1 = np.array([[True, True, True, False], [True, True, True, True]])
    first = _out(F0, it=20, ref=(0, [40.0, 30.0]))
    second = _out(F1, it=17, good=good1, ref=(0, [60.0, 20.0]), stalled=True)
    carry, finite = kept([first, second], keep=4)
    # restarts of group 0: F = 1 9 2 8 | 5 5 0.5 inf; evens 1 2 5 0.5 → 0.5, 1; odds 9 8 5 → 5, 8
    np.testing.assert_array_equal(carry["p"][0, :, 0], [0.5, 5.0, 1.0, 8.0])
    # group 1: F = 3 7 4 6 | 1 2 3 4; evens 3 4 1 3 → 1, 3 (index 0 before 6); odds 7 6 2 4 → 2, 4
    np.testing.assert_array_equal(carry["p"][1, :, 0], [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(finite, [7, 8])
    # the stall window goes on as in one batch: the earliest reference, its lowest best,
    # stalled only where every chunk stalled
    assert int(carry["it"]) == 20 and int(carry["ref_it"]) == 0
    np.testing.assert_array_equal(carry["best_ref"], [40.0, 20.0])
    assert not bool(carry["stalled"])
    assert bool(kept([_out(F0, it=20, stalled=True)] * 2, keep=4)[0]["stalled"])
    assert set(carry) >= {"p", "lam", "nu", "active", "converged", "good", "dsq"}


def test_kept_never_prefers_a_bad_restart():
    F = np.array([[0.1, 0.2, 5.0, 6.0, 7.0, 8.0]])
    good = np.array([[False, False, True, True, True, True]])
    carry, finite = kept([_out(F, it=20, good=good, ref=(0, [9.0]))], keep=2)
    np.testing.assert_array_equal(carry["p"][0, :, 0], [5.0, 6.0])
    assert carry["good"].all()
    np.testing.assert_array_equal(finite, [4])


def _big_rows():
    """Two groups of 400 rows: enough residuals per group for a fit to narrow."""
    return power_rows([(1.5, 400.0, 0.3), (2.0, 900.0, 0.35)], n=400, seed=3, noise=1e-3)


def test_narrowing_is_off_unless_asked_for():
    """A fit narrows only when its caller asks (the final pick's fits: RunConfig.final_narrow)."""
    rows = _big_rows()
    fit = fit_law(POWER_LAW, rows, restarts=16, seed=0)
    (many,) = fit_many([POWER_LAW], rows, restarts=16, seed=0)
    assert fit.fidelity is not None and fit.fidelity.narrow == 0
    assert many.fidelity is not None and many.fidelity.narrow == 0
    assert Fidelity().narrow == 0


def test_a_large_fit_narrows_and_reports_every_restart():
    rows = _big_rows()
    narrowed = fit_law(POWER_LAW, rows, restarts=16, seed=0, narrow=8)
    full = fit_law(POWER_LAW, rows, restarts=16, seed=0)
    assert narrowed.restarts == full.restarts == 16
    assert narrowed.finite_restarts == full.finite_restarts == 16
    assert narrowed.fidelity is not None and narrowed.fidelity.narrow == 8
    # one basin: every restart that runs on reaches it, so narrowing changes nothing that shows
    assert narrowed.train_loss == pytest.approx(full.train_loss, rel=1e-9)
    for g in rows.groups:
        for name in POWER_LAW.parameters:
            assert narrowed.parameters[g][name] == pytest.approx(full.parameters[g][name], rel=1e-6)


def test_a_narrowed_fit_is_deterministic_and_fit_many_agrees():
    rows = _big_rows()
    one = fit_law(POWER_LAW, rows, restarts=16, seed=4, narrow=8)
    again = fit_law(POWER_LAW, rows, restarts=16, seed=4, narrow=8)
    (batched,) = fit_many([POWER_LAW], rows, restarts=16, seed=4, narrow=8)
    assert one.parameters == again.parameters and one.train_loss == again.train_loss
    assert batched.train_loss == pytest.approx(one.train_loss, rel=1e-9)
    assert batched.fidelity is not None and batched.fidelity.narrow == 8


def test_only_a_large_fit_that_asks_narrows(monkeypatch):
    # below NARROW_ROWS residuals a group, or without narrow, the batch runs every restart
    # to the end: the output holds all 16 (a narrowed one holds the 8 kept)
    seen: list[int] = []
    real = fit_internals.summarise

    def spy(compiled, names, groups, out, *args, **kwargs):
        seen.append(np.shape(out["p"])[1])
        return real(compiled, names, groups, out, *args, **kwargs)

    monkeypatch.setattr(fit_internals, "summarise", spy)
    small = power_rows([(1.5, 400.0, 0.3)], n=40)
    fit_law(POWER_LAW, small, restarts=16, seed=0, narrow=8)
    fit_law(POWER_LAW, _big_rows(), restarts=16, seed=0, narrow=8)
    fit_law(POWER_LAW, _big_rows(), restarts=16, seed=0)
    fit_law(POWER_LAW, _big_rows(), restarts=12, seed=0, narrow=8)  # not whole chunks of 8
    assert seen == [16, 8, 16, 12]
    assert run_internals.NARROW_AT == 20
