"""Canonical key and node count of a law's SymPy expressions.

The key must not change when terms or factors are reordered, when parameters
are renamed, or when an input is written by its alias (aliases are resolved at
parse time, and SymPy already stores ``A/N**a`` and ``A*N**(-a)`` alike). It
must change for any other difference in structure or constants.

Method. Each expression becomes a tree of (kind, children); sums, products,
``Min`` and ``Max`` are commutative. A *masked* form, in which every parameter
reads ``$``, orders the children of commutative nodes independently of
parameter names. Walking the trees in that order and numbering parameters by
first visit names them ``p0, p1, ...``; the canonical form is the tree printed
with those names and commutative children sorted by their printed text.
Siblings whose masked forms tie can be visited in any order, so every such
order is tried (up to ``MAX_ORDERINGS``) and the smallest printed form wins;
the set of orders tried is the same for every renaming, which makes the
result rename-invariant. Past the cap (only for laws with many structurally
identical terms) the key is still valid but may differ between renamings.

``key`` is the first 20 hex digits of the SHA-256 of the canonical form.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import sympy

MAX_ORDERINGS = 256
_COMMUTATIVE = (sympy.Add, sympy.Mul, sympy.Min, sympy.Max)


@dataclass(frozen=True)
class _Node:
    kind: str  # 'p' for a parameter, else a label that names the node fully
    children: tuple[_Node, ...]
    commutative: bool
    parameter: str = ""  # the parameter's name when kind == 'p'
    masked: str = ""


def _label(expr: sympy.Basic, parameters: frozenset[str]) -> tuple[str, str]:
    """(kind, parameter name) of one SymPy node."""
    if isinstance(expr, sympy.Symbol):
        if expr.name in parameters:
            return "p", expr.name
        return "x:" + expr.name, ""
    if isinstance(expr, sympy.Rational):
        return "n:" + str(expr), ""
    if isinstance(expr, sympy.Number):  # pragma: no cover - parse yields rationals only
        return "n:" + sympy.srepr(expr), ""
    return type(expr).__name__, ""


def _tree(expr: sympy.Basic, parameters: frozenset[str]) -> _Node:
    kind, parameter = _label(expr, parameters)
    children = tuple(_tree(arg, parameters) for arg in expr.args)
    commutative = isinstance(expr, _COMMUTATIVE)
    if kind == "p":
        masked = "$"
    else:
        parts = [child.masked for child in children]
        masked = f"{kind}({','.join(sorted(parts) if commutative else parts)})"
    return _Node(kind, children, commutative, parameter, masked)


def _ordered(node: _Node) -> list[list[_Node]]:
    """Children in masked order, as groups of masked-equal siblings."""
    if not node.commutative:
        return [[child] for child in node.children]
    groups: dict[str, list[_Node]] = {}
    for child in sorted(node.children, key=lambda c: c.masked):
        groups.setdefault(child.masked, []).append(child)
    return list(groups.values())


def _visits(node: _Node) -> Iterator[tuple[str, ...]]:
    """Every order (up to the cap) in which parameters can be first met."""
    if node.kind == "p":
        yield (node.parameter,)
        return
    if "$" not in node.masked:
        yield ()
        return
    choices: list[list[tuple[str, ...]]] = []
    for group in _ordered(node):
        options: list[tuple[str, ...]] = []
        for permutation in itertools.permutations(group):
            parts = [list(itertools.islice(_visits(c), MAX_ORDERINGS)) for c in permutation]
            for combo in itertools.product(*parts):
                options.append(tuple(itertools.chain.from_iterable(combo)))
                if len(options) >= MAX_ORDERINGS:
                    break
            if len(options) >= MAX_ORDERINGS or "$" not in group[0].masked:
                break
        choices.append(list(dict.fromkeys(options)))
    count = 0
    for combo in itertools.product(*choices):
        yield tuple(itertools.chain.from_iterable(combo))
        count += 1
        if count >= MAX_ORDERINGS:
            return


def _render(node: _Node, names: dict[str, str]) -> str:
    if node.kind == "p":
        return names[node.parameter]
    if not node.children:
        return node.kind
    parts = [_render(child, names) for child in node.children]
    return f"{node.kind}({','.join(sorted(parts) if node.commutative else parts)})"


@dataclass(frozen=True)
class Canonical:
    """The canonical printed form, its key, and parameters in canonical order."""

    form: str
    key: str
    parameters: tuple[str, ...]


def canonicalize(expressions: Sequence[sympy.Expr], *, parameters: Sequence[str]) -> Canonical:
    """Canonical form of a law's expressions (in output order) with the given parameters."""
    root = _tree(sympy.Tuple(*expressions), frozenset(parameters))
    best: tuple[str, tuple[str, ...]] | None = None
    for visit in itertools.islice(_visits(root), MAX_ORDERINGS):
        order = tuple(dict.fromkeys(visit))
        names = {name: f"p{i}" for i, name in enumerate(order)}
        form = _render(root, names)
        if best is None or form < best[0]:
            best = (form, order)
    assert best is not None
    form, order = best
    return Canonical(form, hashlib.sha256(form.encode()).hexdigest()[:20], order)


