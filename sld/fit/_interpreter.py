"""A compile-once interpreter: many laws, one XLA executable.

Each law's ``Program`` is lowered on the host to fixed-length instruction arrays
(:mod:`sld.fit._lowering`: operand kinds, hoisted instructions, use tables, padded
sizes); one jitted interpreter runs any of them. Instruction ``i`` writes slot ``i``
with its value v and the partials da = ∂v/∂a, db = ∂v/∂b (one ``lax.switch`` branch
per opcode, rules as in ``_evaluate``). Hoisted values are computed once per LM run
(:func:`hoisted_values`) and read back, so each evaluation does only the work that
depends on p.

**Reverse mode.** The Jacobian comes from one backward sweep per output instead
of forward tangents: the adjoint of slot i is

    A[i] = seed_k[i] + Σ_{(u, s) ∈ uses(i)} A[u] · D[u, s]

(D[u, s] the partial of instruction u w.r.t. its operand s), pulled from its at
most two users, and ∂f_k/∂p_j = Σ over the at most two uses (u, s) of p_j of
A[u]·D[u, s]. Every array the loops touch is value-sized (G, R, N), where forward
tangents were P times larger and XLA copied two operand tangents out of the
register file at every instruction. Nodes or parameters used more than twice
get copies (``x + 0``) so two use slots always suffice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from . import _numerics as numerics
from ._lowering import (
    FROM_CONST,
    FROM_HOISTED,
    FROM_INPUT,
    FROM_PARAM,
    N_INTERPRETER_OPCODES,
    POWL,
    RECIP,
    REG,
    SQUARE,
    USES,
)
from ._program import ABS, ADD, EXP, LOG, MAX, MIN, MUL, POW, POWC, TANH


def _branches(hoisted: jax.Array | None = None) -> list[Any]:
    """Per-opcode ``(va, vb, c) → (v, ∂v/∂a, ∂v/∂b)``, shape-agnostic.

    ``hoisted`` (H, G, N): the hoisted values ``POWL`` reads its log from (None where
    no ``POWL`` can occur: in the hoisted instructions themselves).
    """

    def op_add(va, vb, c):  # noqa: ANN001, ANN202
        one = jnp.ones_like(va)
        return va + vb, one, one

    def op_mul(va, vb, c):  # noqa: ANN001, ANN202
        return va * vb, vb, va

    def op_powc(va, vb, c):  # noqa: ANN001, ANN202
        return *numerics.power_const_parts(va, c), jnp.zeros_like(va)

    def op_recip(va, vb, c):  # noqa: ANN001, ANN202
        return *numerics.reciprocal_parts(va), jnp.zeros_like(va)

    def op_square(va, vb, c):  # noqa: ANN001, ANN202
        return *numerics.square_parts(va), jnp.zeros_like(va)

    def op_pow(va, vb, c):  # noqa: ANN001, ANN202
        v, la = numerics.power_parts(va, vb)
        return v, *numerics.power_grad(va, vb, v, la)

    def op_powl(va, vb, c):  # noqa: ANN001, ANN202
        # va: a parameter-free base, so ∂/∂a is never read; c: the hoisted slot of log|a|
        if hoisted is None:  # traced for the hoisted instructions' switch, never taken there
            return op_none(va, vb, c)
        la = _index(hoisted, c.astype(jnp.int32))[:, None, :]
        v = numerics.power_from_log(va, vb, la)
        return v, jnp.zeros_like(v), numerics.power_grad(va, vb, v, la)[1]

    def op_log(va, vb, c):  # noqa: ANN001, ANN202
        return numerics.log(va), 1.0 / va, jnp.zeros_like(va)

    def op_exp(va, vb, c):  # noqa: ANN001, ANN202
        v = jnp.exp(va)
        return v, v, jnp.zeros_like(va)

    def op_tanh(va, vb, c):  # noqa: ANN001, ANN202
        v = jnp.tanh(va)
        return v, 1.0 - v * v, jnp.zeros_like(va)

    def op_abs(va, vb, c):  # noqa: ANN001, ANN202
        return jnp.abs(va), jnp.sign(va), jnp.zeros_like(va)

    def op_min(va, vb, c):  # noqa: ANN001, ANN202
        pick = va <= vb
        return jnp.where(pick, va, vb), pick.astype(va.dtype), (~pick).astype(va.dtype)

    def op_max(va, vb, c):  # noqa: ANN001, ANN202
        pick = va >= vb
        return jnp.where(pick, va, vb), pick.astype(va.dtype), (~pick).astype(va.dtype)

    def op_none(va, vb, c):  # noqa: ANN001, ANN202
        zero = jnp.zeros_like(va)
        return zero, zero, zero

    branches = [op_none] * N_INTERPRETER_OPCODES
    for code_, fn in (
        (ADD, op_add), (MUL, op_mul), (POWC, op_powc), (POW, op_pow), (LOG, op_log),
        (EXP, op_exp), (TANH, op_tanh), (ABS, op_abs), (MIN, op_min), (MAX, op_max),
        (RECIP, op_recip), (SQUARE, op_square), (POWL, op_powl),
    ):  # fmt: skip
        branches[code_] = fn
    return branches


def _index(array: jax.Array, i: jax.Array, axis: int = 0) -> jax.Array:
    return jax.lax.dynamic_index_in_dim(array, i, axis=axis, keepdims=False)


def hoisted_values(code: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """Values of the hoisted (parameter-free) instructions: x (G, N, I) → (H, G, N)."""
    G, N, _ = x.shape
    H = code["h_opcode"].shape[0]
    branches = _branches()

    def fetch(Hv: jax.Array, kind: jax.Array, idx: jax.Array, c: jax.Array) -> jax.Array:
        col = _index(x, jnp.where(kind == FROM_INPUT, idx, 0), axis=2)
        reg = _index(Hv, jnp.where(kind == FROM_HOISTED, idx, 0))
        return jnp.where(kind == FROM_INPUT, col, jnp.where(kind == FROM_HOISTED, reg, c))

    def step(i: jax.Array, Hv: jax.Array) -> jax.Array:
        va = fetch(Hv, code["h_ka"][i], code["h_ia"][i], code["h_ca"][i])
        vb = fetch(Hv, code["h_kb"][i], code["h_ib"][i], code["h_cb"][i])
        v = jax.lax.switch(code["h_opcode"][i], branches, va, vb, code["h_const"][i])[0]
        return jax.lax.dynamic_update_index_in_dim(Hv, v, i, axis=0)

    return jax.lax.fori_loop(0, code["h_n"], step, jnp.zeros((H, G, N), dtype=x.dtype))


Workspace = tuple[jax.Array, jax.Array, jax.Array, jax.Array]


def workspace(
    code: dict[str, jax.Array], p: jax.Array, x: jax.Array, *, registers: int
) -> Workspace:
    """Zeroed scratch arrays for :func:`interpret`: slot values V (S+1, G, R, N), partials
    D (2S+2, G, R, N), adjoints A (S+1, K, G, R, N) and Jacobian columns (P, K, G, R, N)."""
    G, R, P = p.shape
    N, K, S = x.shape[1], code["outputs"].shape[0], registers
    return (
        jnp.zeros((S + 1, G, R, N), dtype=p.dtype),
        jnp.zeros((2 * S + 2, G, R, N), dtype=p.dtype),
        jnp.zeros((S + 1, K, G, R, N), dtype=p.dtype),
        jnp.zeros((P, K, G, R, N), dtype=p.dtype),
    )


def interpret(
    code: dict[str, jax.Array],
    p: jax.Array,
    x: jax.Array,
    *,
    registers: int,
    hoisted: jax.Array | None = None,
    work: Workspace | None = None,
) -> tuple[jax.Array, jax.Array, Workspace]:
    """Run lowered instructions: p (G, R, P), x (G, N, I) → f (G, R, N, K), ∂f/∂p (G, R, N, K, P)
    and the workspace after the run.

    ``hoisted``: ``hoisted_values(code, x)``, computed here when not given.
    Forward sweep: slot values V and partials D (D[2i] = ∂v_i/∂a, D[2i+1] = ∂v_i/∂b);
    backward sweep: adjoints A (one column per output), pulled from the use tables.

    ``work``: the arrays the sweeps write into (:func:`workspace`; zeroed here when not
    given). A run writes every slot it reads before reading it, and never writes the zero
    slots or the padded Jacobian columns, so the workspace one run returns serves the next
    run of the same code as it is. Threading it through the LM loop keeps the arrays in
    place between evaluations instead of zeroing megabytes at each (on vocab laws, a third
    of an evaluation's time).
    """
    G, R, P = p.shape
    N = x.shape[1]
    K = code["outputs"].shape[0]
    S = registers
    dtype = p.dtype
    Hv = hoisted_values(code, x) if hoisted is None else hoisted
    V0, D0, A0, jac0 = workspace(code, p, x, registers=S) if work is None else work
    branches = _branches(Hv)

    def fetch(V: jax.Array, kind: jax.Array, idx: jax.Array, c: jax.Array) -> jax.Array:
        reg = _index(V, jnp.where(kind == REG, idx, 0))
        col = _index(x, jnp.where(kind == FROM_INPUT, idx, 0), axis=2)
        hoist = _index(Hv, jnp.where(kind == FROM_HOISTED, idx, 0))
        row = jnp.where(kind == FROM_INPUT, col, hoist)[:, None, :]
        par = jax.lax.dynamic_index_in_dim(p, jnp.where(kind == FROM_PARAM, idx, 0), axis=2)
        leaf = jnp.where(kind == FROM_PARAM, par, jnp.where(kind == FROM_CONST, c, row))
        return jnp.where(kind == REG, reg, leaf)

    def forward(i: jax.Array, state: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        V, D = state
        va = fetch(V, code["ka"][i], code["ia"][i], code["ca"][i])
        vb = fetch(V, code["kb"][i], code["ib"][i], code["cb"][i])
        v, da, db = jax.lax.switch(code["opcode"][i], branches, va, vb, code["const"][i])
        V = jax.lax.dynamic_update_index_in_dim(V, v, i, axis=0)
        D = jax.lax.dynamic_update_slice_in_dim(D, jnp.stack([da, db]), 2 * i, axis=0)
        return V, D

    V, D = jax.lax.fori_loop(0, code["n"], forward, (V0, D0))
    seeds = (jnp.arange(S + 1, dtype=jnp.int32)[:, None] == code["outputs"][None, :]).astype(dtype)
    n = code["n"]

    def backward(k: jax.Array, A: jax.Array) -> jax.Array:
        i = n - 1 - k
        a = jnp.broadcast_to(seeds[i][:, None, None, None], (K, G, R, N))
        for u in range(2):
            a = a + _index(A, code["use_a"][i, u]) * _index(D, code["use_d"][i, u])[None]
        return jax.lax.dynamic_update_index_in_dim(A, a, i, axis=0)

    A = jax.lax.fori_loop(0, n, backward, A0)

    def column(j: jax.Array, jac: jax.Array) -> jax.Array:
        # ∂f_k/∂p_j = Σ_u A[par_a[j, u], k] · D[par_d[j, u]] (slices, not an XLA gather: far
        # faster); only the law's own parameters, padded columns stay zero
        total = jnp.zeros((K, G, R, N), dtype=dtype)
        for u in range(USES):
            total = total + _index(A, code["par_a"][j, u]) * _index(D, code["par_d"][j, u])[None]
        return jax.lax.dynamic_update_index_in_dim(jac, total, j, axis=0)

    jac = jax.lax.fori_loop(0, code["n_params"], column, jac0)  # (P, K, G, R, N)
    f = jnp.moveaxis(V[code["outputs"]], 0, -1)
    return f, jnp.moveaxis(jac, (0, 1), (-1, -2)), (V, D, A, jac)


def interpreter_model(
    code: dict[str, Any], x: jax.Array, *, registers: int
) -> tuple[Any, Callable[[jax.Array], Workspace]]:
    """The LM loop's model ``(p, work) ↦ (f, ∂f/∂p, work)`` for one law's instructions over
    fixed rows, and ``p ↦`` its first workspace.

    The hoisted values are computed here, once per LM run, not per evaluation.
    """
    hoisted = hoisted_values(code, x)

    def model(p: jax.Array, work: Workspace) -> tuple[jax.Array, jax.Array, Workspace]:
        return interpret(code, p, x, registers=registers, hoisted=hoisted, work=work)

    def first(p: jax.Array) -> Workspace:
        return workspace(code, p, x, registers=registers)

    return model, first
