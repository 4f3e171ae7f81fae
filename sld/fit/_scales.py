"""Scale-like coefficients moved in log|p|: the fit's default, with Marquardt damping.

``sld.fit._fit.LOG_SCALES`` switches it (README, "Speed": kept by RULE12). A law's
scale-like slots (``Program.scale_like``: ``A`` in ``((A/N)**a + B/D)**c``) are
coefficients inside a nonlinear form. The loss is flat along a·log A there: a
straight valley in log A, a curved one in A, and fitted in A such laws never leave
their start. ``lm_run(..., scale=)`` (:mod:`sld.fit._lm`) runs
its unchanged loop on u = log|p| for those slots, through the model

    f_u(u) = f(p(u)),   p = sign·eᵘ,   ∂f/∂u = ∂f/∂p · p,

each restart keeping the sign it started with (restarts start with both signs). The
carry goes in and comes out in p.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

Carry = dict[str, jax.Array]
# the shape of sld.fit._lm.Model, restated: _lm imports this module, so this one cannot import it
Model = Callable[[jax.Array, Any], tuple[jax.Array, jax.Array, Any]]


def to_log(p: jax.Array, scale: jax.Array) -> jax.Array:
    """u = log|p| on the scale slots, p elsewhere (a zero stays at u = −∞: it cannot move)."""
    return jnp.where(scale, jnp.log(jnp.abs(jnp.where(scale, p, 1.0))), p)


def from_log(u: jax.Array, scale: jax.Array, sign: jax.Array) -> jax.Array:
    """p = sign·exp(u) on the scale slots, u elsewhere."""
    return jnp.where(scale, sign * jnp.exp(jnp.where(scale, u, 0.0)), u)


def log_model(model: Model, scale: jax.Array, sign: jax.Array) -> Model:
    """The model in u: f(p(u)) and ∂f/∂u = ∂f/∂p · p on the scale slots (the chain rule)."""

    def in_u(u: jax.Array, work: Any) -> tuple[jax.Array, jax.Array, Any]:
        p = from_log(u, scale, sign)
        f, jf, work = model(p, work)
        factor = jnp.where(scale, p, 1.0)[:, :, None, None, :]
        return f, jf * factor, work

    return in_u


def in_log(
    run: Callable[[Carry, Model], Carry], carry: Carry, model: Model, scale: jax.Array
) -> Carry:
    """``run(carry, model)`` with the slots ``scale`` ((P,) bool) in u, its output back in p.

    The signs are read from the carry's p, so a later call (a time chunk, a polish on one
    restart per group) reads them again from the points it is given.
    """
    sign = jnp.where(carry["p"] < 0.0, -1.0, 1.0)
    out = run({**carry, "p": to_log(carry["p"], scale)}, log_model(model, scale, sign))
    p = from_log(out["p"], scale, sign)
    return {**out, "p": p, "g": jnp.where(scale, out["g"] / p, out["g"])}
