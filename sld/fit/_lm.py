"""Batched Levenberg–Marquardt on scaled residuals, shared by every evaluator.

Shapes: ``G`` groups, ``R`` restarts, ``N`` padded rows, ``K`` outputs,
``P`` parameter slots, ``M = N·K`` residuals per (group, restart).

A *model* maps parameters ``p: (G, R, P)`` and a workspace to values
``f: (G, R, N, K)``, their Jacobian ``∂f/∂p: (G, R, N, K, P)`` and the workspace
again. The workspace is whatever scratch arrays the model writes into (the
interpreter's register file; ``()`` for straight-line code); the loop carries it
from one evaluation to the next, so XLA keeps it in place. Residuals are

    r = (f − y) / std_g(y)          per output k, over group g's rows
    (log space: r = (log f − log y) / std_g(log y))

with padded rows masked to 0. The objective is F = ½ Σ r̃², where r̃ = r for
squared loss and r̃ = sign(r)·√(2δ|r| − δ²) beyond |r| > δ for Huber, so that
½ r̃² = huber_δ(r). The reported loss is 2F / (rows·K): the mean squared scaled
residual (Huber: the mean of 2·huber_δ).

Each iteration solves (JᵀJ + λD²) δ = −Jᵀr per (group, restart). With
``damping="marquardt"`` (the default) D² is the running maximum of diag(JᵀJ) over
the run (each entry at least ``DSQ_FLOOR`` times the largest) and λ₀ = τ, so a step
does not depend on the parameters' units; with ``"levenberg"`` D² = I and
λ₀ = τ·max diag(JᵀJ); with ``"mixed"`` every even restart (restart 0, the canonical
start, included) damps as Marquardt and every odd one as Levenberg. The two reach
different optima from the same start about equally often, so mixing them across the
restarts looks in more basins at no extra cost. With scale-like slots moved in log|p| it is the fitter's
default (README, "Speed"). A step is accepted when F drops, and λ
follows Nielsen's rule::

    accepted:  λ ← λ · max(1/3, 1 − (2ρ − 1)³),  ν ← 2
    rejected:  λ ← λ · ν,                         ν ← 2ν
    ρ = (F(p) − F(p + δ)) / (½ δᵀ(λD²δ − Jᵀr))

A restart converges when a step changes every parameter by less than
``xtol·(|p| + xtol)``, an accepted step lowers F by less than ``ftol·F``, or
max|∇ loss| ≤ ``gtol``. A restart whose residuals turn non-finite simply has
that step rejected; one that starts non-finite is frozen and marked bad, never
touching the others (every branch is a ``jnp.where``). The loop exits once no
restart in the batch is active, at ``stop_at`` iterations, or once the batch has
stalled: no group's best F (over its restarts) dropped by more than
``STALL_TOL`` (relative) over the last ``STALL_WINDOW`` iterations. Restarts that
are still descending then are almost always far above their group's best, and
carrying them to the cap was most of the work (on random vocab laws, 70 instead
of 169 iterations a law, the same best fits).

With a polish (an option of the fit, off by default: README, "Speed"), a batch that
reaches its cap with a group's best restart still descending hands that restart to
:func:`sld.fit._polish.lm_polish`, which runs it on alone (one restart per group, about 1/R of the work
per iteration): the fit reports only that restart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp

from ._scales import in_log
from ._solve import solve

Model = Callable[[jax.Array, Any], tuple[jax.Array, jax.Array, Any]]
Reproject = Literal["exact", "affine", "none"]
Damping = Literal["marquardt", "levenberg", "mixed"]

TAU = 1e-3  # λ₀ = τ · max diag(JᵀJ) (Marquardt: λ₀ = τ, since D² carries the scale)
FTOL = 1e-12
XTOL = 1e-10
GTOL = 1e-12
LAMBDA_MAX = 1e30
STALL_WINDOW = 30  # iterations
STALL_TOL = 1e-6  # relative improvement of a group's best F that counts as progress
DSQ_FLOOR = 1e-12  # Marquardt: a column's damping weight is at least this share of the largest


def _levenberg_restarts(damping: Damping, restarts: int) -> jax.Array:
    """(1, R) bool: the restarts that damp λ·I (Levenberg); the others damp λ·D²."""
    r = jnp.arange(restarts)
    if damping == "marquardt":
        return jnp.zeros((1, restarts), dtype=bool)
    if damping == "levenberg":
        return jnp.ones((1, restarts), dtype=bool)
    if damping == "mixed":
        return (r % 2 == 1)[None, :]
    raise ValueError(f"damping must be 'marquardt', 'levenberg' or 'mixed', got {damping!r}")


def residuals(
    f: jax.Array, jf: jax.Array, data: dict[str, jax.Array], *, loss: str, log_space: bool
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Scaled, masked residuals ``(G, R, M)``, their Jacobian ``(G, R, M, P)`` and finiteness ``(G, R)``."""
    if log_space:
        jf = jf / f[..., None]
        f = jnp.log(f)
    G, R, N, K = f.shape
    scale = data["scale"][:, None, None, :]
    keep = data["mask"][:, None, :, None]
    r = jnp.where(keep, (f - data["y"][:, None]) * scale, 0.0)
    j = jnp.where(keep[..., None], jf * scale[..., None], 0.0)
    if loss == "huber":
        delta = data["delta"]
        a = jnp.abs(r)
        big = a > delta
        rt = jnp.where(
            big, jnp.sign(r) * jnp.sqrt(jnp.maximum(2.0 * delta * a - delta * delta, 0.0)), r
        )
        w = jnp.where(big, delta / jnp.maximum(jnp.abs(rt), 1e-300), 1.0)
        j = j * w[..., None]
        r = rt
    r = r.reshape(G, R, N * K)
    j = j.reshape(G, R, N * K, j.shape[-1])
    finite = jnp.isfinite(jnp.sum(r * r, axis=-1)) & jnp.all(jnp.isfinite(j), axis=(-2, -1))
    return r, j, finite


