"""``fit_many`` and ``fit_many_sets``: many laws, one compiled interpreter per size bucket.

Row sets (bootstrap resamples, validation folds) become extra groups of one batch:
LM runs each (group, restart) independently, so fitting B row sets in one call
gives each set the fit it would get alone, at the cost of one batched run (or a
better one: the batch's stall exit waits for every set, see :mod:`sld.fit._lm`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sld.errors import FitError

from . import _fit
from ._data import GroupedRows, Prepared, Rows, prepare
from ._fidelity import Fidelity, subsample
from ._fit import Loss, _check_options, _interpreter_runner, compiled_law, starting_points
from ._lm import initial_carry
from ._lowering import lower
from ._parts import KEPT, Parts, call_digest, merge_parts, output_parts, part_data, part_law
from ._program import CompiledLaw
from ._result import FitResult, failed, summarise
from ._run import run_lm
from ._threads import fit_pool

_DTYPES = {"float64": np.float64, "float32": np.float32}


@dataclass(frozen=True)
class _Set:
    """One row set as it enters the batch: its own preparation and its groups' place."""

    prepared: Prepared
    seed: int
    first: int  # index of its first group in the combined batch (−1: not fitted)


def fit_many(
    laws: Sequence[Any],
    rows: GroupedRows,
    *,
    restarts: int = 16,
    seed: int = 0,
    loss: Loss = "squared",
    huber_delta: float = 1.0,
    log_space: bool = False,
    max_iter: int = 200,
    polish: int = 0,
    narrow: int = 0,
    time_limit: float | None = None,
    fidelity: Fidelity | None = None,
    starts: Sequence[Mapping[str, Mapping[str, float]] | None] | None = None,
) -> list[FitResult]:
    """Fit many distinct laws to the same rows, compiling nothing per law.

    Every law runs the same LM as ``fit_law`` (same starting points for the same
    ``seed``) through one jitted instruction interpreter per size bucket, so a new
    law costs a host lowering of a few ms instead of an XLA compile. ``time_limit``
    applies per law (per part, for a law whose outputs are fitted apart:
    :mod:`sld.fit._parts`). A law that cannot be compiled (unsupported function, unknown
    symbol) gets ``ok=False`` with the reason instead of stopping the batch.
    ``polish``: iterations past ``max_iter`` that each group's best restart may run on
    alone when the batch reaches its cap (:func:`sld.fit._polish.lm_polish`; a fit that
    polishes compiles its own executable). ``narrow``: each group's best restarts kept after
    a short run, on large groups (:class:`sld.fit.Fidelity`; 0: none). ``fidelity`` (e.g.
    ``sld.fit.SCREEN``), when given, sets restarts, iterations, polish, narrowing, a row
    subsample and the precision instead of ``restarts``, ``max_iter``, ``polish`` and
    ``narrow``;
    every result records the fidelity it was fitted at. ``starts`` (one per law, or
    None) warm-starts restart 0 of the named groups (see :func:`fit_many_sets`).
    """
    sets = fit_many_sets(
        laws,
        [rows],
        seeds=seed,
        restarts=restarts,
        loss=loss,
        huber_delta=huber_delta,
        log_space=log_space,
        max_iter=max_iter,
        polish=polish,
        narrow=narrow,
        time_limit=time_limit,
        fidelity=fidelity,
        starts=starts,
    )
    return [per_law[0] for per_law in sets]


