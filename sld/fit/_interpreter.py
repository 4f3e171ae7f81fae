"""A compile-once interpreter: many laws, one XLA executable.

Each law's ``Program`` is lowered on the host (microseconds) to fixed-length
instruction arrays over a small register file::

    opcode (S,), a (S,), b (S,), const (S,), dst (S,), outputs (K,), n ()

Instruction i reads registers ``a[i]``, ``b[i]`` (for INPUT/PARAM, ``a`` is the
column / slot), computes value and forward-mode tangent with the rules in
``_program`` (one ``lax.switch`` branch per opcode, so only that op runs), and
writes register ``dst[i]``. Registers are reused once their value is dead
(linear scan), so the file holds the live values, not every node.

Sizes are padded to buckets (instructions, registers, parameter slots), so laws
of similar size share the executable; padded parameter slots never appear in the
program, get zero Jacobian columns and so a zero LM step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _numerics as numerics
from ._program import (
    ABS,
    ADD,
    CONST,
    EXP,
    INPUT,
    LOG,
    MAX,
    MIN,
    MUL,
    N_OPCODES,
    PARAM,
    POW,
    POWC,
    TANH,
    Program,
)

SIZE_BUCKETS = (4, 8, 16, 32, 64, 128, 256, 512, 1024)
# interpreter-only opcodes: POWC with the exponents −1 and 2, which need no exp or log
RECIP, SQUARE = N_OPCODES, N_OPCODES + 1
N_INTERPRETER_OPCODES = N_OPCODES + 2
_SPECIAL_POWC = {-1.0: RECIP, 2.0: SQUARE}


def size_bucket(n: int) -> int:
    for b in SIZE_BUCKETS:
        if b >= n:
            return b
    return int(2 ** np.ceil(np.log2(n)))


@dataclass(frozen=True)
class Instructions:
    """Host arrays of one lowered program (see module docstring) and its padded sizes."""

    arrays: dict[str, np.ndarray]
    n_instructions: int
    n_registers: int
    n_params: int


REG, FROM_INPUT, FROM_PARAM, FROM_CONST = range(4)  # operand kinds
_LEAF_KIND = {INPUT: FROM_INPUT, PARAM: FROM_PARAM, CONST: FROM_CONST}
_BINARY = (ADD, MUL, POW, MIN, MAX)


def lower(
    program: Program,
    *,
    n_params: int | None = None,
    length: int | None = None,
    registers: int | None = None,
) -> Instructions:
    """Register-allocate a program into padded instruction arrays.

    Leaves (inputs, parameters, constants) are not instructions: each operand is
    (kind, index, constant), fetched directly. An output that is itself a leaf gets
    a copy instruction ``leaf + 0``. ``n_params``, ``length`` and ``registers``
    override the bucketed sizes.
    """
    nodes = list(program.nodes)
    outputs = list(program.outputs)
    for k, o in enumerate(outputs):
        if nodes[o][0] in _LEAF_KIND:
            zero = len(nodes)
            nodes.append((CONST, -1, -1, 0.0))
            nodes.append((ADD, o, zero, 0.0))
            outputs[k] = len(nodes) - 1
    n = len(nodes)
    is_leaf = [op in _LEAF_KIND for op, *_ in nodes]
    last_use = np.full(n, -1)
    for i, (op, a, b, _c) in enumerate(nodes):
        if not is_leaf[i]:
            last_use[a] = i
            if op in _BINARY:
                last_use[b] = i
    for o in outputs:
        last_use[o] = n  # outputs live to the end
    depends = [op == PARAM for op, *_ in nodes]
    fields: dict[str, list[Any]] = {
        k: []
        for k in ("opcode", "const", "dst", "ka", "ia", "ca", "kb", "ib", "cb", "dep_a", "dep_b")
    }
    reg = np.full(n, -1, dtype=np.int32)
    free: list[int] = []
    n_regs = 0

    def operand(j: int) -> tuple[int, int, float]:
        op, a, _b, c = nodes[j]
        if op == INPUT or op == PARAM:
            return _LEAF_KIND[op], a, 0.0
        if op == CONST:
            return FROM_CONST, 0, c
        return REG, int(reg[j]), 0.0

    for i, (op, a, b, c) in enumerate(nodes):
        if is_leaf[i]:
            continue
        binary = op in _BINARY
        ka, ia, ca = operand(a)
        kb, ib, cb = operand(b) if binary else (FROM_CONST, 0, 0.0)
        depends[i] = depends[a] or (binary and depends[b])
        for j in {a, b} if binary else {a}:
            if not is_leaf[j] and last_use[j] == i:
                free.append(int(reg[j]))
        if free:
            free.sort()
            reg[i] = free.pop(0)
        else:
            reg[i] = n_regs
            n_regs += 1
        if op == POWC:
            op = _SPECIAL_POWC.get(c, op)
        row = dict(
            opcode=op, const=c, dst=int(reg[i]), ka=ka, ia=ia, ca=ca, kb=kb, ib=ib, cb=cb,
            dep_a=depends[a], dep_b=binary and depends[b],
        )  # fmt: skip
        for k, v in row.items():
            fields[k].append(v)
    count = len(fields["opcode"])
    S = length or size_bucket(count)
    R = registers or size_bucket(max(n_regs, 1))
    P = n_params or size_bucket(max(program.n_params, 1))
    if S < count or R < n_regs or P < program.n_params:
        raise ValueError("bucket sizes smaller than the program")
    dtypes = dict(const=np.float64, ca=np.float64, cb=np.float64, dep_a=bool, dep_b=bool)
    arrays = {}
    for k, v in fields.items():
        arr = np.zeros(S, dtype=dtypes.get(k, np.int32))
        arr[:count] = v
        arrays[k] = arr
    linear = np.zeros(P, dtype=bool)
    linear[: program.n_params] = program.linear
    arrays.update(
        outputs=np.array([reg[o] for o in outputs], dtype=np.int32),
        n=np.asarray(count, dtype=np.int32),
        linear=linear,
    )
    return Instructions(arrays=arrays, n_instructions=count, n_registers=R, n_params=P)


def interpret(
    code: dict[str, jax.Array], p: jax.Array, x: jax.Array, *, registers: int
) -> tuple[jax.Array, jax.Array]:
    """Run lowered instructions: p (G, R, P), x (G, N, I) → f (G, R, N, K), ∂f/∂p (G, R, N, K, P).

    The ``lax.switch`` computes only the value v and the partials da = ∂v/∂a, db = ∂v/∂b
    (value-sized); the tangent update t = da·t_a + db·t_b is one uniform op outside it,
    where a parameter operand's tangent is its unit vector and an input or constant's is 0.
    da (db) is zeroed where operand a (b) does not depend on the parameters, so an
    infinite partial times a zero tangent never makes a NaN.
    """
    G, R, P = p.shape
    N = x.shape[1]
    dtype = p.dtype
    eye = jnp.eye(P, dtype=dtype)
    zero = jnp.zeros((G, R, N), dtype=dtype)
    one = jnp.ones((G, R, N), dtype=dtype)

    def fetch(V: jax.Array, kind: jax.Array, idx: jax.Array, c: jax.Array) -> jax.Array:
        in_reg = jax.lax.dynamic_index_in_dim(
            V, jnp.where(kind == REG, idx, 0), axis=0, keepdims=False
        )
        col = jax.lax.dynamic_index_in_dim(
            x, jnp.where(kind == FROM_INPUT, idx, 0), axis=2, keepdims=False
        )
        par = jax.lax.dynamic_index_in_dim(
            p, jnp.where(kind == FROM_PARAM, idx, 0), axis=2, keepdims=True
        )
        leaf = jnp.where(kind == FROM_INPUT, col[:, None, :], jnp.where(kind == FROM_PARAM, par, c))
        return jnp.where(kind == REG, in_reg, leaf)

    def op_add(va, vb, c):  # noqa: ANN001, ANN202
        return va + vb, one, one

    def op_mul(va, vb, c):  # noqa: ANN001, ANN202
        return va * vb, vb, va

    def op_powc(va, vb, c):  # noqa: ANN001, ANN202
        return *numerics.power_const_parts(va, c), zero

    def op_recip(va, vb, c):  # noqa: ANN001, ANN202
        return *numerics.reciprocal_parts(va), zero

    def op_square(va, vb, c):  # noqa: ANN001, ANN202
        return *numerics.square_parts(va), zero

    def op_pow(va, vb, c):  # noqa: ANN001, ANN202
        v, la = numerics.power_parts(va, vb)
        return v, *numerics.power_grad(va, vb, v, la)

    def op_log(va, vb, c):  # noqa: ANN001, ANN202
        return numerics.log(va), 1.0 / va, zero

    def op_exp(va, vb, c):  # noqa: ANN001, ANN202
        v = jnp.exp(va)
        return v, v, zero

    def op_tanh(va, vb, c):  # noqa: ANN001, ANN202
        v = jnp.tanh(va)
        return v, 1.0 - v * v, zero

    def op_abs(va, vb, c):  # noqa: ANN001, ANN202
        return jnp.abs(va), jnp.sign(va), zero

    def op_min(va, vb, c):  # noqa: ANN001, ANN202
        pick = va <= vb
        return jnp.where(pick, va, vb), jnp.where(pick, 1.0, 0.0), jnp.where(pick, 0.0, 1.0)

    def op_max(va, vb, c):  # noqa: ANN001, ANN202
        pick = va >= vb
        return jnp.where(pick, va, vb), jnp.where(pick, 1.0, 0.0), jnp.where(pick, 0.0, 1.0)

    def op_none(va, vb, c):  # noqa: ANN001, ANN202
        return zero, zero, zero

    branches = [op_none] * N_INTERPRETER_OPCODES
    for code_, fn in (
        (ADD, op_add), (MUL, op_mul), (POWC, op_powc), (POW, op_pow), (LOG, op_log),
        (EXP, op_exp), (TANH, op_tanh), (ABS, op_abs), (MIN, op_min), (MAX, op_max),
        (RECIP, op_recip), (SQUARE, op_square),
    ):  # fmt: skip
        branches[code_] = fn

    def tangent(T: jax.Array, kind: jax.Array, idx: jax.Array, d: jax.Array) -> jax.Array:
        t = jax.lax.dynamic_index_in_dim(T, jnp.where(kind == REG, idx, 0), axis=0, keepdims=False)
        unit = jax.lax.dynamic_index_in_dim(
            eye, jnp.where(kind == FROM_PARAM, idx, 0), axis=0, keepdims=True
        )
        seed = jnp.where(kind == FROM_PARAM, unit, 0.0)[None, None]
        return jnp.where(kind == REG, t, seed) * d[..., None]

    def step(i: jax.Array, regs: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        V, T = regs
        ka, kb = code["ka"][i], code["kb"][i]
        va = fetch(V, ka, code["ia"][i], code["ca"][i])
        vb = fetch(V, kb, code["ib"][i], code["cb"][i])
        v, da, db = jax.lax.switch(code["opcode"][i], branches, va, vb, code["const"][i])
        da = jnp.where(code["dep_a"][i], da, 0.0)
        db = jnp.where(code["dep_b"][i], db, 0.0)
        t = tangent(T, ka, code["ia"][i], da) + tangent(T, kb, code["ib"][i], db)
        d = code["dst"][i]
        V = jax.lax.dynamic_update_index_in_dim(V, v, d, axis=0)
        T = jax.lax.dynamic_update_index_in_dim(T, t, d, axis=0)
        return V, T

    V0 = jnp.zeros((registers, G, R, N), dtype=dtype)
    T0 = jnp.zeros((registers, G, R, N, P), dtype=dtype)
    V, T = jax.lax.fori_loop(0, code["n"], step, (V0, T0))
    f = jnp.moveaxis(V[code["outputs"]], 0, -1)
    jf = jnp.moveaxis(T[code["outputs"]], 0, -2)
    return f, jf


def interpreter_model(code: dict[str, Any], x: jax.Array, *, registers: int) -> Any:
    """``p ↦ (f, ∂f/∂p)`` for the LM loop, closing over one law's instructions and the rows."""

    def model(p: jax.Array) -> tuple[jax.Array, jax.Array]:
        return interpret(code, p, x, registers=registers)

    return model
