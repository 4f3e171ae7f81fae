"""A program's values and forward-mode Jacobian, in numpy or JAX (one walk for both).

Forward-mode derivatives w.r.t. the parameters follow the usual rules::

    (a + b)' = a' + b'             (a b)' = a' b + a b'
    (a^c)'   = c a^(c−1) a'        (a^b)' = a^b (b' log a + b a'/a)
    log(a)'  = a'/a                exp(a)' = exp(a) a'
    tanh(a)' = (1 − tanh² a) a'    |a|' = sign(a) a'
    min(a,b)' = a' if a ≤ b else b'   (max likewise)

which is the symbolic Jacobian with shared subexpressions, without building
``sympy.diff`` trees.
"""

from __future__ import annotations

from typing import Any

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
    PARAM,
    POW,
    POWC,
    TANH,
    Program,
)


def evaluate(
    program: Program, params: Any, x: Any, *, xp: Any = np, tangents: bool = True
) -> tuple[Any, Any]:
    """Values and forward-mode Jacobian of every output at one parameter vector.

    params: (P,), x: (rows, inputs) → values (rows, K), jacobian (rows, K, P) (None if not ``tangents``).
    ``xp`` is ``numpy`` or ``jax.numpy``; the same walk gives the straight-line JAX code,
    with log and powers from ``_numerics`` (as the interpreter computes them).
    """
    rows = x.shape[0]
    P = program.n_params
    eye = xp.eye(P, dtype=xp.float64)
    vals: list[Any] = []
    tans: list[Any] = []  # None = identically zero
    for op, a, b, c in program.nodes:
        t = None
        if op == CONST:
            v = xp.full((rows,), c, dtype=xp.float64)
        elif op == INPUT:
            v = x[:, a]
        elif op == PARAM:
            v = xp.broadcast_to(params[a], (rows,))
            if tangents:
                t = xp.broadcast_to(eye[a][None, :], (rows, P))
        elif op == ADD:
            v = vals[a] + vals[b]
            t = _add(tans[a], tans[b])
        elif op == MUL:
            v = vals[a] * vals[b]
            t = _add(_scale(tans[a], vals[b]), _scale(tans[b], vals[a]))
        elif op == POWC:
            if xp is np:
                v = xp.power(vals[a], c)
                t = _scale(tans[a], c * xp.power(vals[a], c - 1.0))
            else:
                v, da = powc_parts(vals[a], c)
                t = _scale(tans[a], da)
        elif op == POW:
            if xp is np:
                v = xp.power(vals[a], vals[b])
                if tans[a] is not None or tans[b] is not None:
                    t = _add(
                        _scale(tans[b], v * xp.log(vals[a])),
                        _scale(tans[a], vals[b] * xp.power(vals[a], vals[b] - 1.0)),
                    )
            else:
                v, la = numerics.power_parts(vals[a], vals[b])
                if tans[a] is not None or tans[b] is not None:
                    da, db = numerics.power_grad(vals[a], vals[b], v, la)
                    t = _add(_scale(tans[b], db), _scale(tans[a], da))
        elif op == LOG:
            v = xp.log(vals[a]) if xp is np else numerics.log(vals[a])
            t = _scale(tans[a], 1.0 / vals[a])
        elif op == EXP:
            v = xp.exp(vals[a])
            t = _scale(tans[a], v)
        elif op == TANH:
            v = xp.tanh(vals[a])
            t = _scale(tans[a], 1.0 - v * v)
        elif op == ABS:
            v = xp.abs(vals[a])
            t = _scale(tans[a], xp.sign(vals[a]))
        elif op in (MIN, MAX):
            pick_a = vals[a] <= vals[b] if op == MIN else vals[a] >= vals[b]
            v = xp.where(pick_a, vals[a], vals[b])
            if tans[a] is not None or tans[b] is not None:
                ta = tans[a] if tans[a] is not None else xp.zeros((rows, P), dtype=xp.float64)
                tb = tans[b] if tans[b] is not None else xp.zeros((rows, P), dtype=xp.float64)
                t = xp.where(pick_a[:, None], ta, tb)
        else:  # pragma: no cover - the builder emits only the opcodes above
            raise AssertionError(op)
        vals.append(v)
        tans.append(t if tangents else None)
    values = xp.stack([vals[o] for o in program.outputs], axis=1)
    if not tangents:
        return values, None
    zero = xp.zeros((rows, P), dtype=xp.float64)
    jac = xp.stack([tans[o] if tans[o] is not None else zero for o in program.outputs], axis=1)
    return values, jac


def powc_parts(a: Any, c: float) -> tuple[Any, Any]:
    """JAX ``(a^c, ∂(a^c)/∂a)`` for a constant exponent, special-casing c = −1 and c = 2."""
    if c == -1.0:
        return numerics.reciprocal_parts(a)
    if c == 2.0:
        return numerics.square_parts(a)
    return numerics.power_const_parts(a, c)


def _add(ta: Any, tb: Any) -> Any:
    if ta is None:
        return tb
    if tb is None:
        return ta
    return ta + tb


def _scale(t: Any, factor: Any) -> Any:
    return None if t is None else t * factor[:, None]