def fit_many_sets(
    laws: Sequence[Any],
    row_sets: Sequence[GroupedRows],
    *,
    seeds: int | Sequence[int] = 0,
    restarts: int = 16,
    loss: Loss = "squared",
    huber_delta: float = 1.0,
    log_space: bool = False,
    max_iter: int = 200,
    polish: int = 0,
    narrow: int = 0,
    time_limit: float | None = None,
    fidelity: Fidelity | None = None,
    starts: Sequence[Mapping[str, Mapping[str, float]] | None] | None = None,
) -> list[list[FitResult]]:
    """Fit every law to every row set; ``result[i][s]`` is law i fitted to row set s.

    The groups of all row sets form one batch per law (one LM run), so B bootstrap
    resamples or K validation folds cost one call instead of B or K. Row set s starts
    from the points ``fit_law(law, row_sets[s], seed=seeds[s])`` would use (``seeds``:
    one per set, or one int for all) and its result equals that fit up to rounding (or
    is better, where the batch runs on after that set alone would have stalled).
    A row set whose rows cannot be fitted (non-finite, constant target) gets
    ``ok=False`` results with the reason. ``seconds`` and ``compile_seconds`` of one
    law's batch are shared equally among its row sets; ``iterations`` is the batch's.

    ``starts[i]`` (None: none) maps a group name to law i's parameter values there
    (a ``FitResult.parameters`` entry): that group's restart 0, in every row set that
    has the group, starts from them instead of the seeded point (a warm start, e.g.
    a bootstrap resample from the fit on all rows). A start missing a parameter or
    holding a non-finite value is ignored.
    """
    fid = fidelity or Fidelity(restarts=restarts, max_iter=max_iter, polish=polish, narrow=narrow)
    _check_options(fid.restarts, fid.max_iter, loss, time_limit)
    laws = list(laws)
    row_sets = list(row_sets)
    if not row_sets:
        raise FitError("fit_many_sets needs at least one row set")
    seed_list = [seeds] * len(row_sets) if isinstance(seeds, int) else [int(s) for s in seeds]
    if len(seed_list) != len(row_sets):
        raise FitError(f"got {len(seed_list)} seeds for {len(row_sets)} row sets")
    if not laws:
        return []
    if starts is not None and len(starts) != len(laws):
        raise FitError(f"got {len(starts)} starts for {len(laws)} laws")
    n_inputs, n_outputs = len(laws[0].inputs), len(laws[0].expressions)

    def prepared_rows(rows: GroupedRows) -> Prepared:
        return prepare(
            rows,
            n_inputs=n_inputs,
            n_outputs=n_outputs,
            log_space=log_space,
            huber_delta=huber_delta,
        )

    sets: list[_Set] = []
    groups: list[str] = []
    X: list[np.ndarray] = []
    y: list[np.ndarray] = []
    for s, (rows, set_seed) in enumerate(zip(row_sets, seed_list, strict=True)):
        rows = subsample(rows, max_rows=fid.max_rows, seed=set_seed)
        prepared = prepared_rows(rows)
        first = -1
        if prepared.reason is None:
            first = len(groups)
            groups += [f"{s}/{g}" for g in prepared.groups]
            X += list(rows.X)
            y += list(rows.y)
        sets.append(_Set(prepared=prepared, seed=set_seed, first=first))
    batch = prepared_rows(Rows(tuple(groups), tuple(X), tuple(y))) if groups else None
    dtype = _DTYPES[fid.dtype]
    device: dict[tuple[int, ...], dict[str, Any]] = {}  # a part's outputs → its device arrays
    pool = fit_pool()  # runs execute from its threads, each the run it is alone (_threads)

    def data_for(part: tuple[int, ...]) -> dict[str, Any]:
        assert batch is not None
        if part not in device:
            arrays = batch.arrays
            if len(part) < n_outputs:
                arrays = part_data(arrays, part, total=n_outputs)
            device[part] = {k: jnp.asarray(_cast(v, dtype)) for k, v in arrays.items()}
        return device[part]

    def launch(
        law: Any, compiled: CompiledLaw, part: tuple[int, ...], warm: Any, kept_as: Any = None
    ) -> _Run:
        start = time.perf_counter()
        program = compiled.program
        code = lower(program)
        G = batch.arrays["x"].shape[0] if batch is not None else 0
        p0 = np.zeros((G, fid.restarts, code.n_params))
        for st in sets:
            if st.first < 0:
                continue
            points = starting_points(program, st.prepared, restarts=fid.restarts, seed=st.seed)
            p0[st.first : st.first + len(st.prepared.groups), :, : program.n_params] = points
            if st.first == 0:
                p0[len(groups) :, :, : program.n_params] = points  # padded groups
        if warm:
            _warm(p0, warm, sets=sets, slots=compiled.slot_names)
        polished = fid.polish > 0
        key = (
            "interpreter",
            code.n_registers,
            loss,
            log_space,
            _fit.REPROJECT,
            _fit.DAMPING,
            _fit.LOG_SCALES,
            polished,
        )
        out, compile_seconds = run_lm(
            functools.partial(
                _interpreter_runner,
                registers=code.n_registers,
                loss=loss,
                log_space=log_space,
                polish=polished,
            ),
            key,
            _cast_tree(initial_carry(p0), dtype),
            (data_for(part), _cast_tree(code.arrays, dtype)),
            max_iter=fid.max_iter,
            polish=fid.polish,
            narrow=fid.narrow,
            time_limit=time_limit,
            start=start,
            fetch=False,
            pool=pool,
        )
        return _Run(compiled, list(law.parameters), part, out, compile_seconds, start, kept_as)

    digest: list[bytes] = []  # the call's rows and settings, hashed the first time a part needs it

    def call() -> bytes | None:
        if time_limit is not None or batch is None:
            return None  # a clock makes the fit depend on the machine's speed: keep none
        if not digest:
            described = [(st.seed, st.first, st.prepared.groups, st.prepared.reason) for st in sets]
            settings = (described, fid.model_dump_json(), loss, huber_delta, log_space)
            digest.append(
                call_digest(
                    batch.arrays, (*settings, _fit.REPROJECT, _fit.DAMPING, _fit.LOG_SCALES)
                )
            )
        return digest[0]

    pending: list[list[FitResult] | tuple[list[str], Parts, list[_Run | list[FitResult]]]] = []
    flying: dict[Any, _Run] = {}  # part key → its run launched in this call
    for i, law in enumerate(laws):
        names = list(law.parameters)
        try:
            compiled = compiled_law(law)
        except FitError as err:
            pending.append([_failed(names, st, str(err), fid) for st in sets])
            continue
        program = compiled.program
        if (program.n_inputs, program.n_outputs) != (n_inputs, n_outputs):
            raise FitError("fit_many needs laws over the same inputs and outputs")
        if batch is None:
            pending.append([_failed(names, st, st.prepared.reason or "", fid) for st in sets])
            continue
        warm = starts[i] if starts is not None else None
        parts = output_parts(law)
        runs: list[_Run | list[FitResult]] = []
        if len(parts) == 1:
            runs.append(launch(law, compiled, parts[0], warm))
        else:
            for part in parts:
                piece = part_law(law, part)
                on = call()
                key = None if on is None else KEPT.key(piece, on, warm)
                found = KEPT.get(key) if key is not None else None
                if found is not None:  # this part, these rows: fitted before
                    runs.append(found)
                elif key is not None and key in flying:  # or by a law earlier in this call
                    runs.append(flying[key])
                else:
                    fresh = launch(piece, compiled_law(piece), part, warm, key)
                    if key is not None:
                        flying[key] = fresh
                    runs.append(fresh)
        pending.append((names, parts, runs))
    fitted = max(1, sum(st.first >= 0 for st in sets))
    results: list[list[FitResult]] = []
    for item in pending:
        if isinstance(item, list):
            results.append(item)
            continue
        names, parts, runs = item
        per_part: list[list[FitResult]] = []
        for run in runs:
            if isinstance(run, list):
                per_part.append(run)
                continue
            kept = KEPT.get(run.key) if run.key is not None else None
            if kept is not None:  # a run two laws of this call share, summarised once
                per_part.append(kept)
                continue
            done = _summaries(run, sets, fid=fid, fitted=fitted, total=n_outputs)
            if run.key is not None:
                KEPT.put(run.key, done)
            per_part.append(done)
        if len(runs) == 1:
            results.append(per_part[0])
            continue
        results.append(
            [
                merge_parts([p[s] for p in per_part], parts, parameters=names)
                for s in range(len(sets))
            ]
        )
    return results


