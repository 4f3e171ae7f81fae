"""The LM's batched small solves: LAPACK's answers from plain XLA ops, and no LAPACK call."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from test_fit import POWER_LAW, power_rows
from test_fit_many import LONG_LAW

from sld.fit import _run as run_internals
from sld.fit import fit_law, fit_many
from sld.fit._solve import UNROLL_UP_TO, solve


@pytest.mark.parametrize("size", [1, 2, 5, UNROLL_UP_TO, UNROLL_UP_TO + 4])
def test_solve_matches_lapack_on_random_systems(size: int) -> None:
    rng = np.random.default_rng(size)
    a = rng.normal(size=(3, 4, size, size)) + 3.0 * np.eye(size)  # well conditioned
    b = rng.normal(size=(3, 4, size))
    x = np.asarray(jax.jit(solve)(a, b))
    assert x.shape == (3, 4, size)
    np.testing.assert_allclose(x, np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-10, atol=1e-12)


def test_solve_pivots_past_a_zero_leading_entry() -> None:
    # without a row swap the first step divides by a₀₀ = 0
    a = np.array([[[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [4.0, 1.0, 0.0]]])
    b = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(np.asarray(solve(a, b)), np.linalg.solve(a, b[..., None])[..., 0])


def test_solve_takes_the_largest_pivot_on_badly_scaled_rows() -> None:
    # a tiny leading entry: eliminating on it (no pivoting) loses every digit of x₀
    a = np.array([[[1e-20, 1.0], [1.0, 1.0]]])
    b = np.array([[1.0, 2.0]])
    np.testing.assert_allclose(np.asarray(solve(a, b)), [[1.0, 1.0]], rtol=1e-12)


def test_solve_keeps_lapacks_accuracy_when_columns_differ_by_twenty_orders() -> None:
    # LM's normal equations in raw units: a = S·B·S with S spanning 1e-10 … 1e10. A row
    # swap done by arithmetic rounded the small rows away; the backward error must stay
    # as small as LAPACK's
    rng = np.random.default_rng(7)
    j = rng.normal(size=(200, 30, 5))
    scale = 10 ** rng.uniform(-10, 10, size=(200, 5))
    a = scale[:, :, None] * np.einsum("bmp,bmq->bpq", j, j) * scale[:, None, :]
    b = rng.normal(size=(200, 5)) * scale
    x = np.asarray(jax.jit(solve)(a, b))
    ax = np.einsum("bpq,bq->bp", a, x)
    size = np.einsum("bpq,bq->bp", np.abs(a), np.abs(x)) + np.abs(b)
    assert np.max(np.abs(ax - b) / size) < 1e-11


def test_solve_marks_a_singular_system_non_finite_and_keeps_the_others() -> None:
    a = np.stack([np.array([[1.0, 2.0], [2.0, 4.0]]), np.array([[2.0, 0.0], [0.0, 4.0]])])
    b = np.array([[1.0, 1.0], [2.0, 2.0]])
    x = np.asarray(solve(a, b))
    assert not np.all(np.isfinite(x[0]))
    np.testing.assert_allclose(x[1], [1.0, 0.5])


def test_solve_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., P, P\)"):
        solve(np.ones((2, 3, 3)), np.ones((2, 4)))


def test_the_fitters_executables_call_no_lapack_kernel() -> None:
    # LAPACK's batched kernels wait on XLA:CPU's intra-op pool, which deadlocks two
    # executions that run at once (sld.fit._solve): no compiled LM run may hold one.
    # Both evaluators: straight-line code (fit_law) and the interpreter (fit_many).
    rows = power_rows([(1.7, 400.0, 0.3)], noise=1e-3)
    run_internals._COMPILED.clear()
    assert fit_law(POWER_LAW, rows, restarts=4, max_iter=10).ok
    assert all(f.ok for f in fit_many([POWER_LAW, LONG_LAW], rows, restarts=4, max_iter=10))
    texts = [compiled.as_text() for compiled in run_internals._COMPILED.values()]
    assert len(texts) >= 2
    for text in texts:
        assert "custom-call(" not in text  # the form every LAPACK kernel takes in HLO
        assert "custom_call_target" not in text
