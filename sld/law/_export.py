"""Printing a law: LaTeX lines and the source of a NumPy function.

Printing walks the SymPy tree; nothing is evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy
from sympy.printing.numpy import NumPyPrinter


def _latex_name(name: str) -> str:
    # SymPy reads "num_params" as num subscript params; show multi-part names upright.
    if "_" in name:
        return r"\mathrm{" + name.replace("_", r"\_") + "}"
    return sympy.latex(sympy.Symbol(name))


def law_latex(outputs: Sequence[str], expressions: Sequence[sympy.Expr]) -> str:
    """One ``out = expr`` LaTeX line per output, joined by newlines."""
    names = {s: _latex_name(s.name) for e in expressions for s in e.free_symbols}
    lines = [
        f"{_latex_name(out)} = {sympy.latex(expr, symbol_names=names)}"
        for out, expr in zip(outputs, expressions, strict=True)
    ]
    return "\n".join(lines)


class _Printer(NumPyPrinter):
    """NumPy printer that writes ``min``/``max`` as nested ``numpy.minimum``/``maximum``."""

    def _nested(self, function: str, args: Sequence[sympy.Expr]) -> str:
        text = self._print(args[-1])
        for arg in reversed(args[:-1]):
            text = f"numpy.{function}({self._print(arg)}, {text})"
        return text

    def _print_Min(self, expr: sympy.Min) -> str:
        return self._nested("minimum", expr.args)

    def _print_Max(self, expr: sympy.Max) -> str:
        return self._nested("maximum", expr.args)

    def _print_Abs(self, expr: sympy.Abs) -> str:
        return f"numpy.abs({self._print(expr.args[0])})"


def law_python(
    *,
    text: str,
    inputs: Sequence[str],
    parameters: Sequence[str],
    outputs: Sequence[str],
    expressions: Sequence[sympy.Expr],
) -> str:
    """Source of ``def law(<inputs>, <parameters>)`` returning the output(s) with NumPy.

    Arguments are all task inputs in task order, then the parameters; one
    output is returned as an array, several as a tuple in output order.
    """
    printer = _Printer({"fully_qualified_modules": True})
    values = [printer.doprint(expr) for expr in expressions]
    body = values[0] if len(values) == 1 else "(" + ", ".join(values) + ",)"
    arguments = ", ".join([*inputs, *parameters])
    returns = ", ".join(outputs)
    return (
        "import numpy\n\n\n"
        f"def law({arguments}):\n"
        f'    """{text.replace(chr(92), chr(92) * 2)}\n\n    Returns {returns}.\n    """\n'
        f"    return {body}\n"
    )
