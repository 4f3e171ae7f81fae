"""``fit_law`` and ``predict``: one law, all groups × restarts in one jitted call.

(The batched path, ``fit_many``, is in ``_many``; both run LM through ``_run.run_lm``.)

The law's program is turned into straight-line JAX code (value + forward-mode
Jacobian), vmapped over restarts and groups, and run under the shared LM loop.
Compiled executables are cached by program fingerprint (identical for laws that
differ only in parameter names), padded shapes and options.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from sld.errors import FitError

from ._data import GroupedRows, Prepared, initial_points, prepare
from ._evaluate import evaluate
from ._fidelity import Fidelity
from ._interpreter import interpreter_model
from ._lm import Damping, Reproject, initial_carry, lm_run
from ._parts import merge_parts, output_parts, part_law, part_rows
from ._polish import lm_polish
from ._program import CompiledLaw, Program, compile_law, parameter_vector
from ._result import FitResult, failed, summarise
from ._run import run_lm

Loss = Literal["squared", "huber"]
JacobianMode = Literal["forward", "jacfwd"]

_LAWS: dict[tuple[Any, ...], CompiledLaw] = {}
REPROJECT: Reproject = "exact"  # lm_run's projection; the bench also times "affine" and "none"
# lm_run's damping and its log|p| move of the program's scale-like slots (sld.fit._scales), on
# together since RULE12 (README, Speed); bench/fit_bench.py --damping/--log-scales set them
DAMPING: Damping = "marquardt"
LOG_SCALES = True


def compiled_law(law: Any) -> CompiledLaw:
    """``compile_law`` memoised on the law's expressions and names."""
    key = (
        tuple(law.expressions),
        tuple(law.inputs),
        tuple(law.parameters),
        tuple(getattr(law, "canonical_parameters", ()) or ()),
    )
    found = _LAWS.get(key)
    if found is None:
        found = compile_law(law)
        if len(_LAWS) > 4096:
            _LAWS.clear()
        _LAWS[key] = found
    return found


