"""Elementwise log and power for the JAX evaluators, cheaper than XLA:CPU's.

On CPU, XLA lowers float64 ``pow`` to a scalar libm-style routine: about 18 ns an
element against 2 ns for ``exp``, and ``log`` is about 5 ns. A law's ``x**p`` costs
a ``pow`` for the value and another for ∂/∂x, so powers dominated evaluation. Here

    log x  = e·ln 2 + 2 atanh(s),  x = m·2^e, m ∈ [√½, √2),  s = (m − 1)/(m + 1)
    a^b    = exp(b · log a)                              (a > 0)

with the atanh series to s²¹ (|s| ≤ 0.172, error below 1e-16 relative) built from
multiplies and adds that vectorise. Every special case matches ``jnp.log`` /
``jnp.power`` under jit: log of 0, negatives, inf and NaN (XLA:CPU flushes
subnormals to zero, so they are 0 here too); powers of 0, inf, NaN,
and negative bases (real for integer exponents, NaN otherwise). Relative error of
``power`` is about |b·log a|·1e-16 (libm's is below one ulp), ample for fitting.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

LN2 = 0.6931471805599453
SQRT2 = 1.4142135623730951
_ATANH_TERMS = (19, 17, 15, 13, 11, 9, 7, 5, 3, 1)


def log(x: jax.Array) -> jax.Array:
    """Natural log of ``x``, elementwise (same special values as ``jnp.log``).

    float32 goes to ``jnp.log``, which XLA:CPU vectorises already.
    """
    if x.dtype == jnp.float32:
        return jnp.log(x)
    bits = jax.lax.bitcast_convert_type(x, jnp.int64)
    e = ((bits >> 52) & 0x7FF) - 1023
    m = jax.lax.bitcast_convert_type(
        (bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000, jnp.float64
    )  # mantissa in [1, 2)
    big = m > SQRT2
    m = jnp.where(big, 0.5 * m, m)
    e = jnp.where(big, e + 1, e)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    series = jnp.full_like(s, 1.0 / 21.0)
    for k in _ATANH_TERMS:
        series = series * s2 + 1.0 / k
    out = 2.0 * s * series + e.astype(jnp.float64) * LN2
    out = jnp.where(x == jnp.inf, jnp.inf, out)
    out = jnp.where(x == 0.0, -jnp.inf, out)
    return jnp.where((x < 0.0) | jnp.isnan(x), jnp.nan, out)


def _odd_integer(b: float | jax.Array) -> jax.Array:
    return jnp.fmod(jnp.abs(b), 2.0) == 1.0


def power_parts(a: jax.Array, b: float | jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(a^b, log|a|)`` elementwise; a^b agrees with ``jnp.power`` on every special case."""
    la = log(jnp.abs(a))
    return power_from_log(a, b, la), la


def power_from_log(a: jax.Array, b: float | jax.Array, la: jax.Array) -> jax.Array:
    """a^b given la = log|a| (computed once where a does not change between calls)."""
    v = jnp.exp(b * la)
    integer = b == jnp.round(b)
    negative = a < 0.0
    v = jnp.where(negative & ~integer, jnp.nan, v)
    v = jnp.where(negative & integer & _odd_integer(b), -v, v)
    return jnp.where(b == 0.0, 1.0, v)  # 0^0 = inf^0 = nan^0 = 1


def power(a: jax.Array, b: jax.Array) -> jax.Array:
    """a^b elementwise, as ``jnp.power`` (float64)."""
    return power_parts(a, b)[0]


def power_grad(
    a: jax.Array, b: float | jax.Array, v: jax.Array, la: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """∂(a^b)/∂a = b·a^(b−1) and ∂(a^b)/∂b = a^b·log a, given v = a^b and la = log|a|.

    b·a^(b−1) is b·v/a except at a = 0, where it is b·(0 if b > 1, 1 if b = 1, else ∞).
    log a is NaN for a < 0, as ``jnp.log`` gives.
    """
    at_zero = b * jnp.where(b > 1.0, 0.0, jnp.where(b == 1.0, 1.0, jnp.inf))
    da = jnp.where(a == 0.0, at_zero, b * v / jnp.where(a == 0.0, 1.0, a))
    db = v * jnp.where(a < 0.0, jnp.nan, la)
    return da, db


def power_const_parts(a: jax.Array, c: float | jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(a^c, ∂(a^c)/∂a)`` for an exponent fixed by the law (general c; see ``reciprocal``)."""
    v, la = power_parts(a, c)
    return v, power_grad(a, c, v, la)[0]


def reciprocal_parts(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(a^−1, −a^−2)``: the commonest constant power (every division), without exp or log."""
    v = 1.0 / a
    return v, -(v * v)


def square_parts(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(a², 2a)``."""
    return a * a, 2.0 * a