def _normal(j: jax.Array, r: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The normal equations' parts: JᵀJ (G, R, P, P) and Jᵀr (G, R, P) of j (G, R, M, P), r (G, R, M)."""
    return jnp.einsum("grmp,grmq->grpq", j, j), jnp.einsum("grmp,grm->grp", j, r)


def _linear_step(j: jax.Array, r: jax.Array, lin: jax.Array) -> jax.Array:
    """Gauss–Newton step on the linear parameters alone: argmin_Δ ‖r + J_L Δ‖², zero elsewhere.

    j: (G, R, M, P), r: (G, R, M), lin: (1, 1, P) bool → (G, R, P); NaN where the solve fails.
    """
    return _linear_solve(*_normal(j, r), lin)


def _linear_solve(a: jax.Array, g: jax.Array, lin: jax.Array) -> jax.Array:
    """:func:`_linear_step` from the normal equations' parts a = JᵀJ, g = Jᵀr.

    Columns are equilibrated and a tiny ridge added, so coefficients of 1e9 beside 1e-3 still solve.
    """
    P = a.shape[-1]
    b = -g
    both = lin[..., :, None] & lin[..., None, :]
    eye = jnp.eye(P, dtype=a.dtype)[None, None]
    a = jnp.where(both, a, eye)
    b = jnp.where(lin, b, 0.0)
    d = jnp.sqrt(jnp.diagonal(a, axis1=-2, axis2=-1))
    d = jnp.where(d > 0.0, d, 1.0)
    a_hat = a / (d[..., :, None] * d[..., None, :]) + 1e-12 * eye
    sol = solve(a_hat, b / d) / d
    return jnp.where(lin, sol, 0.0)


def project_linear(
    p: jax.Array, model: Model, data: dict[str, jax.Array], linear: jax.Array, work: Any
) -> tuple[jax.Array, Any]:
    """Variable projection: solve least squares for the linear parameters, the others held fixed.

    With f affine in the linear set L, f(p) = f(p|L=0) + Σ_{l∈L} ∂f/∂p_l · p_l, so p_L solves a
    linear least-squares problem in the raw (not log, not Huber) scaled residuals.
    p: (G, R, P), linear: (P,) bool → (G, R, P) and the model's workspace; restarts where
    the solve fails keep p.
    """
    lin = linear[None, None, :]
    p0 = jnp.where(lin, 0.0, p)
    f, jf, work = model(p0, work)
    scale = data["scale_raw"][:, None, None, :]
    keep = data["mask"][:, None, :, None]
    G, R, N, K = f.shape
    P = p.shape[-1]
    r = jnp.where(keep, (f - data["y_raw"][:, None]) * scale, 0.0).reshape(G, R, N * K)
    j = jnp.where(keep[..., None], jf * scale[..., None], 0.0).reshape(G, R, N * K, P)
    sol = _linear_step(j, r, lin)
    ok = jnp.all(jnp.isfinite(sol), axis=-1, keepdims=True)
    return jnp.where(lin & ok, sol, p), work


def lm_run(
    carry: dict[str, jax.Array],
    data: dict[str, jax.Array],
    linear: jax.Array,
    stop_at: jax.Array,
    fresh: jax.Array,
    model: Model,
    *,
    loss: str,
    log_space: bool,
    reproject: Reproject = "exact",
    damping: Damping = "marquardt",
    work: Any = (),
    scale: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """Run LM from ``carry`` until every restart stops or ``stop_at`` total iterations.

    carry: p (G,R,P), lam (G,R), nu (G,R), active (G,R), converged (G,R), good (G,R), it ().
    ``fresh`` (scalar bool): first call: project linear parameters and set λ₀.
    ``reproject``: after each trial step also try it followed by a Gauss–Newton step on the
    linear parameters alone, keeping the better. ``"exact"`` evaluates the model again at the
    projected point (exact variable projection for squared loss), except for a law without
    linear parameters, whose projection is the point itself; ``"affine"`` uses
    f(p + δ_L) = f(p) + J_L δ_L, exact because f is affine in the linear parameters, and keeps
    the other Jacobian columns from before the projection: one evaluation per iteration
    instead of two, at some cost in convergence (see bench/fit_bench.py). ``"none"``: no
    projection after the first call.
    ``damping``: ``"levenberg"`` damps λ·I, ``"marquardt"`` λ·D², ``"mixed"`` one or the
    other by restart (module docstring).
    ``work``: the model's first workspace.
    ``scale``: (P,) bool, slots moved in log|p| (:mod:`sld.fit._scales`); None: none.
    Returns the carry plus F (G,R) and g = Jᵀr (G,R,P) at the final point.
    """
    if scale is not None:
        options: dict[str, Any] = dict(
            loss=loss, log_space=log_space, reproject=reproject, damping=damping, work=work
        )

        def run(c: dict[str, jax.Array], m: Model) -> dict[str, jax.Array]:
            return lm_run(c, data, linear, stop_at, fresh, m, **options)

        return in_log(run, carry, model, scale)
    p = carry["p"]
    projected, work = project_linear(p, model, data, linear, work)
    p = jnp.where(fresh, projected, p)
    f, jf, work = model(p, work)
    r, j, finite = residuals(f, jf, data, loss=loss, log_space=log_space)
    F = 0.5 * jnp.sum(r * r, axis=-1)
    diag = jnp.einsum("grmp,grmp->grp", j, j)
    lev = _levenberg_restarts(damping, p.shape[1])
    dsq = jnp.where(fresh, diag, carry["dsq"])  # Marquardt's: the loop takes the running max
    lam0 = jnp.where(lev, TAU * jnp.maximum(jnp.max(diag, axis=-1), 1e-12), TAU)
    lam = jnp.where(fresh, lam0, carry["lam"])
    nu = jnp.where(fresh, 2.0, carry["nu"])
    good = jnp.where(fresh, finite, carry["good"] & finite)
    active = jnp.where(fresh, finite, carry["active"] & finite)
    converged = jnp.where(fresh, False, carry["converged"])
    count = data["count"][:, None]
    P = p.shape[-1]
    eye = jnp.eye(P, dtype=p.dtype)[None, None]
    lin = linear[None, None, :]

    best = _group_best(F, good)
    a0, g0 = _normal(j, r)
    state = dict(
        p=p,
        a=a0,
        g=g0,
        F=F,
        lam=lam,
        nu=nu,
        active=active,
        converged=converged,
        it=carry["it"],
        best_ref=jnp.where(fresh, best, carry["best_ref"]),
        ref_it=jnp.where(fresh, carry["it"], carry["ref_it"]),
        stalled=jnp.where(fresh, False, carry["stalled"]),
        work=work,
        dsq=dsq,
    )

    def cond(s: dict[str, jax.Array]) -> jax.Array:
        return (s["it"] < stop_at) & jnp.any(s["active"]) & ~s["stalled"]

    def body(s: dict[str, jax.Array]) -> dict[str, jax.Array]:
        p, a, g, F, lam, nu, active = s["p"], s["a"], s["g"], s["F"], s["lam"], s["nu"], s["active"]
        dsq = jnp.maximum(s["dsq"], jnp.diagonal(a, axis1=-2, axis2=-1))
        floor = DSQ_FLOOR * jnp.maximum(jnp.max(dsq, axis=-1, keepdims=True), 1e-300)
        damp = jnp.where(lev[..., None], 1.0, jnp.maximum(dsq, floor))
        step = solve(a + (lam[..., None] * damp)[..., None] * eye, -g)
        step_ok = jnp.all(jnp.isfinite(step), axis=-1)
        step = jnp.where(step_ok[..., None], step, 0.0)
        p_new = p + step
        lm_step = step
        f_new, jf_new, work = model(p_new, s["work"])
        r_new, j_new, finite_new = residuals(f_new, jf_new, data, loss=loss, log_space=log_space)
        F_raw = 0.5 * jnp.sum(r_new * r_new, axis=-1)
        F_new = jnp.where(finite_new, F_raw, jnp.inf)
        # the loop carries the normal equations' parts (P×P a restart), not the Jacobian
        # (M×P): selecting and carrying those was a full pass over it per iteration
        a_new, g_new = _normal(j_new, r_new)
        if reproject == "exact":

            def project(at: tuple[Any, ...]) -> tuple[Any, ...]:
                p_at, _, a_at, g_at, _, work_at = at
                p_proj = p_at + _linear_solve(a_at, g_at, lin)
                f_proj, jf_proj, work_at = model(p_proj, work_at)
                r_proj, j_proj, finite_proj = residuals(
                    f_proj, jf_proj, data, loss=loss, log_space=log_space
                )
                F_proj = 0.5 * jnp.sum(r_proj * r_proj, axis=-1)
                return p_proj, F_proj, *_normal(j_proj, r_proj), finite_proj, work_at

            # a law without linear parameters projects to the point it is at: skip the
            # evaluation (the trial then stays, as it would: F_proj = F_new is not lower)
            p_proj, F_proj, a_proj, g_proj, finite_proj, work = jax.lax.cond(
                jnp.any(linear),
                project,
                lambda at: at,
                (p_new, F_raw, a_new, g_new, finite_new, work),
            )
        elif reproject == "affine":
            # f is affine in the linear parameters, so f(p_new + δ) = f(p_new) + J δ exactly
            # for a δ on them alone; their Jacobian columns are unchanged, the others are
            # left as at p_new (one model evaluation per iteration instead of two).
            delta = _linear_solve(a_new, g_new, lin)
            delta = jnp.where(jnp.isfinite(delta), delta, 0.0)
            p_proj = p_new + delta
            f_proj = f_new + jnp.einsum(
                "grnkp,grp->grnk", jnp.where(lin[:, :, None, None, :], jf_new, 0.0), delta
            )
            r_proj, j_proj, finite_proj = residuals(
                f_proj, jf_new, data, loss=loss, log_space=log_space
            )
            F_proj = 0.5 * jnp.sum(r_proj * r_proj, axis=-1)
            a_proj, g_proj = _normal(j_proj, r_proj)
        elif reproject != "none":
            raise ValueError(f"reproject must be 'exact', 'affine' or 'none', got {reproject!r}")
        if reproject != "none":
            F_proj = jnp.where(finite_proj, F_proj, jnp.inf)
            better = F_proj < F_new
            p_new = jnp.where(better[..., None], p_proj, p_new)
            a_new = jnp.where(better[..., None, None], a_proj, a_new)
            g_new = jnp.where(better[..., None], g_proj, g_new)
            F_new = jnp.where(better, F_proj, F_new)
            finite_new = finite_new | finite_proj
            step = p_new - p
        predicted = 0.5 * jnp.sum(lm_step * (lam[..., None] * damp * lm_step - g), axis=-1)
        rho = (F - F_new) / jnp.where(predicted > 0.0, predicted, 1.0)
        accept = active & step_ok & (F_new < F) & (predicted > 0.0)
        lam_up = lam * jnp.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
        lam = jnp.where(accept, lam_up, jnp.where(active, lam * nu, lam))
        nu = jnp.where(accept, 2.0, jnp.where(active, nu * 2.0, nu))
        small_step = step_ok & jnp.all(jnp.abs(step) <= XTOL * (jnp.abs(p) + XTOL), axis=-1)
        small_drop = accept & (F - F_new <= FTOL * F)
        small_grad = 2.0 * jnp.max(jnp.abs(g), axis=-1) / count <= GTOL
        exact = F <= 1e-30 * count
        now_converged = active & (small_step | small_drop | small_grad | exact)
        stuck = (lam > LAMBDA_MAX) | (nu > LAMBDA_MAX)
        keep = accept[..., None]
        F = jnp.where(accept, F_new, F)
        # stall: every group's best F improved by less than STALL_TOL over STALL_WINDOW
        # iterations; the restarts at their group's best then count as converged
        it = s["it"] + 1
        best = _group_best(F, good)
        boundary = it - s["ref_it"] >= STALL_WINDOW
        stalled = boundary & ~jnp.any(best < s["best_ref"] * (1.0 - STALL_TOL))
        at_best = F <= best[:, None] * (1.0 + STALL_TOL)
        active = active & ~now_converged & ~stuck
        return dict(
            p=jnp.where(keep, p_new, p),
            a=jnp.where(keep[..., None], a_new, a),
            g=jnp.where(keep, g_new, g),
            F=F,
            lam=lam,
            nu=nu,
            active=active,
            converged=s["converged"] | now_converged | (stalled & active & at_best),
            it=it,
            best_ref=jnp.where(boundary, best, s["best_ref"]),
            ref_it=jnp.where(boundary, it, s["ref_it"]),
            stalled=stalled,
            work=work,
            dsq=dsq,
        )

    s = jax.lax.while_loop(cond, body, state)
    return dict(
        p=s["p"],
        lam=s["lam"],
        nu=s["nu"],
        active=s["active"],
        converged=s["converged"],
        good=good,
        it=s["it"],
        best_ref=s["best_ref"],
        ref_it=s["ref_it"],
        stalled=s["stalled"],
        dsq=s["dsq"],
        F=jnp.where(good, s["F"], jnp.inf),
        g=s["g"],
    )


def _group_best(F: jax.Array, good: jax.Array) -> jax.Array:
    """Lowest finite F of each group's good restarts: (G, R) → (G,), ∞ where there is none."""
    return jnp.min(jnp.where(good & jnp.isfinite(F), F, jnp.inf), axis=-1)


def initial_carry(p0: Any) -> dict[str, Any]:
    """Carry for a fresh run from starting points ``p0: (G, R, P)`` (λ, ν set on the first call)."""
    import numpy as np

    shape = p0.shape[:-1]
    return dict(
        p=np.asarray(p0, dtype=np.float64),
        lam=np.ones(shape),
        nu=np.full(shape, 2.0),
        active=np.ones(shape, dtype=bool),
        converged=np.zeros(shape, dtype=bool),
        good=np.ones(shape, dtype=bool),
        it=np.zeros((), dtype=np.int32),
        best_ref=np.full(shape[:1], np.inf),
        ref_it=np.zeros((), dtype=np.int32),
        stalled=np.zeros((), dtype=bool),
        dsq=np.ones(p0.shape),
    )
