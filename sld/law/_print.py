"""Normalized law text from a checked AST (the inverse of parsing, up to layout).

Printing keeps the tree exactly (parentheses wherever Python's precedence
needs them), writes ``+``/``-`` with spaces and ``* / **`` without, and
replaces aliases by input names, so that parsing the text again yields the
same expressions. Chains of ``+ -`` or ``* /`` are walked iteratively, so long
sums cost no recursion depth.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

_ADD, _MUL, _UNARY, _POW, _ATOM = 1, 2, 3, 4, 5
_CHAINS = {ast.Add: _ADD, ast.Sub: _ADD, ast.Mult: _MUL, ast.Div: _MUL}
_SYMBOL = {ast.Add: " + ", ast.Sub: " - ", ast.Mult: "*", ast.Div: "/"}


def _precedence(node: ast.expr) -> int:
    if isinstance(node, ast.BinOp):
        return _POW if isinstance(node.op, ast.Pow) else _CHAINS[type(node.op)]
    if isinstance(node, ast.UnaryOp):
        return _UNARY
    return _ATOM


def chain(node: ast.BinOp) -> tuple[list[ast.expr], list[ast.BinOp]]:
    """Operands and operator nodes of a left-associative ``+ -`` or ``* /`` chain.

    ``operands[0] ops[0].op operands[1] ops[1].op operands[2] ...``
    """
    level = _CHAINS[type(node.op)]
    operands: list[ast.expr] = []
    ops: list[ast.BinOp] = []
    current: ast.expr = node
    while (
        isinstance(current, ast.BinOp)
        and type(current.op) in _CHAINS
        and _CHAINS[type(current.op)] == level
    ):
        ops.append(current)
        operands.append(current.right)
        current = current.left
    operands.append(current)
    operands.reverse()
    ops.reverse()
    return operands, ops


def law_text(node: ast.expr, *, names: Mapping[str, str]) -> str:
    """Python-syntax text of a checked expression; ``names`` renames (aliases → inputs)."""

    def wrap(child: ast.expr, parenthesize: bool) -> str:
        text = show(child)
        return f"({text})" if parenthesize else text

    def show(node: ast.expr) -> str:
        if isinstance(node, ast.Name):
            return names.get(node.id, node.id)
        if isinstance(node, ast.Constant):
            return repr(node.value)
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            return f"{node.func.id}({', '.join(show(arg) for arg in node.args)})"
        if isinstance(node, ast.UnaryOp):
            sign = "-" if isinstance(node.op, ast.USub) else "+"
            return sign + wrap(node.operand, _precedence(node.operand) < _UNARY)
        assert isinstance(node, ast.BinOp)
        if isinstance(node.op, ast.Pow):
            base = wrap(node.left, _precedence(node.left) <= _POW)
            return base + "**" + wrap(node.right, _precedence(node.right) < _UNARY)
        operands, ops = chain(node)
        level = _CHAINS[type(node.op)]
        parts = [wrap(operands[0], _precedence(operands[0]) < level)]
        for op, operand in zip(ops, operands[1:], strict=True):
            parts.append(_SYMBOL[type(op.op)])
            parts.append(wrap(operand, _precedence(operand) <= level))
        return "".join(parts)

    return show(node)
