"""``run_lm``: compile an LM runner once per shape and run it, narrowed or in timed chunks.

Both fit paths (``fit_law`` in :mod:`sld.fit._fit`, ``fit_many`` in :mod:`sld.fit._many`)
hand it a runner factory, a cache key and the starting carry; it keeps the compiled
executables (least recently used first out) and runs them.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sld.compile_cache import enable_compile_cache

from ._narrow import chunks, kept, narrows

# Compiled LM runs, least recently used first. Each holds its machine code in about 450–700
# memory mappings of its own (measured on vocab, XLA:CPU), and Linux stops a process at
# vm.max_map_count (65,530 by default): a bench worker that kept 256 died with "LLVM ERROR:
# Unable to allocate section memory" after about 100. 48 stay under half of that.
COMPILED_MAX = 48
_COMPILED: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
TIME_CHUNK = 20  # iterations between wall-clock checks when a time limit is set
# A fit asked to narrow (``narrow`` > 0) runs its restarts for NARROW_AT iterations, then
# only each group's best ``narrow`` on (sld.fit._narrow), in a batch whose groups hold
# NARROW_ROWS residuals or more on average (README, "Narrowing the restarts").
NARROW_AT = 20
NARROW_ROWS = 256


def _dtype(value: Any) -> str:
    """``value``'s dtype code; read off the array itself, since ``np.asarray`` of a device
    array copies it to the host."""
    dtype = getattr(value, "dtype", None)
    return (dtype if dtype is not None else np.asarray(value).dtype).str


def _shape_key(tree: Any) -> tuple[Any, ...]:
    return tuple((k, np.shape(v), _dtype(v)) for k, v in sorted(tree.items()))


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
    narrow: int = 0,
    pool: Executor | None = None,
) -> tuple[Any, float]:
    """Compile (cached by ``key`` + shapes) and run LM, in chunks when a time limit is set.

    ``args`` follow the carry: (data, …); the runner takes (carry, *args, stop_at, fresh).
    With ``narrow`` > 0, where the data's groups hold ``NARROW_ROWS`` residuals or more on
    average, the restarts run ``narrow`` at a time for ``NARROW_AT`` iterations and only
    each group's ``narrow`` best run on (:mod:`sld.fit._narrow`); the output then holds those, and
    ``finite_restarts`` (G,) counts the good ones among all. Returns the final output (a
    host copy if ``fetch``, else device arrays still being computed) and the seconds spent compiling. With ``pool``, the compile happens
    here and the run in one of the pool's threads: the output is then a ``Future`` of the
    host copy (:mod:`sld.fit._threads`).
    """
    stop = max_iter if time_limit is None else min(max_iter, TIME_CHUNK)

    def polish_to(stop: int) -> np.int32:  # only the call that reaches the cap polishes
        return np.int32(stop + polish if 0 < max_iter <= stop else stop)

    narrowed = narrows(
        restarts=np.shape(carry["p"])[1], keep=narrow, at=NARROW_AT, max_iter=max_iter
    )
    if narrowed:  # only then read the rows per group back from the device
        count = np.asarray(args[0]["count"])  # residuals per group; 1 in a padded group
        real = count[count > 1]
        narrowed = real.size > 0 and real.mean() >= NARROW_ROWS
    parts = chunks(carry, keep=narrow) if narrowed else [carry]
    first_stop, first_polish = np.int32(stop), polish_to(stop)
    call_args = (parts[0], *args, first_stop, np.bool_(True), first_polish)
    full_key = (
        *key,
        _shape_key(parts[0]),
        tuple(_shape_key(a) if isinstance(a, dict) else (np.shape(a), _dtype(a)) for a in args),
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
        if narrowed:
            at = np.int32(NARROW_AT)
            outs = [jax.device_get(compiled(c, *args, at, np.bool_(True), at)) for c in parts]
            best, finite = kept(outs, keep=narrow)
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
