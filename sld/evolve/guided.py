"""Residual-guided mutations: terms aimed at where a parent misses, read from its diagnostics.

A parent's :class:`~sld.scoring.ResidualDiagnostics` (fold fits against fold bands,
training rows only) name the inputs along which its scaled residual trends. A guided
mutation picks one trend (weighted by ``|slope|``) and edits the output it belongs to:

* ``guided_bend``: the residual bends away from the trend at the top of the input's
  range (``|bend| >= BEND`` and larger than half the slope): a floor or a saturation in
  that input (wrap its subtree as ``s/(1 + C*s)`` or ``s*(1 + C*s)**(-c)``, add an offset,
  or a sigmoid step in the input's centred coordinate);
* ``guided_interaction``: the trend's slope changes across another input (``|slope_change|``
  larger than ``|slope|``): an interaction (``C*u*v`` in centred coordinates, a power of the
  one input scaled by ``(1 + k*log`` the other``)``, or a second input in the exponent);
* ``guided_term``: otherwise a term in the input (a decaying or growing power, a log or a
  square of its centred coordinate).

Trends weaker than ``MIN_CORR`` are noise and never guide. Like every mutation here,
the result may break the task's bounds: the proposer validates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from sld.evolve.families import power_term
from sld.evolve.features import Feature, Params
from sld.evolve.mutate import nodes, replace_at, tidy
from sld.proposer import TaskBrief
from sld.scoring import InputTrend, ResidualDiagnostics

MIN_CORR = 0.2  # |correlation| of residual and coordinate below which a trend is noise
BEND = 0.05  # std of the scaled residual: a smaller bend at the top is noise


@dataclass(frozen=True)
class Guided:
    """A guided edit of one output: the new trees, the operator and why."""

    trees: tuple[sympy.Expr, ...]
    operator: str
    rationale: str


def _kind(trend: InputTrend) -> str:
    bend = trend.bend or 0.0
    if abs(bend) >= BEND and abs(bend) > abs(trend.slope) / 2:
        return "bend"
    change = trend.slope_change or 0.0
    if trend.varies_with and abs(change) > abs(trend.slope):
        return "interaction"
    return "term"


def usable_trends(diagnostics: ResidualDiagnostics | None) -> list[InputTrend]:
    """The trends strong enough to guide a mutation (largest ``|slope|`` first)."""
    if diagnostics is None:
        return []
    return [
        t
        for t in diagnostics.trends
        if abs(t.corr) >= MIN_CORR or (t.bend is not None and abs(t.bend) >= BEND)
    ]


def _term(f: Feature, p: Params, rng: np.random.Generator) -> sympy.Expr:
    choices = [lambda: p() * f.centred**2]
    if f.positive:
        choices += [lambda: power_term(f, p), lambda: p() * f.raw ** p()]
    if f.log_scale and f.positive:
        choices.append(lambda: p() * sympy.log(f.raw))
    else:
        choices.append(lambda: p() * f.raw)
    return choices[int(rng.integers(len(choices)))]()


def _subtrees_with(
    expr: sympy.Expr, symbol: sympy.Symbol
) -> list[tuple[tuple[int, ...], sympy.Expr]]:
    """Proper subtrees that use ``symbol`` and are not the symbol itself (terms, powers)."""
    return [
        (path, n) for path, n in nodes(expr) if path and symbol in n.free_symbols and n != symbol
    ]


def _bend(expr: sympy.Expr, f: Feature, p: Params, rng: np.random.Generator) -> sympy.Expr:
    roll = rng.random()
    inside = _subtrees_with(expr, f.symbol)
    if inside and roll < 0.5:
        path, s = inside[int(rng.integers(len(inside)))]
        wrapped = s / (1 + p() * s) if rng.random() < 0.5 else s * (1 + p() * s) ** (-p())
        return replace_at(expr, path, wrapped)
    if roll < 0.75 and not any(not a.free_symbols for a in sympy.Add.make_args(expr)):
        return expr + p()
    return expr + p() / (1 + sympy.exp(p() * f.centred + p()))


def _interaction(
    expr: sympy.Expr, f: Feature, g: Feature, p: Params, rng: np.random.Generator
) -> sympy.Expr:
    powers = [
        (path, n)
        for path, n in nodes(expr)
        if isinstance(n, sympy.Pow) and n.base == f.symbol and not n.exp.is_Number
    ]
    roll = rng.random()
    if powers and roll < 0.4:
        path, n = powers[int(rng.integers(len(powers)))]
        return replace_at(expr, path, n.base ** (n.exp + p() * g.centred))
    if g.positive and g.log_scale and f.positive and roll < 0.7:
        return expr + p() * (f.raw * (1 + p() * g.centred)) ** (-p())
    return expr + p() * f.centred * g.centred


def guided_child(
    trees: tuple[sympy.Expr, ...],
    diagnostics: ResidualDiagnostics,
    fs: Sequence[Feature],
    brief: TaskBrief,
    rng: np.random.Generator,
    *,
    parent_id: int,
) -> Guided | None:
    """One edit of ``trees`` aimed at a trend of ``diagnostics``; None when no trend guides."""
    trends = usable_trends(diagnostics)
    by_name = dict(zip(brief.inputs, fs, strict=True))
    trends = [t for t in trends if t.input in by_name and t.output in brief.outputs]
    if not trends:
        return None
    weights = np.array([abs(t.slope) + abs(t.bend or 0.0) for t in trends], dtype=float) + 1e-9
    trend = trends[int(rng.choice(len(trends), p=weights / weights.sum()))]
    k = brief.outputs.index(trend.output)
    f = by_name[trend.input]
    p = Params(*trees)
    kind = _kind(trend)
    name = brief.alias_of(trend.input)
    axis = f"log {name}" if trend.log else name
    if kind == "bend":
        changed = _bend(trees[k], f, p, rng)
        why = f"residual bends {trend.bend:+.2g} std at the top of {name}: floor or saturation"
    elif kind == "interaction" and trend.varies_with in by_name:
        g = by_name[trend.varies_with]
        changed = _interaction(trees[k], f, g, p, rng)
        why = (
            f"the {axis} trend changes by {trend.slope_change:+.2g} across "
            f"{brief.alias_of(trend.varies_with)}: interaction"
        )
    else:
        kind = "term"
        changed = trees[k] + _term(f, p, rng)
        why = f"residual trends with {axis} (corr {trend.corr:+.2f}): a {name} term"
    new = trees[:k] + (tidy(changed, fs, p),) + trees[k + 1 :]
    return Guided(new, f"guided_{kind}", f"{why}, on parent {parent_id} (output {k + 1})")
