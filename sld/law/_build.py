"""A checked AST → a SymPy expression, without letting SymPy blow up.

SymPy evaluates as it builds (``2**64`` becomes an integer, ``Min`` compares
its arguments numerically), so every constant subexpression is first computed
in plain floats alongside the tree: a constant that overflows, divides by zero,
leaves the real line (``log(-1)``, ``(-8)**(1/3)``) or exceeds ``1e300`` in
magnitude is rejected before SymPy sees it. Exponents that are numbers are
bounded by ``max_exponent``. Numbers become exact rationals (``0.1`` → 1/10,
via the shortest ``repr`` of the float) so that printing and re-parsing a law
gives back the same tree. A wall-clock budget guards against anything slow
that slips through.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import time
from collections.abc import Callable
from fractions import Fraction

import sympy

from sld.law._grammar import MAX_MAGNITUDE
from sld.law._print import chain
from sld.law._syntax import Locator

# CPU seconds of this thread, not wall time: the budget bounds the work a law costs, so
# whether a law parses never depends on how loaded the machine is (nor does a run's outcome)
BUILD_SECONDS = 2.0
MAX_MIN_MAX_ARGUMENTS = 8


def input_symbol(name: str) -> sympy.Symbol:
    """The SymPy symbol of task input ``name`` (inputs are positive reals)."""
    return sympy.Symbol(name, positive=True)


def parameter_symbol(name: str) -> sympy.Symbol:
    """The SymPy symbol of free parameter ``name`` (parameters are real)."""
    return sympy.Symbol(name, real=True)


def _log10(x: sympy.Expr) -> sympy.Expr:
    return sympy.log(x, 10)


def _log2(x: sympy.Expr) -> sympy.Expr:
    return sympy.log(x, 2)


# name → (SymPy builder, float evaluator for constant arguments)
_FUNCTIONS: dict[str, tuple[Callable[..., sympy.Expr], Callable[..., float]]] = {
    "log": (sympy.log, math.log),
    "log10": (_log10, math.log10),
    "log2": (_log2, math.log2),
    "exp": (sympy.exp, math.exp),
    "sqrt": (sympy.sqrt, math.sqrt),
    "abs": (sympy.Abs, abs),
    "tanh": (sympy.tanh, math.tanh),
    "min": (sympy.Min, min),
    "max": (sympy.Max, max),
}

NOT_FINITE = frozenset({sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I})
_ARITHMETIC = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_Built = tuple[sympy.Expr, float | None]  # the expression, and its value when constant


class _Builder:
    """Recursive AST → SymPy translation; recursion depth is bounded by ``check_tree``."""

    def __init__(
        self,
        locator: Locator,
        *,
        symbol: Callable[[str], sympy.Symbol],
        max_exponent: float,
        deadline: float,
    ) -> None:
        self.locator = locator
        self.symbol = symbol
        self.max_exponent = max_exponent
        self.deadline = deadline

    def build(self, node: ast.expr) -> _Built:
        if time.thread_time() > self.deadline:
            raise self.locator.error(
                f"law took more than {BUILD_SECONDS:g} s of CPU to build; simplify it", node
            )
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, (int, float))  # check_tree admits only numbers
            return self._number(node.value)
        if isinstance(node, ast.Name):
            return self.symbol(node.id), None
        try:
            expr, value = self._compose(node)
        except (ValueError, TypeError, ArithmeticError) as error:
            # SymPy refuses some combinations, e.g. Min of an infinite argument
            reason = " ".join(str(error).split())[:80]
            raise self.locator.error(
                "{token} at position {position} is not a valid real expression "
                f"({reason}); check divisions, logs and roots",
                node,
            ) from None
        if expr in NOT_FINITE or any(arg in NOT_FINITE for arg in expr.args):
            # evaluation puts new infinities or I at the top of the node it builds
            raise self.locator.error(
                "{token} at position {position} is not a finite real expression; "
                "check divisions, logs and roots",
                node,
            )
        return expr, value

    def _compose(self, node: ast.expr) -> _Built:
        if isinstance(node, ast.UnaryOp):
            operand, value = self.build(node.operand)
            if isinstance(node.op, ast.USub):
                return -operand, None if value is None else -value
            return operand, value
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise self.locator.error(  # pragma: no cover - check_tree admits nothing else
            "unexpected {token} at position {position}", node
        )

    @staticmethod
    def _number(value: float) -> _Built:
        if isinstance(value, int):
            return sympy.Integer(value), float(value)
        exact = Fraction(repr(value))
        return sympy.Rational(exact.numerator, exact.denominator), value

    def _constant(self, compute: Callable[[], float], node: ast.expr) -> float:
        """Evaluate a constant subexpression in floats; reject anything not a finite real."""
        try:
            value = compute()
        except ZeroDivisionError:
            raise self.locator.error(
                "division by zero in {token} at position {position}; fix the constant", node
            ) from None
        except (OverflowError, ValueError):
            value = math.nan
        if isinstance(value, complex) or not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
            raise self.locator.error(
                "constant {token} at position {position} is not a finite real number "
                "within 1e300; fix the constant",
                node,
            )
        return value

    def _binary(self, node: ast.BinOp) -> _Built:
        if isinstance(node.op, ast.Pow):
            return self._power(node)
        operands, ops = chain(node)
        built = [self.build(operand) for operand in operands]
        value = built[0][1]
        parts = [built[0][0]]
        for op, (expr, b) in zip(ops, built[1:], strict=True):
            if isinstance(op.op, ast.Div) and b == 0:
                raise self.locator.error(
                    "division by zero in {token} at position {position}; fix the constant", op
                )
            if value is not None and b is not None:
                compute = functools.partial(_ARITHMETIC[type(op.op)], value, b)
                value = self._constant(compute, op)
            else:
                value = None
            if isinstance(op.op, ast.Sub):
                expr = -expr
            elif isinstance(op.op, ast.Div):
                expr = sympy.Pow(expr, -1)
            parts.append(expr)
        if isinstance(ops[0].op, (ast.Add, ast.Sub)):
            return sympy.Add(*parts), value
        return sympy.Mul(*parts), value

    def _power(self, node: ast.BinOp) -> _Built:
        left, a = self.build(node.left)
        right, b = self.build(node.right)
        if b is not None and abs(b) > self.max_exponent:
            raise self.locator.error(
                f"exponent {{token}} at position {{position}} exceeds the limit "
                f"{self.max_exponent:g}; use a smaller power",
                node.right,
            )
        value = None
        if a is not None and b is not None:
            value = self._constant(lambda: a**b, node)
        return sympy.Pow(left, right), value

    def _call(self, node: ast.Call) -> _Built:
        assert isinstance(node.func, ast.Name)
        make, evaluate = _FUNCTIONS[node.func.id]
        built = [self.build(arg) for arg in node.args]
        if node.func.id in ("min", "max"):
            # SymPy flattens nested Min/Max and compares arguments pairwise, slowly
            kind = sympy.Min if node.func.id == "min" else sympy.Max
            flat = sum(len(e.args) if isinstance(e, kind) else 1 for e, _ in built)
            if flat > MAX_MIN_MAX_ARGUMENTS:
                raise self.locator.error(
                    f"{node.func.id}() at position {{position}} has {flat} arguments in all "
                    f"(> limit {MAX_MIN_MAX_ARGUMENTS}); drop some",
                    node,
                    token=node.func.id,
                )
        values = [value for _, value in built]
        value = None
        if all(v is not None for v in values):
            value = self._constant(lambda: evaluate(*values), node)
        return make(*(expr for expr, _ in built)), value


def build_expression(
    body: ast.expr,
    locator: Locator,
    *,
    symbol: Callable[[str], sympy.Symbol],
    max_exponent: float,
    deadline: float,
) -> sympy.Expr:
    """Translate a tree accepted by ``check_tree`` into SymPy.

    ``symbol`` maps each bare name to its SymPy symbol; ``deadline`` is a
    ``time.thread_time()`` reading after which building is abandoned.
    """
    builder = _Builder(locator, symbol=symbol, max_exponent=max_exponent, deadline=deadline)
    try:
        expr, _ = builder.build(body)
    except RecursionError:  # pragma: no cover - depth is bounded well below the stack limit
        raise locator.error("expression {token} is too deeply nested; simplify it", body) from None
    return expr
