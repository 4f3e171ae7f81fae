"""The compile-once interpreter computes what the straight-line evaluator computes.

Values and Jacobians agree, special cases included (powers of negative, zero and
parameter-free bases, integer and zero exponents), and a workspace carried from one
evaluation to the next gives what a fresh one gives.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

from sld.fit._evaluate import evaluate
from sld.fit._interpreter import interpret
from sld.fit._lowering import POWL, lower
from sld.fit._program import CompiledLaw, compile_law

x, y = sp.symbols("x y", real=True)
a, b, c, d = sp.symbols("a b c d", real=True)


@dataclass(frozen=True)
class FakeLaw:
    expressions: tuple[sp.Expr, ...]
    inputs: tuple[str, ...] = ("x", "y")
    parameters: tuple[str, ...] = ()
    key: str = ""
    canonical_parameters: tuple[str, ...] = field(default=())


def compiled(*exprs: sp.Expr) -> CompiledLaw:
    names = sorted({str(s) for e in exprs for s in e.free_symbols} - {"x", "y"})
    return compile_law(FakeLaw(tuple(exprs), parameters=tuple(names)))


LAWS = {
    "power of an input": (a + b * x**c,),
    "power of a parameter-free subtree": (a * sp.log(y) ** b + c,),
    "power of a constant": (a * 2**b + c * y,),
    "power of a parameter-dependent base": (a * (y + b) ** c,),
    "constant powers": (a / (y + b) + c * (y + d) ** 2 + (y + a) ** sp.Rational(1, 3),),
    "exp, tanh, abs, min, max": (
        a * sp.exp(-b * y) + sp.tanh(c * x) + sp.Abs(d - x) + sp.Min(a, x) + sp.Max(b * y, c),
    ),
    "a value used many times": (a * y**b + a * x**b + a * b + (a + b) ** 2 + a / (b + y),),
    "two outputs sharing parameters": (a + b * y**c, a * x + d * y ** (-c)),
}

# x takes negative, zero and positive values; y is positive
X = np.array([[-2.0, 0.5], [-1.5, 1.0], [0.0, 2.0], [0.7, 3.0], [1.3, 7.5], [2.0, 11.0]])
# exponents on purpose: fractional, exactly integer (odd and even), exactly zero, negative
PARAMS = np.array(
    [
        [0.3, -1.2, 0.7, 0.2],
        [1.0, 2.0, 2.0, -0.5],
        [-0.4, 0.5, 3.0, 1.5],
        [0.8, 0.0, 0.0, 0.9],
        [2.0, -0.3, -1.0, 0.1],
    ]
)


def straight(law: CompiledLaw, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f, j = evaluate(law.program, jnp.asarray(p), jnp.asarray(X), xp=jnp)
    return np.asarray(f), np.asarray(j)


@functools.cache
def _jitted(registers: int) -> Any:
    """``interpret`` compiled once per register count (the laws here share one)."""

    def run(code: Any, p: Any, x: Any, work: Any) -> Any:
        return interpret(code, p, x, registers=registers, work=work)

    return jax.jit(run)


def interpreted(
    law: CompiledLaw, p: np.ndarray, *, work: object = None
) -> tuple[np.ndarray, np.ndarray, object]:
    code = lower(law.program)
    arrays = {k: jnp.asarray(v) for k, v in code.arrays.items()}
    padded = np.zeros((1, len(p), code.n_params))
    padded[0, :, : law.program.n_params] = p
    f, j, work = _jitted(code.n_registers)(arrays, jnp.asarray(padded), jnp.asarray(X[None]), work)
    return np.asarray(f)[0], np.asarray(j)[0, ..., : law.program.n_params], work


@pytest.mark.parametrize("name", LAWS)
def test_interpreter_matches_straight_line_values_and_jacobian(name: str) -> None:
    law = compiled(*LAWS[name])
    p = PARAMS[:, : law.program.n_params]
    f, j, _ = interpreted(law, p)
    for r in range(len(p)):
        want_f, want_j = straight(law, p[r])
        np.testing.assert_allclose(f[r], want_f, rtol=1e-12, atol=1e-12, equal_nan=True)
        # forward mode spreads a NaN partial over every column of its row (0·NaN); reverse
        # mode keeps the columns apart, so the Jacobians agree wherever forward mode's is finite
        finite = np.isfinite(want_j)
        assert finite.mean() >= 0.5  # x < 0 in half the rows
        np.testing.assert_allclose(j[r][finite], want_j[finite], rtol=1e-12, atol=1e-12)


def test_powers_of_parameter_free_bases_read_a_hoisted_log() -> None:
    """x**c and log(y)**b run as POWL; a base that moves with the parameters does not."""
    hoisted_base = lower(compiled(a + b * x**c, a * sp.log(y) ** b).program)
    moving_base = lower(compiled(a * (y + b) ** c).program)
    assert list(hoisted_base.arrays["opcode"]).count(POWL) == 2
    assert POWL not in list(moving_base.arrays["opcode"])


@pytest.mark.parametrize("name", LAWS)
def test_a_carried_workspace_gives_what_a_fresh_one_gives(name: str) -> None:
    law = compiled(*LAWS[name])
    p = PARAMS[:, : law.program.n_params]
    _, _, work = interpreted(law, p[::-1] * 1.7)
    f_fresh, j_fresh, _ = interpreted(law, p)
    f_carried, j_carried, _ = interpreted(law, p, work=work)
    np.testing.assert_array_equal(f_carried, f_fresh)
    np.testing.assert_array_equal(j_carried, j_fresh)
