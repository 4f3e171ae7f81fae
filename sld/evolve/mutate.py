"""Mutation and crossover of laws as SymPy trees.

Every operator takes one expression (one output of a law) whose parameters are
placeholders (see :mod:`sld.evolve.features`), the task's features, a source of
fresh parameters and a random generator, and returns a new expression, or
``None`` when it does not apply to that tree (no term to drop, one input only,
...). Operators only rebuild trees with SymPy constructors; nothing is evaluated
numerically. Results may break the task's bounds: the caller validates every one
through :func:`sld.law.parse_law`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import sympy

from sld.evolve.families import fragment
from sld.evolve.features import Feature, Params, is_placeholder

Path = tuple[int, ...]
Mutation = Callable[[sympy.Expr, Sequence[Feature], Params, np.random.Generator], sympy.Expr | None]
SIMPLE_EXPONENTS = (sympy.Rational(1, 2), sympy.Integer(1), sympy.Integer(2), sympy.Rational(1, 3))


def nodes(expr: sympy.Expr) -> list[tuple[Path, sympy.Expr]]:
    """Every subtree of ``expr`` with its path (argument indices from the root), preorder."""
    out: list[tuple[Path, sympy.Expr]] = []
    stack: list[tuple[Path, sympy.Expr]] = [((), expr)]
    while stack:
        path, node = stack.pop()
        out.append((path, node))
        stack.extend((path + (i,), arg) for i, arg in reversed(list(enumerate(node.args))))
    return out


def replace_at(expr: sympy.Expr, path: Path, new: sympy.Expr) -> sympy.Expr:
    """``expr`` with the subtree at ``path`` replaced by ``new`` (SymPy re-simplifies)."""
    if not path:
        return new
    args = list(expr.args)
    args[path[0]] = replace_at(args[path[0]], path[1:], new)
    return expr.func(*args)


def _inputs(fs: Sequence[Feature]) -> frozenset[sympy.Symbol]:
    return frozenset(f.symbol for f in fs)


# SymPy computes ``free_symbols`` afresh on every call, walking the whole subtree, and
# :func:`tidy` asks it of every subtree at every level above it (measured: a tenth of the
# offline proposer's time). Trees are immutable and hash by structure, so the answer is kept.
@functools.lru_cache(maxsize=1 << 15)
def _free(expr: sympy.Basic) -> frozenset[sympy.Basic]:
    return frozenset(expr.free_symbols)


def _uses_input(expr: sympy.Basic, fs: Sequence[Feature]) -> bool:
    return not _free(expr).isdisjoint(f.symbol for f in fs)


def _has_parameter(expr: sympy.Basic) -> bool:
    return any(is_placeholder(s) for s in _free(expr))


def _pick(rng: np.random.Generator, items: Sequence):
    return items[int(rng.integers(len(items)))]


def _input_subtrees(
    expr: sympy.Expr, fs: Sequence[Feature], *, root: bool
) -> list[tuple[Path, sympy.Expr]]:
    """Subtrees that use an input (the root only when ``root`` or nothing else does)."""
    found = [(path, node) for path, node in nodes(expr) if (path or root) and _uses_input(node, fs)]
    if not found and not root:
        return [((), expr)]
    return found


def _input_term(fs: Sequence[Feature], p: Params, rng: np.random.Generator) -> sympy.Expr:
    """A random fragment that uses an input."""
    for _ in range(8):
        term = fragment(fs, p, rng)
        if _uses_input(term, fs):
            return term
    return p() * fs[0].log


def replace_subtree(expr, fs, p, rng):
    """Replace a random subtree that uses an input with a small family fragment."""
    path, _ = _pick(rng, _input_subtrees(expr, fs, root=False))
    return replace_at(expr, path, _input_term(fs, p, rng))


def add_term(expr, fs, p, rng):
    """Add a fragment to the whole law (usually) or to one inner sum."""
    inner = [(path, node) for path, node in nodes(expr) if path and isinstance(node, sympy.Add)]
    if inner and rng.random() < 0.3:
        path, node = _pick(rng, inner)
        return replace_at(expr, path, node + _input_term(fs, p, rng))
    return expr + _input_term(fs, p, rng)


def drop_term(expr, fs, p, rng):
    """Remove one term of a sum or one non-numeric factor of a product."""
    choices = []
    for path, node in nodes(expr):
        if isinstance(node, sympy.Add) and len(node.args) >= 2:
            choices += [(path, node, i) for i in range(len(node.args))]
        elif isinstance(node, sympy.Mul):
            symbolic = [i for i, a in enumerate(node.args) if not a.is_Number]
            if len(symbolic) >= 2:
                choices += [(path, node, i) for i in symbolic]
    if not choices:
        return None
    path, node, index = _pick(rng, choices)
    rest = node.args[:index] + node.args[index + 1 :]
    return replace_at(expr, path, node.func(*rest))


def swap_operator(expr, fs, p, rng):
    """Change one operator: ``a + b`` ↔ ``a * b``, ``a * b`` ↔ ``a / b``, or flip the sign
    of a power."""
    edits: list[tuple[Path, sympy.Expr]] = []
    for path, node in nodes(expr):
        if isinstance(node, sympy.Add) and len(node.args) >= 2:
            i, j = sorted(rng.choice(len(node.args), size=2, replace=False).tolist())
            rest = [a for k, a in enumerate(node.args) if k not in (i, j)]
            edits.append((path, sympy.Add(node.args[i] * node.args[j], *rest)))
        elif isinstance(node, sympy.Mul):
            symbolic = [i for i, a in enumerate(node.args) if not a.is_Number]
            if len(symbolic) >= 2:
                i, j = sorted(rng.choice(symbolic, size=2, replace=False).tolist())
                rest = [a for k, a in enumerate(node.args) if k not in (i, j)]
                edits.append((path, sympy.Mul(node.args[i] + node.args[j], *rest)))
                k = _pick(rng, symbolic)
                inverted = [1 / a if m == k else a for m, a in enumerate(node.args)]
                edits.append((path, sympy.Mul(*inverted)))
        elif isinstance(node, sympy.Pow) and _uses_input(node.base, fs):
            edits.append((path, sympy.Pow(node.base, -node.exp)))
    if not edits:
        return None
    path, new = _pick(rng, edits)
    return replace_at(expr, path, new)


def saturate(expr, fs, p, rng):
    """Wrap a subtree ``s`` that uses an input as ``s/(1 + C*s)`` or ``s*(1 + C*s)**(-c)``."""
    path, s = _pick(rng, _input_subtrees(expr, fs, root=True))
    if rng.random() < 0.5:
        wrapped = s / (1 + p() * s)
    else:
        wrapped = s * (1 + p() * s) ** (-p())
    return replace_at(expr, path, wrapped)


def substitute_input(expr, fs, p, rng):
    """Replace one input by another, everywhere or inside one subtree."""
    present = [f for f in fs if f.symbol in expr.free_symbols]
    if len(fs) < 2 or not present:
        return None
    old = _pick(rng, present)
    new = _pick(rng, [f for f in fs if f is not old])
    swap = {old.symbol: new.symbol}
    if rng.random() < 0.5:
        return expr.xreplace(swap)
    inside = [(path, n) for path, n in nodes(expr) if old.symbol in n.free_symbols]
    path, node = _pick(rng, inside)
    return replace_at(expr, path, node.xreplace(swap))


def perturb_exponent(expr, fs, p, rng):
    """Change an exponent's structure: a numeric exponent becomes a free parameter, a free
    exponent becomes a simple number or gains a ``b*log X`` term; an ``exp`` gains a
    linear term in another input."""
    logs = [f for f in fs if f.log_scale and f.positive]
    edits: list[tuple[Path, Callable[[], sympy.Expr]]] = []
    for path, node in nodes(expr):
        if isinstance(node, sympy.Pow) and _uses_input(node.base, fs):
            base, e = node.base, node.exp
            sign = -1 if e.could_extract_minus_sign() else 1
            if e.is_Number:
                edits.append((path, lambda b=base, s=sign: b ** (s * p())))
            elif _has_parameter(e) and not _uses_input(e, fs):
                edits.append((path, lambda b=base, s=sign: b ** (s * _pick(rng, SIMPLE_EXPONENTS))))
                if logs:
                    edits.append(
                        (path, lambda b=base, e=e: b ** (e + p() * _pick(rng, logs).centred))
                    )
        elif isinstance(node, sympy.exp) and _uses_input(node.args[0], fs):
            arg = node.args[0]
            edits.append((path, lambda a=arg: sympy.exp(a + p() * _pick(rng, fs).centred)))
    if not edits:
        return None
    path, make = _pick(rng, edits)
    return replace_at(expr, path, make())


def tie_exponents(expr, fs, p, rng):
    """Give two powers of inputs one exponent: a free parameter of one power's exponent is
    replaced by one of another's (``A/N**a + B/D**b`` becomes ``A/N**a + B/D**a``), a
    parameter fewer for a law whose terms decay alike."""
    exponents = []
    for _, node in nodes(expr):
        if (
            isinstance(node, sympy.Pow)
            and _uses_input(node.base, fs)
            and not _uses_input(node.exp, fs)
        ):
            own = sorted((s for s in node.exp.free_symbols if is_placeholder(s)), key=str)
            if own:
                exponents.append(own)
    pairs = [
        (a, b)
        for i, first in enumerate(exponents)
        for second in exponents[i + 1 :]
        for a in first
        for b in second
        if a != b
    ]
    if not pairs:
        return None
    kept, dropped = _pick(rng, pairs)
    return expr.xreplace({dropped: kept})


def toggle_offset(expr, fs, p, rng):
    """Remove the law's additive constant when it has one, else add one."""
    if isinstance(expr, sympy.Add):
        constants = [a for a in expr.args if not _uses_input(a, fs)]
        if constants:
            return sympy.Add(*(a for a in expr.args if _uses_input(a, fs)))
    return expr + p()


