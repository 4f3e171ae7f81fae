"""A task's inputs as the law families see them, and the placeholder parameters they use.

Parameters in the families' trees are placeholders ``_q0, _q1, ...`` (real symbols).
The law grammar forbids names starting with ``_``, so a placeholder can never clash
with a name the task or a parent law uses; :mod:`sld.evolve.text` gives them
readable names when a law is printed. Inputs are the parser's symbols
(``Symbol(name, positive=True)``), so trees built here and trees parsed from law text
mix freely.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import sympy

from sld.proposer import TaskBrief

PLACEHOLDER = "_q"


def placeholder(index: int) -> sympy.Symbol:
    """The placeholder parameter number ``index``."""
    return sympy.Symbol(f"{PLACEHOLDER}{index}", real=True)


def is_placeholder(symbol: sympy.Basic) -> bool:
    """Whether ``symbol`` is a placeholder parameter made here."""
    return isinstance(symbol, sympy.Symbol) and symbol.name.startswith(PLACEHOLDER)


def placeholders_in(expressions: Sequence[sympy.Expr]) -> set[sympy.Symbol]:
    """Every placeholder parameter in ``expressions``."""
    return {s for e in expressions for s in e.free_symbols if is_placeholder(s)}


class Params:
    """Hands out fresh placeholders, starting after those already in some trees."""

    def __init__(self, *existing: sympy.Expr) -> None:
        used = [int(s.name[len(PLACEHOLDER) :]) for s in placeholders_in(existing)]
        self._next = max(used, default=-1) + 1

    def __call__(self) -> sympy.Symbol:
        symbol = placeholder(self._next)
        self._next += 1
        return symbol


def exact(value: float, *, digits: int = 2) -> sympy.Rational:
    """``value`` rounded to ``digits`` significant digits, as an exact rational."""
    if value == 0 or not math.isfinite(value):
        return sympy.Integer(0)
    rounded = float(f"{value:.{digits}g}")
    fraction = Fraction(repr(rounded))
    return sympy.Rational(fraction.numerator, fraction.denominator)


@dataclass(frozen=True)
class Feature:
    """One task input as the families see it.

    ``positive``: powers and logs of it are safe (training minimum > 0, or unknown
    range on a log-scale input). ``center``: the middle of ``log X`` (log-scale) or
    of ``X`` (linear) over the training range, rounded; 0 when the range is unknown.
    ``scale``: a power of ten near the geometric middle of a log-scale input (1 when
    unknown), used to keep ``(X/scale)**c`` near one. ``at_least_one``: the training
    minimum is known and >= 1, so ``log X >= 0``.
    """

    symbol: sympy.Symbol
    log_scale: bool
    positive: bool
    center: sympy.Rational
    scale: sympy.Integer | sympy.Rational
    at_least_one: bool = False

    @property
    def raw(self) -> sympy.Expr:
        """The input itself."""
        return self.symbol

    @property
    def log(self) -> sympy.Expr:
        """``log X`` for log-scale inputs, ``X`` for linear ones (uncentred)."""
        return sympy.log(self.symbol) if self.log_scale else self.symbol

    @property
    def centred(self) -> sympy.Expr:
        """The natural coordinate, centred on the middle of the training range."""
        return self.log - self.center


def features(brief: TaskBrief) -> tuple[Feature, ...]:
    """The brief's inputs as :class:`Feature` s, in task order."""
    out = []
    for name in brief.inputs:
        log_scale = bool(brief.log_scale.get(name, False))
        low, high = brief.ranges.get(name, (math.nan, math.nan))
        known = math.isfinite(low) and math.isfinite(high)
        positive = low > 0 if known else log_scale
        center: sympy.Rational = sympy.Integer(0)
        scale: sympy.Rational = sympy.Integer(1)
        if known and log_scale and low > 0:
            middle = (math.log(low) + math.log(high)) / 2
            center = exact(middle, digits=3)
            scale = sympy.Integer(10) ** round(middle / math.log(10))
        elif known and not log_scale:
            center = exact((low + high) / 2)
        symbol = sympy.Symbol(name, positive=True)
        at_least_one = known and low >= 1
        out.append(Feature(symbol, log_scale, positive, center, scale, at_least_one))
    return tuple(out)