@dataclass(frozen=True)
class _Run:
    """One LM run in flight: a law (or one part of it, :mod:`sld.fit._parts`) on every set."""

    compiled: CompiledLaw
    names: list[str]
    part: tuple[int, ...]
    out: Any
    compile_seconds: float
    start: float
    key: Any = None  # where its results are kept for a law sharing this part (None: not kept)


def _summaries(
    run: _Run, sets: Sequence[_Set], *, fid: Fidelity, fitted: int, total: int
) -> list[FitResult]:
    """The run's result on each row set (waits for it)."""
    out = run.out.result() if isinstance(run.out, Future) else run.out
    host = jax.device_get(out)
    seconds = (time.perf_counter() - run.start) / fitted
    share = len(run.part) / total  # the rows·outputs a part's loss averages over
    per_set = []
    for st in sets:
        if st.first < 0:
            per_set.append(_failed(run.names, st, st.prepared.reason or "", fid))
            continue
        n = len(st.prepared.groups)
        part = {
            k: v if np.ndim(v) == 0 else np.asarray(v)[st.first : st.first + n]
            for k, v in host.items()
        }
        result = summarise(
            run.compiled,
            run.names,
            st.prepared.groups,
            part,
            st.prepared.arrays["count"] * share,
            restarts=fid.restarts,
            seconds=seconds,
            compile_seconds=run.compile_seconds / fitted,
        )
        per_set.append(result.model_copy(update={"fidelity": fid}))
    return per_set


def _warm(
    p0: np.ndarray,
    start: Mapping[str, Mapping[str, float]],
    *,
    sets: Sequence[_Set],
    slots: Sequence[str],
) -> None:
    """Set restart 0 of each fitted set's groups that ``start`` names (rows of ``p0`` from
    each set's ``first``)."""
    for st in sets:
        if st.first < 0:
            continue
        for j, name in enumerate(st.prepared.groups):
            values = start.get(name)
            if values is None or any(slot not in values for slot in slots):
                continue
            point = np.array([float(values[slot]) for slot in slots])
            if np.all(np.isfinite(point)):
                p0[st.first + j, 0, : len(slots)] = point


def _failed(names: list[str], st: _Set, reason: str, fid: Fidelity) -> FitResult:
    result = failed(names, list(st.prepared.groups), reason=reason, restarts=fid.restarts)
    return result.model_copy(update={"fidelity": fid})


def _cast(value: np.ndarray, dtype: type) -> np.ndarray:
    value = np.asarray(value)
    return value.astype(dtype) if value.dtype.kind == "f" else value


def _cast_tree(tree: dict[str, Any], dtype: type) -> dict[str, Any]:
    return {k: _cast(v, dtype) for k, v in tree.items()}