def straight_model(
    program: Program, *, jacobian: JacobianMode = "forward"
) -> Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
    """p: (G, R, P), x: (G, N, I) → f (G, R, N, K), ∂f/∂p (G, R, N, K, P) as straight-line JAX code."""
    if jacobian == "forward":

        def single(p: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
            return evaluate(program, p, x, xp=jnp)
    else:

        def value(p: jax.Array, x: jax.Array) -> jax.Array:
            return evaluate(program, p, x, xp=jnp, tangents=False)[0]

        def single(p: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
            return value(p, x), jax.jacfwd(value)(p, x)

    return jax.vmap(jax.vmap(single, in_axes=(0, None)), in_axes=(0, 0))


def _runner(
    program: Program,
    *,
    loss: str,
    log_space: bool,
    jacobian: JacobianMode,
    polish: bool = False,
) -> jax.stages.Wrapped:
    model_of = straight_model(program, jacobian=jacobian)

    def run(
        carry: dict[str, jax.Array],
        data: dict[str, jax.Array],
        linear: jax.Array,
        stop_at: jax.Array,
        fresh: jax.Array,
        polish_to: jax.Array,
    ) -> dict[str, jax.Array]:
        def model(p: jax.Array, work: Any) -> tuple[jax.Array, jax.Array, Any]:
            return (*model_of(p, data["x"]), work)

        scale = jnp.asarray(program.scale_like) if LOG_SCALES and any(program.scale_like) else None
        options: dict[str, Any] = dict(
            loss=loss, log_space=log_space, reproject=REPROJECT, damping=DAMPING, scale=scale
        )
        out = lm_run(carry, data, linear, stop_at, fresh, model, **options)
        if not polish:
            return out
        return lm_polish(out, data, linear, polish_to, model, **options)

    return jax.jit(run)


def starting_points(
    program: Program, prepared: Prepared, *, restarts: int, seed: int
) -> np.ndarray:
    """``initial_points`` keeping candidates where the law is finite on every training row."""
    a = prepared.arrays
    x = a["x"][a["mask"]]

    def finite(p: np.ndarray) -> bool:
        with np.errstate(all="ignore"):
            values, _ = evaluate(program, p, x, xp=np, tangents=False)
        return bool(np.all(np.isfinite(values)))

    return initial_points(program, restarts=restarts, seed=seed, finite=finite)


def _check_options(restarts: int, max_iter: int, loss: str, time_limit: float | None) -> None:
    if restarts < 1:
        raise FitError(f"restarts must be at least 1, got {restarts}")
    if max_iter < 0:
        raise FitError(f"max_iter must be non-negative, got {max_iter}")
    if loss not in ("squared", "huber"):
        raise FitError(f"loss must be 'squared' or 'huber', got {loss!r}")
    if time_limit is not None and not time_limit > 0:
        raise FitError(f"time_limit must be positive seconds or None, got {time_limit}")


def _prepare_law(
    law: Any, rows: GroupedRows, *, log_space: bool, huber_delta: float
) -> tuple[CompiledLaw, Prepared]:
    compiled = compiled_law(law)
    prepared = prepare(
        rows,
        n_inputs=compiled.program.n_inputs,
        n_outputs=compiled.program.n_outputs,
        log_space=log_space,
        huber_delta=huber_delta,
    )
    return compiled, prepared


def fit_law(
    law: Any,
    rows: GroupedRows,
    *,
    restarts: int = 16,
    seed: int = 0,
    loss: Loss = "squared",
    huber_delta: float = 1.0,
    log_space: bool = False,
    max_iter: int = 200,
    time_limit: float | None = None,
    jacobian: JacobianMode = "forward",
    polish: int = 0,
    narrow: int = 0,
) -> FitResult:
    """Fit one law to every group of ``rows``: per-group parameters, best of ``restarts`` LM runs.

    Objective per group: mean over rows and outputs of ((f − y)/std_g(y))² (Huber:
    2·huber_δ of the scaled residual; ``log_space``: log f against log y). ``polish``:
    iterations past ``max_iter`` for each group's best restart alone (``fit_many``).
    ``narrow``: each group's best restarts kept after a short run, on large groups
    (:class:`sld.fit.Fidelity`; 0: none). Outputs
    that share no parameter are fitted apart and merged (:mod:`sld.fit._parts`). Numeric
    faults give ``FitResult(ok=False, reason=…)``; bad shapes or options raise FitError.
    """
    start = time.perf_counter()
    _check_options(restarts, max_iter, loss, time_limit)
    compiled, prepared = _prepare_law(law, rows, log_space=log_space, huber_delta=huber_delta)
    names = list(law.parameters)
    if prepared.reason is not None:
        return failed(
            names,
            list(prepared.groups),
            reason=prepared.reason,
            restarts=restarts,
            seconds=time.perf_counter() - start,
        ).model_copy(
            update={
                "fidelity": Fidelity(
                    restarts=restarts, max_iter=max_iter, polish=polish, narrow=narrow
                )
            }
        )
    parts = output_parts(law)
    if len(parts) > 1:  # outputs that share no parameter: fitted apart (sld.fit._parts)
        fits = []
        for part in parts:
            left = (
                None
                if time_limit is None
                else max(time_limit - (time.perf_counter() - start), 1e-3)
            )
            fits.append(
                fit_law(
                    part_law(law, part),
                    part_rows(rows, part),
                    restarts=restarts,
                    seed=seed,
                    loss=loss,
                    huber_delta=huber_delta,
                    log_space=log_space,
                    max_iter=max_iter,
                    time_limit=left,
                    jacobian=jacobian,
                    polish=polish,
                    narrow=narrow,
                )
            )
        return merge_parts(fits, parts, parameters=names)
    program = compiled.program
    G = prepared.arrays["x"].shape[0]
    p0 = np.broadcast_to(
        starting_points(program, prepared, restarts=restarts, seed=seed),
        (G, restarts, program.n_params),
    )
    linear = np.array(program.linear, dtype=bool)
    key = (
        "straight",
        program.fingerprint,
        loss,
        log_space,
        jacobian,
        REPROJECT,
        DAMPING,
        LOG_SCALES,
        polish > 0,
    )
    out, compile_seconds = run_lm(
        lambda: _runner(
            program, loss=loss, log_space=log_space, jacobian=jacobian, polish=polish > 0
        ),
        key,
        initial_carry(p0),
        (prepared.arrays, linear),
        max_iter=max_iter,
        time_limit=time_limit,
        start=start,
        polish=polish,
        narrow=narrow,
    )
    result = summarise(
        compiled,
        names,
        prepared.groups,
        out,
        prepared.arrays["count"],
        restarts=restarts,
        seconds=time.perf_counter() - start,
        compile_seconds=compile_seconds,
    )
    return result.model_copy(
        update={
            "fidelity": Fidelity(restarts=restarts, max_iter=max_iter, polish=polish, narrow=narrow)
        }
    )


def predict(law: Any, parameters: Mapping[str, float] | np.ndarray, X: np.ndarray) -> np.ndarray:
    """Evaluate the law at ``parameters`` (name → value, or ordered like ``law.parameters``).

    X: (rows, inputs) in ``law.inputs`` order → (rows, outputs). Computed in numpy
    (no compilation); values outside the law's domain come back as NaN or ±inf.
    """
    compiled = compiled_law(law)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != compiled.program.n_inputs:
        raise FitError(f"X must be (rows, {compiled.program.n_inputs}), got {X.shape}")
    p = parameter_vector(compiled, parameters, tuple(law.parameters))
    with np.errstate(all="ignore"):
        values, _ = evaluate(compiled.program, p, X, xp=np, tangents=False)
    return np.asarray(values, dtype=np.float64)


def _interpreter_runner(
    *, registers: int, loss: str, log_space: bool, polish: bool = False
) -> jax.stages.Wrapped:
    def run(
        carry: dict[str, jax.Array],
        data: dict[str, jax.Array],
        code: dict[str, jax.Array],
        stop_at: jax.Array,
        fresh: jax.Array,
        polish_to: jax.Array,
    ) -> dict[str, jax.Array]:
        model, first = interpreter_model(code, data["x"], registers=registers)
        options: dict[str, Any] = dict(
            loss=loss,
            log_space=log_space,
            reproject=REPROJECT,
            damping=DAMPING,
            scale=code["scale"] if LOG_SCALES else None,
        )
        out = lm_run(
            carry, data, code["linear"], stop_at, fresh, model, work=first(carry["p"]), **options
        )
        if not polish:
            return out
        return lm_polish(out, data, code["linear"], polish_to, model, work=first, **options)

    return jax.jit(run)
