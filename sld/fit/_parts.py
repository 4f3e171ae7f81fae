"""A law's outputs that share no parameter are fitted apart, then merged into one result.

A law with K outputs (a loss per domain, say) whose parameters fall into disjoint sets,
output 1 using only ``E_1, A_1, a_1``, output 2 only ``E_2, ...``, has an objective that
is a sum over those *parts* (each output is scaled by its own std, see
:func:`sld.fit.fit_law`) and a Jacobian that is block-diagonal in them. Fitting each part
alone minimises the same objective, but

- the joint fit carries every parameter's tangent through every output's instructions,
  so its work grows with the square of the outputs, and one part's slow restarts keep
  the whole batch iterating; measured on domain_mixture's five-output laws (16 laws, its
  three folds, 16 restarts, once compiled): 15.2 s joint, 2.8 s in parts;
- the joint fit keeps the restart with the lowest total, while parts keep each part's
  own best restart, so the merged loss is the joint one or lower (the same 16 laws:
  equal on 12, lower on 4 by up to 1.2 %, higher on none by more than 0.02 %: the stall
  exit and damping differ per part).

Parts are the connected components of the graph joining two outputs when they share a
parameter, in output order. A law with one part, or with an output that has no
parameter, is fitted as one (and so exactly as before this split existed).

A part's fit depends only on the part, the call's rows, seeds and settings, and its warm
start: a part runs alone and its starting points come from its own seed. So
:class:`KeptParts` keeps each fitted part's results under those, and a law that shares a
part with one fitted before (a mutation of one output of five) takes them, the same to the
bit, instead of fitting it again.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from ._data import Rows
from ._program import _slot_order
from ._result import FitResult

Parts = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class PartLaw:
    """The outputs ``outputs`` (indices into the law's) of a law, as a law the fitter takes.

    ``parameters`` follow the whole law's slot order, so parts of renamed laws match.
    """

    expressions: tuple[sympy.Expr, ...]
    inputs: tuple[str, ...]
    parameters: tuple[str, ...]
    outputs: tuple[int, ...]
    canonical_parameters: tuple[str, ...] = ()


def output_parts(law: Any) -> Parts:
    """The law's outputs grouped into parts that share no parameter, first output first;
    one part holding every output when they cannot be split."""
    names = set(law.parameters)
    used = [{str(s) for s in e.free_symbols} & names for e in law.expressions]
    everything = (tuple(range(len(used))),)
    if len(used) < 2 or not all(used):
        return everything
    parent = list(range(len(used)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for k, params in enumerate(used):
        for name in params:
            if name in owner:
                parent[root(k)] = root(owner[name])
            else:
                owner[name] = k
    parts: dict[int, list[int]] = {}
    for k in range(len(used)):
        parts.setdefault(root(k), []).append(k)
    return tuple(tuple(p) for p in sorted(parts.values()))


def part_law(law: Any, outputs: Sequence[int]) -> PartLaw:
    """The law restricted to ``outputs`` (a part from :func:`output_parts`)."""
    exprs = tuple(law.expressions[k] for k in outputs)
    used = set().union(*({str(s) for s in e.free_symbols} for e in exprs))
    return PartLaw(
        expressions=exprs,
        inputs=tuple(law.inputs),
        parameters=tuple(p for p in _slot_order(law) if p in used),
        outputs=tuple(outputs),
    )


def part_rows(rows: Any, outputs: Sequence[int]) -> Rows:
    """Grouped rows (:class:`sld.fit.GroupedRows`) with only the output columns ``outputs``."""
    cols = list(outputs)
    return Rows(
        groups=tuple(rows.groups),
        X=tuple(rows.X),
        y=tuple(np.asarray(y, dtype=np.float64)[:, cols] for y in rows.y),
    )


def part_data(data: dict[str, Any], outputs: Sequence[int], *, total: int) -> dict[str, Any]:
    """Prepared arrays (:func:`sld.fit._data.prepare`) for the columns ``outputs`` of ``total``."""
    cols = np.asarray(outputs)
    out = dict(data)
    for key in ("y", "y_raw"):
        out[key] = data[key][..., cols]
    for key in ("scale", "scale_raw"):
        out[key] = data[key][:, cols]
    out["count"] = data["count"] * (len(cols) / total)
    return out


def merge_parts(
    results: Sequence[FitResult], parts: Sequence[Sequence[int]], *, parameters: Sequence[str]
) -> FitResult:
    """One FitResult for the whole law from its parts' results (same groups, in order).

    A group's loss is the parts' losses weighted by their share of the outputs (the joint
    objective's mean over outputs); ``ok`` and convergence need every part; iterations are
    the most any part ran, seconds the sum.
    """
    total = sum(len(p) for p in parts)
    weights = [len(p) / total for p in parts]
    first = results[0]
    bad = next((r for r in results if not r.ok), None)
    groups = list(first.groups)
    params = {
        g: {name: value for r in results for name, value in r.parameters.get(g, {}).items()}
        for g in groups
        if all(g in r.parameters for r in results)
    }
    losses = {
        g: float(sum(w * r.group_loss[g] for w, r in zip(weights, results, strict=True)))
        for g in groups
        if all(g in r.group_loss for r in results)
    }
    grads = [w * r.gradient_norm for w, r in zip(weights, results, strict=True)]
    return FitResult(
        ok=bad is None,
        reason=None if bad is None else bad.reason,
        groups=groups,
        parameter_names=list(parameters),
        parameters={g: {p: params[g][p] for p in parameters} for g in params},
        train_loss=float(np.mean(list(losses.values()))) if bad is None else math.inf,
        group_loss=losses,
        converged=all(r.converged for r in results),
        group_converged={g: all(r.group_converged.get(g, False) for r in results) for g in groups},
        gradient_norm=float(np.max(grads)) if bad is None else math.nan,
        restarts=first.restarts,
        finite_restarts=min(r.finite_restarts for r in results),
        iterations=max(r.iterations for r in results),
        seconds=float(sum(r.seconds for r in results)),
        compile_seconds=float(sum(r.compile_seconds for r in results)),
        fidelity=first.fidelity,
    )


class KeptParts:
    """Fitted parts' results (one FitResult per row set) by :meth:`key`; the least recently
    used go first once more than ``size`` are kept."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[Any, ...], list[FitResult]] = OrderedDict()

    @staticmethod
    def key(
        piece: PartLaw, call: bytes, warm: Mapping[str, Mapping[str, float]] | None
    ) -> tuple[Any, ...]:
        """What a part's fit depends on: the part, ``call`` (:func:`call_digest`) and the
        warm start it would get (the groups whose start names every parameter of it)."""
        started: tuple[tuple[str, tuple[float, ...]], ...] = ()
        if warm:
            started = tuple(
                sorted(
                    (g, tuple(float(v[p]) for p in piece.parameters))
                    for g, v in warm.items()
                    if all(p in v for p in piece.parameters)
                )
            )
        exprs = tuple(sympy.srepr(e) for e in piece.expressions)
        return (call, piece.outputs, piece.inputs, piece.parameters, exprs, started)

    def get(self, key: tuple[Any, ...]) -> list[FitResult] | None:
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
        return found

    def put(self, key: tuple[Any, ...], results: list[FitResult]) -> None:
        self._kept[key] = results
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()


KEPT = KeptParts(4096)


def call_digest(arrays: Mapping[str, np.ndarray], settings: object) -> bytes:
    """A digest of one fit call's prepared rows (``x``, ``y_raw``, ``mask``) and the
    ``repr`` of everything else its fits depend on (sets, seeds, fidelity, loss ...)."""
    h = hashlib.sha256()
    for name in ("x", "y_raw", "mask"):
        h.update(np.ascontiguousarray(arrays[name]).tobytes())
    h.update(repr(settings).encode())
    return h.digest()
