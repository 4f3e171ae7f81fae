"""Batched small dense solves in plain XLA ops, for the LM step and the linear projection.

Every LM iteration solves one P×P system per (group, restart), with P the law's
parameter count (a handful, at most 64). ``jnp.linalg.solve`` sends those to LAPACK
through a custom call that splits a large batch across XLA:CPU's intra-op thread pool
and blocks a pool thread until its parts finish. Two executions that do this at once
(one per fit thread, :mod:`sld.fit._threads`) each hold one of a two-core machine's two
pool threads while their parts wait in its queue: a deadlock (README, "Speed"). The
elimination below is ordinary element-wise and reduction ops on the whole batch, so an
execution never waits on the pool. For systems this small it runs about as fast (24
random laws, 16 restarts, once compiled: lr_bsz 2.60 against 2.59 laws/s, vocab 6.81
against 6.54) and compiles about 1 s slower a shape, for the unrolled elimination.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

UNROLL_UP_TO = 16  # parameter counts whose elimination is unrolled (larger ones loop)


def solve(a: jax.Array, b: jax.Array) -> jax.Array:
    """x with a·x = b, by Gaussian elimination with partial pivoting (as LAPACK's getrf/getrs).

    a: (..., P, P), b: (..., P) → (..., P). Step k swaps the row with the largest |a_ik|
    (i ≥ k) into row k, then subtracts (a_ik / a_kk)·row k from every row i > k; back
    substitution gives x_i = (b_i − Σ_{j>i} a_ij x_j) / a_ii. A singular system (a zero
    pivot) gives non-finite entries, which callers treat as a failed solve.
    """
    P = a.shape[-1]
    if a.shape[-2:] != (P, P) or b.shape != a.shape[:-1]:
        raise ValueError(f"solve needs a (..., P, P) and b (..., P), got {a.shape} and {b.shape}")
    batch = a.shape[:-2]
    m = jnp.concatenate([a, b[..., None]], axis=-1).reshape(-1, P, P + 1)  # (B, P, P+1): [a | b]
    rows = jnp.arange(P)[None, :]  # (1, P)

    def eliminate(k: jax.Array, m: jax.Array) -> jax.Array:
        col = jnp.take(m, k, axis=2)  # (B, P): column k
        size = jnp.where(rows >= k, jnp.abs(col), -1.0)
        pivot = jnp.argmax(size, axis=1)  # (B,): the first largest, as LAPACK's idamax
        row_k = jnp.take(m, k, axis=1)[:, None, :]  # (B, 1, P+1)
        row_pivot = jnp.take_along_axis(m, pivot[:, None, None], axis=1)  # (B, 1, P+1)
        # swap rows k and pivot by selection: arithmetic (m + δ − δ) would round away a
        # small row beside a large one
        at_k = (rows == k)[:, :, None]  # (1, P, 1)
        at_pivot = (rows == pivot[:, None])[:, :, None]  # (B, P, 1)
        m = jnp.where(at_k, row_pivot, jnp.where(at_pivot, row_k, m))
        col = jnp.take(m, k, axis=2)
        factor = jnp.where(rows > k, col / jnp.take(col, k, axis=1)[:, None], 0.0)  # (B, P)
        return m - factor[:, :, None] * row_pivot  # row_pivot is row k now

    m = jax.lax.fori_loop(0, P, eliminate, m, unroll=P <= UNROLL_UP_TO)
    u, y = m[:, :, :P], m[:, :, P]

    def substitute(step: jax.Array, x: jax.Array) -> jax.Array:
        i = P - 1 - step
        row = jnp.take(u, i, axis=1)  # (B, P); x is 0 at i and below until set
        value = (jnp.take(y, i, axis=1) - jnp.sum(row * x, axis=1)) / jnp.take(row, i, axis=1)
        return jnp.where(rows == i, value[:, None], x)

    x = jax.lax.fori_loop(0, P, substitute, jnp.zeros_like(y), unroll=P <= UNROLL_UP_TO)
    return x.reshape(*batch, P)