def complexity(expressions: Sequence[sympy.Expr]) -> int:
    """Number of nodes in the SymPy trees: every operator or function application,
    symbol and number counts one; an n-ary sum or product counts once."""
    return sum(sum(1 for _ in sympy.preorder_traversal(expr)) for expr in expressions)


SHAPE_DEPTH = 3  # levels of the tree a shape keeps; deeper subtrees read "~"
_SHAPE_NUMBERS = (-2, -1, 1, 2)  # kept as written: they make sums, products and quotients


def _inputs_only(term: sympy.Basic) -> bool:
    """An input and no parameter (inputs are the positive symbols)."""
    symbols = term.free_symbols
    return bool(symbols) and all(s.is_positive for s in symbols)


def _scalable(term: sympy.Basic) -> bool:
    """A parameter and an input."""
    symbols = term.free_symbols
    return any(s.is_positive for s in symbols) and not all(s.is_positive for s in symbols)


def _distributed(term: sympy.Basic) -> list[sympy.Basic]:
    """``term`` as summands, where it is a product of one sum that holds a number with
    factors that hold no parameter, and holds a parameter itself: each number of the sum
    times those factors, then the rest of the sum times them. So
    ``89*(1 + B*log(N))/log(N)`` reads ``[89/log(N), 89*B]``; any other term is itself.
    (The rest keeps its inner sum, whose own frozen terms are counted there.)
    """
    if isinstance(term, sympy.Mul) and not all(s.is_positive for s in term.free_symbols):
        sums = [i for i, f in enumerate(term.args) if isinstance(f, sympy.Add)]
        if len(sums) == 1:
            inner = term.args[sums[0]]
            outer = sympy.Mul(*(f for i, f in enumerate(term.args) if i != sums[0]))
            numbers = [t for t in inner.args if t.is_Number]
            if numbers and all(s.is_positive for s in outer.free_symbols):
                rest = sympy.Add(*(t for t in inner.args if not t.is_Number))
                return [outer * k for k in numbers] + [outer * rest]
    return [term]


def _frozen(args: Sequence[sympy.Basic]) -> tuple[list[sympy.Basic], set[int], set[int]]:
    """The summands of a sum as frozen terms are read, and which of them are frozen and
    which are *absorbed* (a shift of a coefficient: see :func:`frozen_terms`), by index.

    A summand that :func:`_distributed` splits into pieces, one of them of inputs alone, is
    read as those pieces; every other summand as it is. With no summand that holds both a
    parameter and an input, nothing is frozen.
    """
    pieces: list[sympy.Basic] = []
    for a in args:
        parts = _distributed(a)
        pieces.extend(parts if len(parts) > 1 and any(map(_inputs_only, parts)) else [a])
    if not any(map(_scalable, pieces)):
        return pieces, set(), set()
    inputs = sorted({s for t in pieces for s in t.free_symbols if s.is_positive}, key=str)
    scaled = set()
    for t in pieces:
        if _scalable(t):
            coefficient, rest = t.as_independent(*inputs, as_Add=False)
            if coefficient.free_symbols:
                scaled.add(rest)  # scaled by parameters alone
    bare = [i for i, t in enumerate(pieces) if _inputs_only(t)]
    absorbed = {i for i in bare if pieces[i].as_coeff_Mul()[1] in scaled}
    return pieces, set(bare) - absorbed, absorbed


