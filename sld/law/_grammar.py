"""The whitelist: one expression piece's syntax tree (:mod:`sld.law._syntax`) → checked.

Nothing is compiled or run. The tree is walked iteratively (so hostile nesting
cannot exhaust the Python stack) and every node must be one of

* a number literal (``int`` or ``float``, at most 30 digits, ``|v| <= 1e300``,
  non-zero ``|v| >= 1e-300``);
* a plain name (not starting with ``_``, at most 40 characters);
* ``+ - * / **`` between expressions, unary ``-`` and ``+``;
* a call of a whitelisted function by bare name with positional arguments
  (see ``FUNCTIONS``).

Anything else (attributes, subscripts, calls to other names, keywords,
strings, containers, comprehensions, lambdas, comparisons, ...) is reported
at its 0-based offset in the original text, leftmost offence first.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass

from sld.errors import ParseError
from sld.law._syntax import Locator

# name → number of positional arguments (None: two or more)
FUNCTIONS: dict[str, int | None] = {
    "log": 1,
    "log10": 1,
    "log2": 1,
    "exp": 1,
    "sqrt": 1,
    "abs": 1,
    "tanh": 1,
    "min": None,
    "max": None,
}
# Names the Python export needs for itself.
RESERVED = frozenset({"numpy", "np"})
MAX_NAME_LENGTH = 40
MAX_DIGITS = 30
MAX_MAGNITUDE = 1e300
MIN_MAGNITUDE = 1e-300

_FUNCTION_LIST = ", ".join(FUNCTIONS)
_ALLOWED_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_ALLOWED_UNARY = (ast.USub, ast.UAdd)
_OPERATOR_TEXT = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.Not: "not",
    ast.Invert: "~",
}
_ARITHMETIC = "write the law as an arithmetic expression"
# node type → (what it is, how to fix it)
_FORBIDDEN: dict[type, tuple[str, str]] = {
    ast.Subscript: ("indexing", "use plain names such as x0"),
    ast.Slice: ("slicing", "use plain names"),
    ast.Lambda: ("lambda", _ARITHMETIC),
    ast.IfExp: ("conditional expression", "use min(...) or max(...)"),
    ast.BoolOp: ("boolean operator", _ARITHMETIC),
    ast.Compare: ("comparison", _ARITHMETIC),
    ast.NamedExpr: ("assignment expression", "write one 'output = expression' per line"),
    ast.Dict: ("dict literal", _ARITHMETIC),
    ast.Set: ("set literal", _ARITHMETIC),
    ast.List: ("list literal", _ARITHMETIC),
    ast.Tuple: ("tuple", "separate expressions with ';', not ','"),
    ast.ListComp: ("comprehension", _ARITHMETIC),
    ast.SetComp: ("comprehension", _ARITHMETIC),
    ast.DictComp: ("comprehension", _ARITHMETIC),
    ast.GeneratorExp: ("generator expression", _ARITHMETIC),
    ast.Await: ("await", _ARITHMETIC),
    ast.Yield: ("yield", _ARITHMETIC),
    ast.YieldFrom: ("yield", _ARITHMETIC),
    ast.Starred: ("starred expression", _ARITHMETIC),
    ast.JoinedStr: ("f-string", _ARITHMETIC),
    ast.FormattedValue: ("f-string", _ARITHMETIC),
}
_NOT_COUNTED = (ast.operator, ast.unaryop, ast.cmpop, ast.boolop, ast.expr_context)


@dataclass(frozen=True)
class Names:
    """How bare names resolve: ``inputs`` maps every input name and alias to
    its input; ``outputs`` are names that may not appear on a right side."""

    inputs: dict[str, str]
    outputs: frozenset[str]


def check_tree(
    body: ast.expr,
    locator: Locator,
    *,
    names: Names,
    max_depth: int,
    max_nodes: int,
) -> list[str]:
    """Check ``body`` against the whitelist and the bounds; return its parameter
    names in order of first appearance.

    Walks iteratively; reports the leftmost offending construct, then a depth
    or size violation.
    """
    offences: list[tuple[int, int, ParseError]] = []
    parameters: dict[str, None] = {}
    too_deep: ast.AST | None = None
    nodes = 0

    def offend(error: ParseError) -> None:
        offences.append((error.position, len(offences), error))

    stack: list[tuple[ast.AST, int]] = [(body, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, _NOT_COUNTED):
            continue
        nodes += 1
        if depth > max_depth and too_deep is None:
            too_deep = node
        children: list[ast.AST] = list(ast.iter_child_nodes(node))
        problem = _check_node(node, locator, names)
        if problem is not None:
            offend(problem)
            if not isinstance(node, ast.Attribute):
                continue  # the construct itself is the offence; its insides add nothing
        if isinstance(node, ast.Call):
            children = [*node.args, *(k.value for k in node.keywords)]
            if not isinstance(node.func, ast.Name):
                children.insert(0, node.func)
        elif isinstance(node, ast.Name) and not node.id.startswith("_"):
            if node.id not in names.inputs and problem is None:
                parameters.setdefault(node.id, None)
        for child in reversed(children):
            # a left-associative chain of + - (or * /) counts as one level
            same_chain = (
                isinstance(node, ast.BinOp)
                and child is node.left
                and isinstance(child, ast.BinOp)
                and _chain_class(child.op) == _chain_class(node.op) != ""
            )
            stack.append((child, depth if same_chain else depth + 1))
    if offences:
        raise min(offences, key=lambda item: item[:2])[2]
    if too_deep is not None:
        raise locator.error(
            f"expression nested deeper than {max_depth} at position {{position}}; simplify it",
            too_deep,
        )
    if nodes > max_nodes:
        raise locator.error(
            f"expression too large ({nodes} nodes > limit {max_nodes}); simplify it", body
        )
    return list(parameters)


def _chain_class(op: ast.operator) -> str:
    if isinstance(op, (ast.Add, ast.Sub)):
        return "+"
    if isinstance(op, (ast.Mult, ast.Div)):
        return "*"
    return ""


def _check_node(node: ast.AST, locator: Locator, names: Names) -> ParseError | None:
    """The ``ParseError`` for one disallowed node, or ``None`` when it is allowed."""
    if type(node) in _FORBIDDEN:
        what, hint = _FORBIDDEN[type(node)]
        return locator.error(
            f"{what} {{token}} at position {{position}} is not allowed; {hint}", node
        )
    if isinstance(node, ast.Attribute):
        start = locator.piece.position(locator.span(node.value)[1])
        dot = locator.piece.source.find(".", locator.span(node.value)[1])
        position = locator.piece.position(dot) if dot >= 0 else start
        return ParseError(
            f"law: attribute access '.{node.attr}' at position {position} is not allowed; "
            "use plain names",
            position=position,
            token="." + node.attr,
        )
    if isinstance(node, ast.BinOp) and not isinstance(node.op, _ALLOWED_BINARY):
        return _operator_error(node, locator)
    if isinstance(node, ast.UnaryOp) and not isinstance(node.op, _ALLOWED_UNARY):
        return _operator_error(node, locator)
    if isinstance(node, ast.Constant):
        return _check_constant(node, locator)
    if isinstance(node, ast.Name):
        return _check_name(node, locator, names)
    if isinstance(node, ast.Call):
        return _check_call(node, locator)
    if isinstance(node, ast.expr):
        return None
    return locator.error("unexpected {token} at position {position}; " + _ARITHMETIC, node)


def _operator_error(node: ast.BinOp | ast.UnaryOp, locator: Locator) -> ParseError:
    text = _OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)
    if isinstance(node, ast.BinOp):
        index = locator.piece.source.find(text, locator.span(node.left)[1])
    else:
        index = locator.span(node)[0]
    position = locator.piece.position(max(index, 0))
    return ParseError(
        f"law: operator '{text}' at position {position} is not allowed; "
        "use + - * / ** (or ^ for powers)",
        position=position,
        token=text,
    )


def _check_constant(node: ast.Constant, locator: Locator) -> ParseError | None:
    value = node.value
    if isinstance(value, bool) or value is None or value is Ellipsis:
        kind = "constant"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, bytes):
        kind = "bytes literal"
    elif isinstance(value, complex):
        kind = "complex number"
    elif isinstance(value, (int, float)):
        return _check_number(node, value, locator)
    else:  # pragma: no cover - ast yields no other constants
        kind = "constant"
    return locator.error(
        f"{kind} {{token}} at position {{position}} is not allowed; use numbers and names", node
    )


def _check_number(node: ast.Constant, value: float, locator: Locator) -> ParseError | None:
    literal = locator.token(node, limit=10**6).replace("_", "")
    if literal[:2].lower() in ("0x", "0o", "0b"):
        digits = len(literal) - 2
    else:
        digits = sum(ch.isdigit() for ch in re.split("[eE]", literal)[0])
    if digits > MAX_DIGITS:
        return locator.error(
            f"number {{token}} at position {{position}} has more than {MAX_DIGITS} digits; "
            "use scientific notation such as 1.5e9",
            node,
        )
    try:
        magnitude = abs(float(value))
    except OverflowError:
        magnitude = math.inf
    if not magnitude <= MAX_MAGNITUDE or 0 < magnitude < MIN_MAGNITUDE:
        return locator.error(
            "number {token} at position {position} is out of range (1e-300 to 1e300); "
            "rescale the law",
            node,
        )
    return None


def _check_name(node: ast.Name, locator: Locator, names: Names) -> ParseError | None:
    name = node.id
    if name in names.inputs:
        return None
    if name.startswith("_"):
        return locator.error(
            "name {token} at position {position} starts with '_'; rename it without the underscore",
            node,
        )
    if len(name) > MAX_NAME_LENGTH:
        return locator.error(
            f"name {{token}} at position {{position}} is longer than {MAX_NAME_LENGTH} "
            "characters; use a shorter name",
            node,
        )
    if name in FUNCTIONS:
        return locator.error(
            "{token} at position {position} is a function; call it like " + f"{name}(x)", node
        )
    if name in RESERVED:
        return locator.error(
            "name {token} at position {position} is reserved; choose another parameter name", node
        )
    if name in names.outputs:
        return locator.error(
            "output {token} at position {position} cannot appear on the right side; "
            "a law computes outputs from inputs and parameters",
            node,
        )
    return None


def _check_call(node: ast.Call, locator: Locator) -> ParseError | None:
    func = node.func
    if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
        return locator.error(
            "unexpected {token} at position {position}: calls are limited to "
            f"{_FUNCTION_LIST}; {_ARITHMETIC}",
            func,
        )
    if node.keywords:
        keyword = node.keywords[0]
        return locator.error(
            "keyword argument {token} at position {position} is not allowed; "
            "pass arguments by position",
            keyword,
        )
    arity = FUNCTIONS[func.id]
    count = len(node.args)
    if (arity is None and count < 2) or (arity is not None and count != arity):
        wanted = "two or more arguments" if arity is None else "exactly one argument"
        return locator.error(
            f"{func.id}() at position {{position}} takes {wanted}, got {count}; "
            f"write {func.id}(x{', y' if arity is None else ''})",
            node,
            token=func.id,
        )
    return None
