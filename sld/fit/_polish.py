"""Polishing: each group's best restart run on alone past the batch's iteration cap.

An option of the fit (``Fidelity.polish``; off by default, README "Speed"). The LM loop
itself is :mod:`sld.fit._lm`; this module only gathers the restart each group reports into a
one-restart batch, runs it under that loop, and writes it back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ._lm import Damping, Model, Reproject, lm_run


def lm_polish(
    out: dict[str, jax.Array],
    data: dict[str, jax.Array],
    linear: jax.Array,
    stop_at: jax.Array,
    model: Model,
    *,
    loss: str,
    log_space: bool,
    reproject: Reproject = "exact",
    damping: Damping = "marquardt",
    work: Callable[[jax.Array], Any] = lambda p: (),
    scale: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """Carry each group's best restart on from :func:`lm_run`'s output, alone, to ``stop_at``.

    The batch stops at its iteration cap with restarts still descending; the restart at
    its group's best is the one the fit reports. Continuing it alone costs 1/R of a
    batched iteration, so its last digits need not be bought by iterating every restart.
    The best restart of each group (lowest F among good restarts) is gathered into a
    one-restart carry (its λ, ν, flags kept; the stall window starts afresh) and runs
    under the same loop; its new state is written back in its place. A group whose
    best restart already stopped (converged, stalled or stuck) is left as it was, bit
    for bit, and where none is active the loop does not run. ``work``: the model's
    first workspace for points ``(G, 1, P)``; ``scale``: as for :func:`lm_run`.
    """
    G = out["p"].shape[0]
    rows = jnp.arange(G)
    best = jnp.argmin(jnp.where(out["good"] & jnp.isfinite(out["F"]), out["F"], jnp.inf), axis=1)

    def pick(a: jax.Array) -> jax.Array:
        return a[rows, best][:, None]

    carry = dict(
        p=pick(out["p"]),
        lam=pick(out["lam"]),
        nu=pick(out["nu"]),
        active=pick(out["active"] & ~out["converged"]),
        converged=pick(out["converged"]),
        good=pick(out["good"]),
        it=out["it"],
        best_ref=pick(out["F"])[:, 0],
        ref_it=out["it"],
        stalled=jnp.zeros((), dtype=bool),
        dsq=pick(out["dsq"]),
    )
    more = lm_run(
        carry,
        data,
        linear,
        jnp.where(jnp.any(carry["active"]), stop_at, out["it"]),
        jnp.zeros((), dtype=bool),
        model,
        loss=loss,
        log_space=log_space,
        reproject=reproject,
        damping=damping,
        work=work(carry["p"]),
        scale=scale,
    )

    moved = carry["active"][:, 0]  # the others keep their state to the last bit

    def put(a: jax.Array, b: jax.Array) -> jax.Array:
        was = a[rows, best]
        shape = (G,) + (1,) * (was.ndim - 1)
        return a.at[rows, best].set(jnp.where(moved.reshape(shape), b[:, 0], was))

    merged = dict(out)
    for k in ("p", "lam", "nu", "active", "converged", "good", "F", "g", "dsq"):
        merged[k] = put(out[k], more[k])
    merged["it"] = more["it"]
    return merged
