"""SymPy trees → law text: the inverse of building, for laws made as trees (mutation, seeds).

:mod:`sld.law._print` prints a checked *syntax tree*; :class:`LawPrinter` prints a
*SymPy expression* in the same grammar, so that whatever it writes parses back
(:func:`sld.law.parse_law`) to the same expression.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import sympy
from sympy.printing.str import StrPrinter


class LawPrinter(StrPrinter):
    """Prints a SymPy tree in the law grammar: ``**``, lower-case ``abs``/``min``/``max``,
    numbers as decimals or ``p/q``, each symbol by the name given in ``names``.

    Refuses (``ValueError``) anything the grammar cannot say: infinities, ``nan``,
    imaginary numbers, named constants other than Euler's number (printed ``exp(1)``,
    never ``E``, which would read as a parameter), unknown functions.
    """

    def __init__(self, names: Mapping[sympy.Symbol, str]) -> None:
        super().__init__({"order": "none"})
        self._names = names

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        if expr not in self._names:
            raise ValueError(f"no name for symbol {expr.name}")
        return self._names[expr]

    def _print_Rational(self, expr: sympy.Rational) -> str:
        if expr.q == 1:
            return str(expr.p)
        as_float = float(expr)
        decimal = repr(as_float)
        if "e" not in decimal and "inf" not in decimal and sympy.Rational(decimal) == expr:
            return decimal
        return f"{expr.p}/{expr.q}"

    def _print_Float(self, expr: sympy.Float) -> str:
        value = float(expr)
        if not math.isfinite(value):
            raise ValueError("non-finite number")
        return repr(value)

    def _print_Exp1(self, expr: sympy.Basic) -> str:
        return "exp(1)"

    def _print_Abs(self, expr: sympy.Abs) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_Min(self, expr: sympy.Min) -> str:
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Max(self, expr: sympy.Max) -> str:
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Function(self, expr: sympy.Function) -> str:
        name = type(expr).__name__
        if name not in ("exp", "log", "tanh") or len(expr.args) != 1:
            raise ValueError(f"function {name} is not in the law grammar")
        return f"{name}({self._print(expr.args[0])})"

    def emptyPrinter(self, expr: object) -> str:
        raise ValueError(f"{type(expr).__name__} is not in the law grammar")

    _print_Infinity = _print_NegativeInfinity = _print_ComplexInfinity = emptyPrinter
    _print_NaN = _print_ImaginaryUnit = _print_Pi = _print_EulerGamma = emptyPrinter
