"""``fit_law`` and ``predict``: one law, all groups × restarts in one jitted call.

(The batched path, ``fit_many``, is in ``_many`` and shares ``run_lm`` from here.)

The law's program is turned into straight-line JAX code (value + forward-mode
Jacobian), vmapped over restarts and groups, and run under the shared LM loop.
Compiled executables are cached by program fingerprint (identical for laws that
differ only in parameter names), padded shapes and options.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from sld.compile_cache import enable_compile_cache
from sld.errors import FitError

from ._data import GroupedRows, Prepared, initial_points, prepare
from ._evaluate import evaluate
from ._fidelity import Fidelity
from ._interpreter import interpreter_model
from ._lm import Damping, Reproject, initial_carry, lm_run
from ._narrow import chunks, kept, narrows
from ._parts import merge_parts, output_parts, part_law, part_rows
from ._polish import lm_polish
from ._program import CompiledLaw, Program, compile_law, parameter_vector
from ._result import FitResult, failed, summarise

Loss = Literal["squared", "huber"]
JacobianMode = Literal["forward", "jacfwd"]

# Compiled LM runs, least recently used first. Each holds its machine code in about 450–700
# memory mappings of its own (measured on vocab, XLA:CPU), and Linux stops a process at
# vm.max_map_count (65,530 by default): a bench worker that kept 256 died with "LLVM ERROR:
# Unable to allocate section memory" after about 100. 48 stay under half of that.
COMPILED_MAX = 48
_COMPILED: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_LAWS: dict[tuple[Any, ...], CompiledLaw] = {}
REPROJECT: Reproject = "exact"  # lm_run's projection; the bench also times "affine" and "none"
# lm_run's damping and its log|p| move of the program's scale-like slots (sld.fit._scales), on
# together since RULE12 (README, Speed); bench/fit_bench.py --damping/--log-scales set them
DAMPING: Damping = "marquardt"
LOG_SCALES = True
TIME_CHUNK = 20  # iterations between wall-clock checks when a time limit is set
# Restarts narrowed after a short run to each group's best few (sld.fit._narrow), in a batch
# whose groups hold NARROW_ROWS residuals or more on average. Off (0): measured with 8 at 20
# iterations, not kept (README, Speed); bench/fit_bench.py --narrow 8@20 turns it on.
NARROW_TO = 0
NARROW_AT = 20
NARROW_ROWS = 256


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


def _shape_key(tree: Any) -> tuple[Any, ...]:
    return tuple((k, np.shape(v), np.asarray(v).dtype.str) for k, v in sorted(tree.items()))


def run_lm(
    get_runner: Callable[[], jax.stages.Wrapped],
    key: tuple[Any, ...],
    carry: dict[str, np.ndarray],
    args: tuple[Any, ...],
    *,
    max_iter: int,
    time_limit: float | None,
    start: float,
    fetch: bool = True,
    polish: int = 0,
    pool: Executor | None = None,
) -> tuple[Any, float]:
    """Compile (cached by ``key`` + shapes) and run LM, in chunks when a time limit is set.

    ``args`` follow the carry: (data, …); the runner takes (carry, *args, stop_at, fresh).
    Where the data's groups hold ``NARROW_ROWS`` residuals or more on average, the restarts
    run ``NARROW_TO`` at a time for ``NARROW_AT`` iterations and only each group's
    ``NARROW_TO`` best run on (:mod:`sld.fit._narrow`); the output then holds those, and
    ``finite_restarts`` (G,) counts the good ones among all. Returns the final output (a
    host copy if ``fetch``, else device arrays still being computed) and the seconds spent compiling. With ``pool``, the compile happens
    here and the run in one of the pool's threads: the output is then a ``Future`` of the
    host copy (:mod:`sld.fit._threads`).
    """
    stop = max_iter if time_limit is None else min(max_iter, TIME_CHUNK)

    def polish_to(stop: int) -> np.int32:  # only the call that reaches the cap polishes
        return np.int32(stop + polish if 0 < max_iter <= stop else stop)

    count = np.asarray(args[0]["count"])  # residuals per group; 1 in a padded group
    real = count[count > 1]
    narrow = (
        real.size > 0
        and real.mean() >= NARROW_ROWS
        and narrows(
            restarts=np.shape(carry["p"])[1], keep=NARROW_TO, at=NARROW_AT, max_iter=max_iter
        )
    )
    parts = chunks(carry, keep=NARROW_TO) if narrow else [carry]
    first_stop, first_polish = np.int32(stop), polish_to(stop)
    call_args = (parts[0], *args, first_stop, np.bool_(True), first_polish)
    full_key = (
        *key,
        _shape_key(parts[0]),
        tuple(
            _shape_key(a) if isinstance(a, dict) else (np.shape(a), np.asarray(a).dtype.str)
            for a in args
        ),
    )
    compiled = _COMPILED.get(full_key)
    compile_seconds = 0.0
    if compiled is not None:
        _COMPILED.move_to_end(full_key)
    else:
        enable_compile_cache()  # once per process: a compile another process made is read back
        t0 = time.perf_counter()
        compiled = get_runner().lower(*call_args).compile()
        compile_seconds = time.perf_counter() - t0
        _COMPILED[full_key] = compiled
        while len(_COMPILED) > COMPILED_MAX:
            _COMPILED.popitem(last=False)  # its mappings go with it

    def execute() -> Any:
        finite = None  # good restarts per group, where narrowing leaves fewer in the batch
        if narrow:
            at = np.int32(NARROW_AT)
            outs = [jax.device_get(compiled(c, *args, at, np.bool_(True), at)) for c in parts]
            best, finite = kept(outs, keep=NARROW_TO)
            out = compiled(best, *args, first_stop, np.bool_(False), first_polish)
        else:
            out = compiled(*call_args)
        while time_limit is not None:
            it = int(out["it"])
            if (
                it >= max_iter
                or not bool(jnp.any(out["active"]))
                or bool(out["stalled"])
                or time.perf_counter() - start >= time_limit
            ):
                break
            stop = min(max_iter, it + TIME_CHUNK)
            next_carry = {k: out[k] for k in carry}
            out = compiled(next_carry, *args, np.int32(stop), np.bool_(False), polish_to(stop))
        return out if finite is None else {**out, "finite_restarts": finite}

    if pool is not None:
        return pool.submit(lambda: jax.device_get(execute())), compile_seconds
    out = execute()
    return (jax.device_get(out) if fetch else out), compile_seconds


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
) -> FitResult:
    """Fit one law to every group of ``rows``: per-group parameters, best of ``restarts`` LM runs.

    Objective per group: mean over rows and outputs of ((f − y)/std_g(y))² (Huber:
    2·huber_δ of the scaled residual; ``log_space``: log f against log y). ``polish``:
    iterations past ``max_iter`` for each group's best restart alone (``fit_many``). Outputs
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
            update={"fidelity": Fidelity(restarts=restarts, max_iter=max_iter, polish=polish)}
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
        update={"fidelity": Fidelity(restarts=restarts, max_iter=max_iter, polish=polish)}
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
