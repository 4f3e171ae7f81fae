"""Printing a law for use elsewhere: LaTeX, the source of a NumPy function, SymPy source, and
its fitted parameters as CSV.

Printing walks the SymPy tree; nothing is evaluated.
"""

from __future__ import annotations

import csv
import io
import keyword
import re
from collections.abc import Mapping, Sequence

import sympy
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.str import StrPrinter

_LATEX_SPECIAL = {c: "\\" + c for c in "#$%&_{}"} | {
    "~": r"\~{}",
    "^": r"\^{}",
    "\\": r"\textbackslash{}",
}


def _latex_name(name: str) -> str:
    # a column a law cannot name ("model size") is shown as the text it is
    if not name.isidentifier():
        return r"\text{" + "".join(_LATEX_SPECIAL.get(c, c) for c in name) + "}"
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


def _code_names(
    inputs: Sequence[str], parameters: Sequence[str], expressions: Sequence[sympy.Expr]
) -> tuple[list[str], tuple[sympy.Expr, ...]]:
    """Inputs as Python identifiers (a column such as ``model size`` becomes ``model_size``,
    clear of every other name) and the expressions with those symbols swapped in."""
    taken = set(parameters) | {i for i in inputs if i.isidentifier() and not keyword.iskeyword(i)}
    names, swap = [], {}
    for name in inputs:
        if name.isidentifier() and not keyword.iskeyword(name):
            names.append(name)
            continue
        code = re.sub(r"\W", "_", name)
        code = code if code[:1].isalpha() or code[:1] == "_" else f"x_{code}"
        while code in taken or keyword.iskeyword(code):
            code += "_"
        taken.add(code)
        names.append(code)
        swap[sympy.Symbol(name, positive=True)] = sympy.Symbol(code, positive=True)
    return names, tuple(e.xreplace(swap) for e in expressions)


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

    Arguments are all task inputs in task order (a name that is not an identifier written as
    one, e.g. ``model_size``), then the parameters; one output is returned as an array,
    several as a tuple in output order.
    """
    inputs, expressions = _code_names(inputs, parameters, expressions)
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


class _SympySource(StrPrinter):
    """SymPy's string printer with every function written ``sympy.<name>(...)``, so the text
    runs after ``import sympy`` whatever the law's own names are."""

    def _print_Function(self, expr: sympy.Expr) -> str:
        return f"sympy.{expr.func.__name__}({self.stringify(expr.args, ', ')})"

    _print_Abs = _print_Min = _print_Max = _print_log = _print_exp = _print_Function

    def _print_Pow(self, expr: sympy.Pow, rational: bool = False) -> str:
        if expr.exp == sympy.S.Half:
            return f"sympy.sqrt({self._print(expr.base)})"
        if expr.exp == -sympy.S.Half:
            return f"1/sympy.sqrt({self._print(expr.base)})"
        return super()._print_Pow(expr, rational)


def law_sympy(
    *,
    text: str,
    inputs: Sequence[str],
    parameters: Sequence[str],
    outputs: Sequence[str],
    expressions: Sequence[sympy.Expr],
) -> str:
    """Source that rebuilds the law's SymPy expressions: inputs as positive symbols, parameters
    as real ones, one assignment per output (``parse_law``'s own symbols, equal expressions;
    an input whose name is not an identifier is written as one, e.g. ``model_size``)."""
    inputs, expressions = _code_names(inputs, parameters, expressions)
    used = set().union(*(e.free_symbols for e in expressions))
    names = {s.name for s in used}
    lines = [f"# {text}", "import sympy", ""]
    kept_inputs = [n for n in inputs if n in names]
    if kept_inputs:
        lines.append(
            f"{', '.join(kept_inputs)}{',' if len(kept_inputs) == 1 else ''} = "
            f"sympy.symbols({' '.join(kept_inputs)!r}, positive=True)"
        )
    if parameters:
        lines.append(
            f"{', '.join(parameters)}{',' if len(parameters) == 1 else ''} = "
            f"sympy.symbols({' '.join(parameters)!r}, real=True)"
        )
    printer = _SympySource()
    lines += [
        f"{out} = {printer.doprint(expr)}" for out, expr in zip(outputs, expressions, strict=True)
    ]
    return "\n".join(lines) + "\n"


def latex_equation(
    outputs: Sequence[str], expressions: Sequence[sympy.Expr], *, comments: Sequence[str] = ()
) -> str:
    """A LaTeX block: ``%`` comment lines, then ``equation`` (one output) or ``gather`` (several)."""
    lines = law_latex(outputs, expressions).split("\n")
    environment = "equation" if len(lines) == 1 else "gather"
    head = [f"% {c}" for c in comments]
    return (
        "\n".join(
            [*head, f"\\begin{{{environment}}}", " \\\\\n".join(lines), f"\\end{{{environment}}}"]
        )
        + "\n"
    )


def parameters_csv(parameters: Mapping[str, Mapping[str, float]], names: Sequence[str]) -> str:
    """CSV text: a ``group`` column and one column per parameter (``names`` order), one row per
    group in ``parameters`` order; numbers written with ``repr`` so they read back exactly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["group", *names])
    for group, values in parameters.items():
        writer.writerow([group, *(repr(float(values[n])) if n in values else "" for n in names)])
    return buffer.getvalue()