MUTATIONS: dict[str, Mutation] = {
    "replace_subtree": replace_subtree,
    "add_term": add_term,
    "drop_term": drop_term,
    "swap_operator": swap_operator,
    "saturate": saturate,
    "substitute_input": substitute_input,
    "perturb_exponent": perturb_exponent,
    "toggle_offset": toggle_offset,
    "tie_exponents": tie_exponents,
}


def crossover(
    first: sympy.Expr,
    second: sympy.Expr,
    fs: Sequence[Feature],
    p: Params,
    rng: np.random.Generator,
) -> sympy.Expr | None:
    """Put a subtree of ``second`` into ``first``: swap a term, add a term, or replace a
    subtree. ``second``'s parameters are renamed to fresh ones first, so the child
    shares no parameter by accident."""
    fresh = {s: p() for s in sorted(second.free_symbols, key=str) if is_placeholder(s)}
    donor = second.xreplace(fresh)
    donated = _input_subtrees(donor, fs, root=False)
    if isinstance(donor, sympy.Add):
        terms: list[tuple[Path, sympy.Expr]] = [
            ((i,), a) for i, a in enumerate(donor.args) if _uses_input(a, fs)
        ]
        donated = terms or donated
    _, piece = _pick(rng, donated)
    if isinstance(first, sympy.Add) and rng.random() < 0.6:
        own = [i for i, a in enumerate(first.args) if _uses_input(a, fs)]
        if own and rng.random() < 0.5:
            i = _pick(rng, own)
            return sympy.Add(*(a for k, a in enumerate(first.args) if k != i), piece)
        return first + piece
    path, _ = _pick(rng, _input_subtrees(first, fs, root=False))
    return replace_at(first, path, piece)


