"""Placeholder trees as law text, and law text back as placeholder trees.

The offline proposer builds laws as SymPy trees whose parameters are placeholders
(:mod:`sld.evolve.features`). :func:`law_text` prints them in the law grammar with the
task's aliases and readable parameter names (coefficients upper case, exponents and
shapes lower case, a per-output suffix where a parameter belongs to one output);
:func:`parse_for` and :func:`as_placeholders` take a parent's text the other way.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy

from sld.evolve.features import is_placeholder, placeholder
from sld.law import FUNCTIONS, Law, LawPrinter, input_symbol, parameter_symbol, parse_law
from sld.proposer import TaskBrief

# Readable parameter names: coefficients upper case, exponents and shapes lower case.
# No I, O, S, L, e: easily misread, or the usual name of an output.
_COEFFICIENTS = tuple("ABCDFGHKMPRTUVWZ")
_SHAPES = tuple("abcdfghkmnpqrstuvwz")
_OFFSET = "E"
_NEVER = frozenset({"numpy", "np", "e", "pi", "E1", "L"}) | frozenset(FUNCTIONS)
# SymPy nodes whose arguments are "inside": a parameter there shapes the curve.
_SHAPING = (sympy.exp, sympy.log, sympy.tanh, sympy.Abs, sympy.Min, sympy.Max)


def _roles(expr: sympy.Expr) -> dict[sympy.Symbol, str]:
    """Each placeholder's role: ``offset`` (a term of the top sum), ``shape`` (inside an
    exponent or a function), else ``coefficient``; first appearance in print order."""
    roles: dict[sympy.Symbol, str] = {}
    if isinstance(expr, sympy.Add):
        for arg in expr.args:
            if is_placeholder(arg):
                roles.setdefault(arg, "offset")
    stack: list[tuple[sympy.Basic, bool]] = [(expr, False)]
    while stack:
        node, inside = stack.pop()
        if is_placeholder(node):
            roles.setdefault(node, "shape" if inside else "coefficient")
            continue
        children: list[tuple[sympy.Basic, bool]]
        if isinstance(node, sympy.Pow):
            children = [(node.base, inside), (node.exp, True)]
        else:
            shaping = isinstance(node, _SHAPING)
            children = [(arg, inside or shaping) for arg in node.args]
        stack.extend(reversed(children))
    return roles


def parameter_names(
    expressions: Sequence[sympy.Expr], *, taken: frozenset[str]
) -> dict[sympy.Symbol, str]:
    """Readable, collision-free names for the placeholders in ``expressions``.

    With several outputs, a parameter used by one output only gets that output's
    1-based suffix (``A_2``); shared ones get none. Names in ``taken`` (inputs,
    aliases, outputs) are never used.
    """
    users: dict[sympy.Symbol, set[int]] = {}
    for i, expr in enumerate(expressions):
        for s in expr.free_symbols:
            if is_placeholder(s):
                users.setdefault(s, set()).add(i)
    used = set(taken) | _NEVER
    names: dict[sympy.Symbol, str] = {}

    def claim(candidates: Sequence[str], suffix: str) -> str:
        for rank in range(1000):
            for base in candidates:
                name = f"{base}{rank or ''}{suffix}"
                if name not in used:
                    used.add(name)
                    return name
        raise ValueError("ran out of parameter names")  # pragma: no cover

    for i, expr in enumerate(expressions):
        suffix = f"_{i + 1}" if len(expressions) > 1 else ""
        for symbol, role in _roles(expr).items():
            if symbol in names:
                continue
            shared = len(users[symbol]) > 1
            end = "" if shared else suffix
            if role == "offset":
                names[symbol] = claim((_OFFSET, *_COEFFICIENTS), end)
            elif role == "shape":
                names[symbol] = claim(_SHAPES, end)
            else:
                names[symbol] = claim(_COEFFICIENTS, end)
    return names


def law_text(expressions: Sequence[sympy.Expr], brief: TaskBrief) -> str:
    """``out = expr`` per output joined by ``"; "``, inputs written by their aliases.

    Raises ``ValueError`` when a tree holds something the grammar cannot say.
    """
    taken = frozenset(brief.inputs) | frozenset(brief.aliases) | frozenset(brief.outputs)
    names: dict[sympy.Symbol, str] = {
        input_symbol(name): brief.alias_of(name) for name in brief.inputs
    }
    names.update(parameter_names(expressions, taken=taken))
    printer = LawPrinter(names)
    parts = [printer.doprint(e) for e in expressions]
    return "; ".join(f"{out} = {text}" for out, text in zip(brief.outputs, parts, strict=True))


def parse_for(text: str, brief: TaskBrief, *, max_params: int | None) -> Law:
    """``parse_law`` against the brief's inputs, aliases and outputs."""
    return parse_law(
        text,
        inputs=brief.inputs,
        outputs=brief.outputs,
        aliases=brief.aliases,
        max_params=max_params,
    )


def as_placeholders(law: Law, *, start: int = 0) -> tuple[sympy.Expr, ...]:
    """The law's expressions with its parameters renamed to placeholders from ``start``."""
    swap = {parameter_symbol(name): placeholder(start + i) for i, name in enumerate(law.parameters)}
    return tuple(e.xreplace(swap) for e in law.expressions)
