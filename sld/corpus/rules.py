"""Row-selection rules: a tiny whitelist grammar over a table's columns.

A rule is a boolean expression such as ``N >= 1e9 or (group == "mmlu" and logC >= 1.5)``.
It is parsed with :mod:`ast` (``mode="eval"``) and walked by our own evaluator; nothing is
ever handed to ``eval``. The grammar holds exactly:

* comparisons ``< <= > >= == !=``, chained (``1 <= P < 8``);
* ``and``, ``or``, ``not`` and parentheses;
* numeric literals (``8``, ``1e9``, ``-0.5``, and sizes as model names write them, ``1.4B``:
  :func:`sld.corpus.cells.expand_suffixes`) and string literals (``"mmlu"``);
* names, each one a column the caller allows;
* products and quotients of numeric names and numbers (``6*N*D >= 1e21``, ``D/N > 20``),
  for splits by compute or by tokens per parameter.

Calls, attributes, subscripts, other arithmetic and everything else are rejected.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sld.corpus.cells import expand_suffixes
from sld.errors import TaskError

MAX_RULE_CHARS = 2000
MAX_RULE_DEPTH = 32

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


@dataclass(frozen=True)
class Rule:
    """A parsed rule: its text, its syntax tree and the column names it reads."""

    text: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, columns: Mapping[str, np.ndarray], *, n_rows: int) -> np.ndarray:
        """Evaluate the rule row-wise; returns a bool array of shape (n_rows,).

        ``columns`` maps every name in :attr:`names` to a 1-D array of length ``n_rows``
        (floats, or strings for ``group``).
        """
        value = _evaluate(self.tree.body, columns, n_rows, self.text)
        return _as_mask(value, n_rows, self.text)

    def text_names(self) -> frozenset[str]:
        """The names the rule compares with a string (``dataset == "rw"`` → ``{"dataset"}``)."""
        found: set[str] = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                for a, b in zip(sides, sides[1:], strict=False):
                    for x, y in ((a, b), (b, a)):
                        if isinstance(x, ast.Name) and _is_string(y):
                            found.add(x.id)
        return frozenset(found)

    def compared_product(self) -> tuple[str, ...] | None:
        """The names multiplied together on one side of the rule's single comparison
        (``6*N*D >= 1e21`` → ``("N", "D")``, in the order written); None when the rule is
        not one comparison, or neither side is a product of two or more names (and numbers)."""
        body = self.tree.body
        if not isinstance(body, ast.Compare):
            return None
        for side in (body.left, *body.comparators):
            names = _product_names(side)
            if names is not None and len(names) >= 2:
                return names
        return None


def _product_names(node: ast.AST) -> tuple[str, ...] | None:
    """The names of a product of names and numbers, None for anything else."""
    if isinstance(node, ast.Name):
        return (node.id,)
    if _is_number(node):
        return ()
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        left, right = _product_names(node.left), _product_names(node.right)
        if left is not None and right is not None:
            return left + right
    return None


def parse_rule(text: str, *, names: Collection[str], where: str = "rule") -> Rule:
    """Parse ``text`` into a :class:`Rule` whose names all lie in ``names``.

    Raises TaskError (one line, prefixed by ``where``) for syntax errors, constructs
    outside the grammar, over-long or over-deep rules and unknown names; the last
    lists the valid names.
    """
    if not isinstance(text, str) or not text.strip():
        raise TaskError(f"{where}: the rule is empty; write e.g. 'N >= 1e9'")
    if len(text) > MAX_RULE_CHARS:
        raise TaskError(
            f"{where}: the rule has {len(text)} characters, more than {MAX_RULE_CHARS}; shorten it"
        )
    try:
        tree = ast.parse(expand_suffixes(text.strip()), mode="eval")
    except SyntaxError as exc:
        column = f" at character {exc.offset}" if exc.offset else ""
        raise TaskError(
            f"{where}: syntax error in rule {text!r}{column}; "
            "use comparisons joined by and/or, e.g. 'N >= 1e9 and P == 8'"
        ) from None
    used: set[str] = set()
    _check(tree.body, depth=0, used=used, text=text, where=where)
    unknown = sorted(used - set(names))
    if unknown:
        valid = ", ".join(sorted(n for n in names if n.isidentifier()))  # what a rule can write
        raise TaskError(
            f"{where}: unknown name {unknown[0]!r} in rule {text!r}; valid names are: {valid}"
        )
    return Rule(text=text, tree=tree, names=frozenset(used))


def _check(node: ast.AST, *, depth: int, used: set[str], text: str, where: str) -> None:
    if depth > MAX_RULE_DEPTH:
        raise TaskError(f"{where}: rule {text!r} nests deeper than {MAX_RULE_DEPTH}; simplify it")
    children: list[ast.AST]
    if isinstance(node, ast.BoolOp):
        children = list(node.values)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        children = [node.operand]
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        if not _is_number(node.operand):
            raise _unsupported(node, text, where)
        return
    elif isinstance(node, ast.Compare):
        if not all(type(op) in _COMPARE for op in node.ops):
            raise _unsupported(node, text, where)
        children = [node.left, *node.comparators]
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div):
        children = [node.left, node.right]
    elif isinstance(node, ast.Name):
        used.add(node.id)
        return
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float | str):
            raise _unsupported(node, text, where)
        return
    else:
        raise _unsupported(node, text, where)
    for child in children:
        _check(child, depth=depth + 1, used=used, text=text, where=where)


def _is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _is_number(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    )


def _unsupported(node: ast.AST, text: str, where: str) -> TaskError:
    kind = type(node).__name__
    if isinstance(node, ast.Call):
        kind = "function call"
    elif isinstance(node, ast.Attribute):
        kind = "attribute access"
    elif isinstance(node, ast.Subscript):
        kind = "subscript"
    elif isinstance(node, ast.BinOp):
        kind = "arithmetic"
    return TaskError(
        f"{where}: {kind} is not allowed in rule {text!r}; use only names, numbers, "
        "strings, products and quotients (6*N*D), comparisons, and/or/not and parentheses"
    )


def _evaluate(node: ast.AST, columns: Mapping[str, np.ndarray], n_rows: int, text: str) -> object:
    if isinstance(node, ast.BoolOp):
        masks = [_as_mask(_evaluate(v, columns, n_rows, text), n_rows, text) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return combine.reduce(masks)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return ~_as_mask(_evaluate(node.operand, columns, n_rows, text), n_rows, text)
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, columns, n_rows, text)
        return -value if isinstance(node.op, ast.USub) else value  # type: ignore[operator]
    if isinstance(node, ast.Compare):
        # a < b <= c  means  (a < b) and (b <= c), each side evaluated once
        left = _evaluate(node.left, columns, n_rows, text)
        result = np.ones(n_rows, dtype=bool)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator, columns, n_rows, text)
            result &= _compare(_COMPARE[type(op)], left, right, n_rows, text)
            left = right
        return result
    if isinstance(node, ast.BinOp):
        factors: list[Any] = [_evaluate(v, columns, n_rows, text) for v in (node.left, node.right)]
        if any(_is_text(f) for f in factors):
            raise TaskError(f"rule {text!r} multiplies or divides text; use numeric columns there")
        operate = np.multiply if isinstance(node.op, ast.Mult) else np.divide
        with np.errstate(all="ignore"):
            return operate(*factors)
    if isinstance(node, ast.Name):
        return np.asarray(columns[node.id])
    if isinstance(node, ast.Constant):
        return node.value
    raise TaskError(f"rule {text!r} holds an unsupported construct")  # unreachable after _check


def _compare(
    op: Callable[[Any, Any], Any], left: object, right: object, n_rows: int, text: str
) -> np.ndarray:
    left_is_text = _is_text(left)
    if left_is_text != _is_text(right):
        raise TaskError(
            f'rule {text!r} compares text with a number; quote group names, e.g. group == "a"'
        )
    with np.errstate(invalid="ignore"):
        return _as_mask(op(left, right), n_rows, text)


def _is_text(value: object) -> bool:
    if isinstance(value, str):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "OUS"


def _as_mask(value: object, n_rows: int, text: str) -> np.ndarray:
    mask = np.asarray(value)
    if mask.dtype != bool:
        raise TaskError(f"rule {text!r} is not a condition; compare a column, e.g. 'N >= 1e9'")
    return np.broadcast_to(mask, (n_rows,)).copy()