def frozen_terms(expressions: Sequence[sympy.Expr]) -> int:
    """How many *frozen terms* the trees hold, at any depth: summands that depend on an
    input and hold no parameter, in a sum where another summand holds both (:func:`shape`).

    A fit cannot scale such a term, so its presence and its coefficient (``93/log(N)``,
    ``265/sqrt(N)``) were chosen by the search among near-variants, each on its error on
    the fold bands: a degree of freedom set on the rows that judge the law. The final pick
    charges it as a parameter (:mod:`sld.scoring._pick`). A shift inside a sum with no
    parameter (``log(D) - 22``) is not one, nor is a term that a sibling already scales by
    parameters alone (``93/log(N)`` beside ``A/log(N)``: a shift of ``A``). A product of a
    sum with factors that hold no parameter is read distributed, so
    ``89*(1 + B*log(N))/log(N)`` holds ``89/log(N)``.
    """
    count = 0
    for expr in expressions:
        for node in sympy.preorder_traversal(expr):
            if isinstance(node, sympy.Add):
                count += len(_frozen(node.args)[1])
    return count


def unfreeze(
    expressions: Sequence[sympy.Expr], fresh: Callable[[], sympy.Symbol]
) -> tuple[sympy.Expr, ...]:
    """The trees with every frozen term (:func:`frozen_terms`) made scalable: a summand
    ``c*g`` with a number ``c`` and no parameter in ``g`` becomes ``P*g``, where ``P =
    fresh()`` is a new parameter, so ``E + A/N**a + 93/log(N)`` reads ``E + A/N**a +
    P/log(N)``. The sign and size go into ``P``. A term that a sibling already scales by
    parameters alone (``A/log(N) + 93/log(N)``) is only a shift of that coefficient and is
    dropped instead. A sum that holds either is written out distributed (``89*(1 +
    B*log(N))/log(N)`` becomes ``P/log(N) + 89*B``); everything else is left as it was.

    Applied bottom-up, so a sum inside a frozen term is rewritten first and the term
    then holds a parameter. Returns the trees unchanged when they hold no frozen term.
    """

    def walk(node: sympy.Basic) -> sympy.Basic:
        if not node.args or all(s.is_positive for s in node.free_symbols):
            return node  # a number, a symbol, or a subtree without a parameter
        args = [walk(a) for a in node.args]
        if isinstance(node, sympy.Add):
            pieces, frozen, absorbed = _frozen(args)
            if frozen or absorbed:
                args = [
                    fresh() * t.as_coeff_Mul()[1] if i in frozen else t
                    for i, t in enumerate(pieces)
                    if i not in absorbed
                ]
        return node.func(*args)

    return tuple(walk(e) for e in expressions)


def shape(expressions: Sequence[sympy.Expr], *, depth: int = SHAPE_DEPTH) -> str:
    """The top of a law's trees, with parameter names and most constants erased.

    Each expression prints its first ``depth`` levels: a parameter (a symbol that is not
    positive, as :func:`sld.law.parameter_symbol` makes them) reads ``P``, an input its
    name, a number ``c`` (except -2, -1, 1 and 2, which read as themselves), and a subtree
    at depth ``depth`` reads ``~``; sums and products sort their children. So
    ``A + B/(1 + exp(a*x + b*y))`` and ``C + D/(1 + exp(c*x + d*y**2))`` have one shape,
    ``A + exp(a*x + b*y)`` another: laws that differ only deep inside share one.
    Outputs are joined by ``" ; "``.

    A *frozen term* is left out first: a summand with no parameter that depends on an
    input (``12/sqrt(N)``), in a sum where another summand holds both a parameter and an
    input. A fit cannot scale it; search writes it (a crossover takes a power without
    its coefficient, an edit fixes the exponent) in many near-variants, ``9/sqrt(N)``,
    ``12/sqrt(N)``, ``30/sqrt(N)`` beside or inside one law's terms, each with a slightly
    different error. So ``A + 12/sqrt(N) + exp(1/sqrt(N) + a*x)`` has the
    shape of ``A + exp(a*x)``, while a shift keeps its input: ``log(lr) - 6.07 - C`` has
    no summand with both.
    """

    def walk(expr: sympy.Basic, left: int) -> str:
        if isinstance(expr, sympy.Symbol):
            return expr.name if expr.is_positive else "P"
        if isinstance(expr, sympy.Number):
            return str(expr) if expr in _SHAPE_NUMBERS else "c"
        if left == 0:
            return "~"
        args = expr.args
        if isinstance(expr, sympy.Add) and any(_scalable(a) for a in args):
            args = tuple(a for a in args if not _inputs_only(a))
        kids = [walk(arg, left - 1) for arg in args]
        if isinstance(expr, sympy.Add | sympy.Mul):
            kids.sort()
        return f"{type(expr).__name__}({','.join(kids)})"

    return " ; ".join(walk(expr, depth) for expr in expressions)
