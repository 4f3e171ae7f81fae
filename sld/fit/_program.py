"""SymPy law → straight-line program of primitive operations (the fitting IR).

A ``Program`` is a list of nodes in topological order; node ``i`` is
``(opcode, a, b, const)`` where ``a`` and ``b`` index earlier nodes. Identical
subtrees become one node (hash-consing), so shared subexpressions are computed
once. Every evaluator (JAX straight-line code, the instruction interpreter,
numpy for ``predict`` and the scipy baseline) walks this one list, so they all
compute the same arithmetic.

:func:`sld.fit._evaluate.evaluate` walks it with values and forward-mode
derivatives.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from sld.errors import FitError

CONST, INPUT, PARAM, ADD, MUL, POWC, POW, LOG, EXP, TANH, ABS, MIN, MAX = range(13)
OPCODE_NAMES = (
    "const",
    "input",
    "param",
    "add",
    "mul",
    "powc",
    "pow",
    "log",
    "exp",
    "tanh",
    "abs",
    "min",
    "max",
)
N_OPCODES = len(OPCODE_NAMES)


@dataclass(frozen=True)
class Program:
    """A law compiled to primitive operations over inputs and parameter slots.

    ``nodes[i] = (opcode, a, b, const)``; ``outputs[k]`` is the node holding output k.
    ``linear[j]`` says the expressions are jointly affine in parameter j with a
    coefficient free of every linear parameter (variable projection applies);
    ``exponent_like[j]`` says parameter j appears in an exponent (``x**p``, ``exp(p…)``).
    ``scale_like[j]`` says parameter j, neither linear nor exponent-like, only ever scales
    something (:func:`scale_slots`): the fit may move it in log|p| (:mod:`sld.fit._scales`).
    """

    nodes: tuple[tuple[int, int, int, float], ...]
    outputs: tuple[int, ...]
    n_inputs: int
    n_params: int
    linear: tuple[bool, ...]
    exponent_like: tuple[bool, ...]
    scale_like: tuple[bool, ...] = ()

    @property
    def fingerprint(self) -> str:
        """Structural identity: equal fingerprints compute the same function of (x, p)."""
        text = repr((self.nodes, self.outputs, self.n_inputs, self.n_params))
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)


@dataclass(frozen=True)
class CompiledLaw:
    """A program plus the map from the law's names to its input columns and parameter slots.

    ``slot_names[j]`` is the law's own name of parameter slot j.
    """

    program: Program
    slot_names: tuple[str, ...]
    inputs: tuple[str, ...]


def _slot_order(law: Any) -> tuple[str, ...]:
    """The law's parameter names in canonical slot order.

    ``canonical_parameters`` either lists the law's own names in canonical order,
    or gives the canonical name of each entry of ``parameters``; slots follow the
    canonical names' order either way, so renamed laws share one program.
    """
    params = tuple(law.parameters)
    canon = tuple(getattr(law, "canonical_parameters", ()) or ())
    if canon and set(canon) == set(params):
        return canon
    if len(canon) == len(params):
        return tuple(p for _, p in sorted(zip(canon, params, strict=True)))
    return params


class _Builder:
    def __init__(self, inputs: Sequence[str], slots: Sequence[str]) -> None:
        self.input_index = {name: i for i, name in enumerate(inputs)}
        self.param_index = {name: j for j, name in enumerate(slots)}
        self.nodes: list[tuple[int, int, int, float]] = []
        self.node_index: dict[tuple[int, int, int, float], int] = {}
        self.expr_index: dict[sympy.Basic, int] = {}

    def node(self, op: int, a: int = -1, b: int = -1, c: float = 0.0) -> int:
        if op in (ADD, MUL, MIN, MAX) and a > b:
            a, b = b, a  # commutative: one node for both orders
        key = (op, a, b, c)
        found = self.node_index.get(key)
        if found is None:
            found = len(self.nodes)
            self.nodes.append(key)
            self.node_index[key] = found
        return found

    def const(self, value: float) -> int:
        return self.node(CONST, c=float(value))

    def fold(self, op: int, args: Sequence[sympy.Basic]) -> int:
        ids = [self.walk(a) for a in args]
        out = ids[0]
        for i in ids[1:]:
            out = self.node(op, out, i)
        return out

    def walk(self, expr: sympy.Basic) -> int:
        found = self.expr_index.get(expr)
        if found is None:
            found = self._walk(expr)
            self.expr_index[expr] = found
        return found

    def _walk(self, e: sympy.Basic) -> int:
        if e.is_Symbol:
            name = str(e)
            if name in self.input_index:
                return self.node(INPUT, a=self.input_index[name])
            if name in self.param_index:
                return self.node(PARAM, a=self.param_index[name])
            raise FitError(f"symbol {name!r} is neither a task input nor a law parameter")
        if e.is_number:
            return self.const(_number(e))
        if isinstance(e, sympy.Add):
            return self.fold(ADD, e.args)
        if isinstance(e, sympy.Mul):
            return self.fold(MUL, e.args)
        if isinstance(e, sympy.Pow):
            base, ex = e.args
            if ex.is_number:
                c = _number(ex)
                if c == 1.0:
                    return self.walk(base)
                return self.node(POWC, self.walk(base), c=c)
            if base == sympy.E:
                return self.node(EXP, self.walk(ex))
            return self.node(POW, self.walk(base), self.walk(ex))
        if isinstance(e, sympy.exp):
            return self.node(EXP, self.walk(e.args[0]))
        if isinstance(e, sympy.log):
            if len(e.args) != 1:
                return self.node(
                    MUL,
                    self.node(LOG, self.walk(e.args[0])),
                    self.node(POWC, self.node(LOG, self.walk(e.args[1])), c=-1.0),
                )
            return self.node(LOG, self.walk(e.args[0]))
        if isinstance(e, sympy.tanh):
            return self.node(TANH, self.walk(e.args[0]))
        if isinstance(e, sympy.Abs):
            return self.node(ABS, self.walk(e.args[0]))
        if isinstance(e, sympy.Min):
            return self.fold(MIN, e.args)
        if isinstance(e, sympy.Max):
            return self.fold(MAX, e.args)
        raise FitError(
            f"cannot fit a law using {type(e).__name__}: supported are + * ** log exp tanh Abs Min Max"
        )


def _number(e: sympy.Basic) -> float:
    try:
        value = float(e)
    except (OverflowError, TypeError):
        value = math.inf
    return value


def _exponent_symbols(exprs: Sequence[sympy.Basic]) -> set[str]:
    """Names of symbols that appear inside an exponent (``b**e`` with symbolic e, or ``exp``)."""
    found: set[str] = set()
    for expr in exprs:
        for sub in sympy.preorder_traversal(expr):
            if isinstance(sub, sympy.Pow) and not sub.args[1].is_number:
                found |= {str(s) for s in sub.args[1].free_symbols}
            elif isinstance(sub, sympy.exp):
                found |= {str(s) for s in sub.args[0].free_symbols}
    return found


def _linear_parameters(
    exprs: Sequence[sympy.Expr], symbols: Sequence[sympy.Symbol]
) -> tuple[bool, ...]:
    """Which parameters the expressions are jointly affine in (coefficient free of all of them).

    p is kept when ∂²f/∂p∂q = 0 for every kept q (including q = p) and every output, and
    ∂f/∂p ≠ 0 for some output; parameters are considered in slot order and added greedily.
    SymPy's derivatives decide that (what its automatic simplification cancels), but they
    cost a tenth of a large task's search, so the tree is read for the same answer
    (:func:`_degree`): f is affine in the kept set S exactly where every path from the root
    to a symbol of S runs through sums, products with one factor that holds S, and logs of
    products whose factors hold S only in an exponent (``log(x**a*exp(b))``, which SymPy's
    derivative turns into ``log(x)``, ``1``), with p in only one factor of such a log.
    ``tests/test_program.py`` holds this to the derivatives on random trees and stored laws.
    """
    kept: list[int] = []
    for j, s in enumerate(symbols):
        chosen = frozenset(symbols[q] for q in [*kept, j])
        if _degree(exprs, chosen=chosen, tested=s) == 1 and any(_moves(e, s) for e in exprs):
            kept.append(j)
    return tuple(j in kept for j in range(len(symbols)))


def _degree(
    exprs: Sequence[sympy.Expr], *, chosen: frozenset[sympy.Symbol], tested: sympy.Symbol
) -> int:
    """0: the expressions are free of ``chosen``; 1: affine in them and not free; 2: neither
    (or not provably so the way SymPy's derivative with respect to ``tested`` shows).

    ``log Πᵢ bᵢ**eᵢ · exp(y)`` is ``Σᵢ eᵢ·log bᵢ + y``: affine where the bases are free of
    ``chosen`` and the exponents affine, and SymPy cancels the quotient f'/f only where
    ``tested`` sits in one factor.
    """
    memo: dict[sympy.Basic, int] = {}

    def degree(expr: sympy.Basic) -> int:
        hit = memo.get(expr)
        if hit is not None:
            return hit
        if not (expr.free_symbols & chosen):
            out = 0
        elif expr.is_Symbol:
            out = 1
        elif expr.is_Add:
            out = max(degree(a) for a in expr.args)
        elif expr.is_Mul:
            out = min(2, sum(degree(a) for a in expr.args))
        elif isinstance(expr, sympy.log):
            out = log_degree(expr.args[0])
        else:  # a power or a function with a chosen symbol inside
            out = 2
        memo[expr] = out
        return out

    def log_degree(arg: sympy.Basic) -> int:
        factors = arg.args if arg.is_Mul else (arg,)
        if sum(1 for f in factors if f.has(tested)) > 1:
            return 2
        out = 0
        for f in factors:
            if not (f.free_symbols & chosen):
                continue
            if isinstance(f, sympy.exp):
                part = f.args[0]
            elif f.is_Pow and not (f.args[0].free_symbols & chosen):
                part = f.args[1]
            else:
                return 2
            out = max(out, degree(part))
        return out

    return max(degree(e) for e in exprs)


def _moves(expr: sympy.Expr, symbol: sympy.Symbol) -> bool:
    """∂expr/∂symbol ≠ 0 for an ``expr`` affine in ``symbol``: it holds where the symbol
    occurs once (a product of non-zero factors); SymPy decides where it occurs more often
    (``A*(x + 1) - A*x - A`` cancels)."""
    n = expr.count(symbol)
    return n == 1 or (n > 1 and sympy.diff(expr, symbol) != 0)


def scale_slots(
    nodes: Sequence[tuple[int, int, int, float]],
    *,
    n_params: int,
    linear: Sequence[bool],
    exponent_like: Sequence[bool],
) -> tuple[bool, ...]:
    """Which parameters only ever multiply something that is not a constant.

    A node *scales* when it has a use and every use is a product with a non-constant
    factor, or a product with a constant or a constant power (``−p``, ``1/p``, ``p²``) that
    scales in turn. A parameter that scales and is neither linear nor exponent-like is a
    coefficient inside a nonlinear form (``(A/N)**a``, ``C/sqrt(N)`` in a denominator):
    the loss varies with it on a log scale, so the fit moves it in log|p|. A shift such as
    ``C`` in ``(c − C + log x)**2`` has an additive use and is not one.
    """
    users: dict[int, list[int]] = {}
    for i, (op, a, b, _c) in enumerate(nodes):
        if op in (CONST, INPUT, PARAM):
            continue
        for operand in {a, b} - {-1}:
            users.setdefault(operand, []).append(i)
    memo: dict[int, bool] = {}

    def scales(n: int) -> bool:
        if n not in memo:
            memo[n] = False  # the DAG is acyclic; this only guards the recursion
            ok = bool(users.get(n))
            for u in users.get(n, []):
                op, a, b, _c = nodes[u]
                if op == MUL:
                    other = b if a == n else a
                    ok = ok and (nodes[other][0] != CONST or scales(u))
                elif op == POWC:
                    ok = ok and scales(u)
                else:
                    ok = False
            memo[n] = ok
        return memo[n]

    slot = {a: i for i, (op, a, _b, _c) in enumerate(nodes) if op == PARAM}
    return tuple(
        j in slot and not linear[j] and not exponent_like[j] and scales(slot[j])
        for j in range(n_params)
    )


def canonical_expressions(
    law: Any, slots: Sequence[str]
) -> tuple[tuple[sympy.Expr, ...], list[sympy.Symbol]]:
    """The law's expressions with its parameters renamed to the slot symbols ``_p0, _p1, ...``
    (in ``slots`` order), and those symbols."""
    canon = [sympy.Symbol(f"_p{j}", real=True) for j in range(len(slots))]
    rename = {
        s: canon[slots.index(str(s))]
        for expr in law.expressions
        for s in expr.free_symbols
        if str(s) in slots
    }
    return tuple(e.xreplace(rename) for e in law.expressions), canon  # already SymPy trees


def compile_law(law: Any) -> CompiledLaw:
    """Compile a law (``expressions``, ``inputs``, ``parameters``) to a ``CompiledLaw``.

    Parameters are renamed to canonical slot symbols before walking, so laws that
    differ only in parameter names give identical programs (and fingerprints).
    """
    exprs = tuple(law.expressions)
    inputs = tuple(law.inputs)
    if not exprs:
        raise FitError("law has no expressions")
    slots = _slot_order(law)
    exprs_c, canon = canonical_expressions(law, slots)
    builder = _Builder(inputs, [str(c) for c in canon])
    outputs = tuple(builder.walk(e) for e in exprs_c)
    expo = _exponent_symbols(exprs_c)
    linear = _linear_parameters(exprs_c, canon)
    exponent_like = tuple(str(c) in expo for c in canon)
    program = Program(
        nodes=tuple(builder.nodes),
        outputs=outputs,
        n_inputs=len(inputs),
        n_params=len(slots),
        linear=linear,
        exponent_like=exponent_like,
        scale_like=scale_slots(
            builder.nodes, n_params=len(slots), linear=linear, exponent_like=exponent_like
        ),
    )
    return CompiledLaw(program=program, slot_names=slots, inputs=inputs)


def parameter_vector(
    compiled: CompiledLaw,
    parameters: Mapping[str, float] | np.ndarray,
    law_parameters: Sequence[str],
) -> np.ndarray:
    """Parameters in slot order from a name → value mapping or an array ordered like ``law.parameters``."""
    if isinstance(parameters, Mapping):
        missing = [n for n in compiled.slot_names if n not in parameters]
        if missing:
            raise FitError(f"missing parameter values for {', '.join(missing)}")
        return np.array([float(parameters[n]) for n in compiled.slot_names], dtype=np.float64)
    arr = np.asarray(parameters, dtype=np.float64)
    if arr.shape != (len(law_parameters),):
        raise FitError(f"expected {len(law_parameters)} parameter values, got shape {arr.shape}")
    by_name = dict(zip(law_parameters, arr, strict=True))
    return np.array([by_name[n] for n in compiled.slot_names], dtype=np.float64)