def tidy(expr: sympy.Expr, fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """Merge redundant parameters: in a sum (product), all terms (factors) free of inputs
    become one fresh parameter when at least two of them hold parameters — ``A*B*X``
    has one identifiable coefficient, not two — and powers of one base in a product
    are combined (``X**a * X**b`` → ``X**c``), and so are terms of a sum that differ only
    in their coefficients (``A*X + B*X`` → ``C*X``)."""
    if not expr.args:
        return expr
    inputs = _inputs(fs)
    if (expr, inputs) in _TIDY:
        return expr
    args = [tidy(a, fs, p) for a in expr.args]
    if isinstance(expr, sympy.Mul):
        args = _merge_powers(args, fs, p)
    if isinstance(expr, sympy.Add):
        args = _merge_like_terms(args, fs, p)
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        constant = [a for a in args if not _uses_input(a, fs)]
        if sum(_has_parameter(a) for a in constant) >= 2:
            kept = [a for a in args if _uses_input(a, fs)]
            return expr.func(p(), *kept)
    if len(args) == len(expr.args) and all(a is b for a, b in zip(args, expr.args, strict=True)):
        if len(_TIDY) >= _TIDY_MAX:
            _TIDY.clear()
        _TIDY[expr, inputs] = None
        return expr  # SymPy's invariant: expr.func(*expr.args) == expr, and rebuilding is dear
    return expr.func(*args)


# Trees :func:`tidy` leaves as they are (no merge, no fresh parameter), with the inputs
# they were tidied against. Children share most subtrees with their parents, which were
# tidied before, so a tree is walked only down to where it changed. A pure function of
# the key, so the memo never changes a proposal; cleared when it holds ``_TIDY_MAX``.
_TIDY: dict[tuple[sympy.Expr, frozenset[sympy.Symbol]], None] = {}
_TIDY_MAX = 1 << 15


def _merge_powers(args: list[sympy.Expr], fs: Sequence[Feature], p: Params) -> list[sympy.Expr]:
    """Factors of a product with a common input-bearing base, combined into one power."""
    exponents: dict[sympy.Expr, list[sympy.Expr]] = {}
    for a in args:
        base, e = a.as_base_exp()
        if _uses_input(base, fs):
            exponents.setdefault(base, []).append(e)
    if all(len(es) < 2 for es in exponents.values()):
        return args
    merged = [a for a in args if not _uses_input(a.as_base_exp()[0], fs)]
    for base, es in exponents.items():
        merged.append(base ** tidy(sympy.Add(*es), fs, p))
    return merged


def _merge_like_terms(args: list[sympy.Expr], fs: Sequence[Feature], p: Params) -> list[sympy.Expr]:
    """Terms of a sum with the same input-bearing part and parametric coefficients, as one."""
    inputs = _inputs(fs)
    groups: dict[sympy.Expr, list[sympy.Expr]] = {}
    for a in args:
        coefficient, rest = a.as_independent(*inputs, as_Add=False)
        if rest != 1 and _has_parameter(coefficient):
            groups.setdefault(rest, []).append(a)
    if all(len(terms) < 2 for terms in groups.values()):
        return args
    merged = [a for a in args if not any(a in terms for terms in groups.values() if len(terms) > 1)]
    for rest, terms in groups.items():
        if len(terms) > 1:
            merged.append(p() * rest)
    return merged
