"""A law's expressions with exact reparametrizations undone: what its key is computed from.

Two spellings of one law, such as ``A/N**a`` and ``A*N**a``, or ``E + A*exp(a*(log(N) - 16.7))``
and ``E + A*N**a``, describe the same family of functions: each parameter vector of one has a
vector of the other that gives the same predictions. Fitting both wastes a fit, so the key
(:func:`sld.law._canonical.canonicalize`) is computed from the form this module returns,
in which every such rewrite has been applied. Each rewrite is an identity for real
parameters and positive inputs, so two laws with one reduced form fit the same data
equally well (up to the fitter finding the optimum); nothing here ever merges laws whose
best fits can differ.

Rewrites, applied to a fixed point (at most ``MAX_ROUNDS`` rounds):

1. **Powers out of exponentials.** ``exp(t1 + … + tn)``, a product over one sum
   distributed inside (``a*(log(N) - c)`` → ``a*log(N) - a*c``), becomes ``u**k`` for every term ``k*log(u)``
   whose ``u`` depends on inputs only, times ``exp`` of the remaining terms:
   ``exp(a + b*log(N))`` → ``N**b * exp(a)``.
2. **A free parameter absorbs what it can reach.** Call a parameter *free* when it occurs
   once in the whole law. Then
   - an invertible map of it alone (``c + p``, ``c*p`` with ``c ≠ 0``, ``1/p``, nested)
     is the parameter itself: ``N**(-a)`` → ``N**a``;
   - a sum holding it as a term also holds, in it, every other term that depends on
     parameters only (``p + q**2 + 3`` → ``p``), as ``p`` ranges over all reals whatever
     the rest is;
   - likewise a product holding it as a factor absorbs every factor that depends on
     parameters only (``p*exp(q)`` → ``p``; the product is then off by a factor that is
     nonzero except on a set of measure zero).

A rewrite that drops a parameter leaves the law with fewer effective parameters; the key
also counts the parameters as written, so ``A*B*N`` and ``A*N`` keep different keys. Not
merged, on purpose: ``exp(a)*N**b`` and ``A*N**b`` (the first cannot be negative), and any
rewrite that needs a parameter to occur once when it occurs twice.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

import sympy

from sld.law._build import parameter_symbol
from sld.law._canonical import Canonical, canonicalize

MAX_ROUNDS = 16


def _spread(argument: sympy.Expr) -> list[sympy.Expr]:
    """The additive terms of ``argument``, a term with exactly one sum among its factors
    distributed over it (``a*(log(N) - c)`` → ``a*log(N)``, ``-a*c``): linear in size."""
    terms: list[sympy.Expr] = []
    for term in sympy.Add.make_args(argument):
        factors = sympy.Mul.make_args(term)
        sums = [f for f in factors if isinstance(f, sympy.Add)]
        if len(sums) != 1:
            terms.append(term)
            continue
        other = sympy.Mul(*(f for f in factors if f is not sums[0]))
        terms.extend(sympy.Add.make_args(sympy.Add(*(other * part for part in sums[0].args))))
    return terms


def _powers_out(expr: sympy.Expr, inputs: frozenset[sympy.Symbol]) -> sympy.Expr:
    """Rewrite 1, bottom-up."""
    if not expr.args:
        return expr
    args = [_powers_out(arg, inputs) for arg in expr.args]
    if not isinstance(expr, sympy.exp):
        return expr.func(*args) if args != list(expr.args) else expr
    argument = args[0]
    powers: list[sympy.Expr] = []
    rest: list[sympy.Expr] = []
    for term in _spread(argument):
        factors = sympy.Mul.make_args(term)
        logs = [
            f
            for f in factors
            if isinstance(f, sympy.log)
            and f.args[0].free_symbols
            and f.args[0].free_symbols <= inputs
        ]
        if len(logs) == 1:
            exponent = sympy.Mul(*(f for f in factors if f is not logs[0]))
            powers.append(sympy.Pow(logs[0].args[0], exponent))
        else:
            rest.append(term)
    if not powers:
        return sympy.exp(argument)
    return sympy.Mul(*powers, sympy.exp(sympy.Add(*rest)))


def _occurrences(expressions: Sequence[sympy.Expr], parameters: frozenset[sympy.Symbol]) -> Counter:
    counts: Counter = Counter()
    for expr in expressions:
        for node in sympy.preorder_traversal(expr):
            if node in parameters:
                counts[node] += 1
    return counts


def _invertible(expr: sympy.Expr, parameter: sympy.Symbol) -> bool:
    """Whether ``expr`` is ``parameter`` under shifts, nonzero scalings and reciprocals."""
    if expr == parameter:
        return True
    if isinstance(expr, sympy.Add | sympy.Mul):
        others = [arg for arg in expr.args if not arg.is_Number]
        if isinstance(expr, sympy.Mul) and any(arg.is_zero for arg in expr.args):
            return False
        return len(others) == 1 and _invertible(others[0], parameter)
    if isinstance(expr, sympy.Pow) and expr.exp == -1:
        return _invertible(expr.base, parameter)
    return False


def _absorb(
    expr: sympy.Expr, free: frozenset[sympy.Symbol], parameters: frozenset[sympy.Symbol]
) -> sympy.Expr:
    """One bottom-up pass of rewrite 2."""
    symbols = expr.free_symbols
    if not expr.args or not symbols & parameters:
        return expr
    if len(symbols) == 1 and symbols <= free:
        (parameter,) = symbols
        if _invertible(expr, parameter):
            return parameter
    args = [_absorb(arg, free, parameters) for arg in expr.args]
    if isinstance(expr, sympy.Add | sympy.Mul):
        anchor = next((arg for arg in args if arg in free), None)
        if anchor is not None:
            kept = [
                arg
                for arg in args
                if arg is anchor
                or not (arg.is_Number or (arg.free_symbols and arg.free_symbols <= parameters))
            ]
            if len(kept) < len(args):
                return expr.func(*kept)
    return expr.func(*args) if args != list(expr.args) else expr


def reduced(
    expressions: Sequence[sympy.Expr],
    *,
    parameters: Sequence[sympy.Symbol],
    inputs: Sequence[sympy.Symbol],
) -> tuple[sympy.Expr, ...]:
    """``expressions`` with the rewrites of the module docstring applied to a fixed point."""
    params = frozenset(parameters)
    out = tuple(_powers_out(expr, frozenset(inputs)) for expr in expressions)
    for _ in range(MAX_ROUNDS):
        counts = _occurrences(out, params)
        free = frozenset(p for p, n in counts.items() if n == 1)
        again = tuple(_absorb(expr, free, params) for expr in out)
        if again == out:
            break
        out = again
    return out


def law_key(
    expressions: Sequence[sympy.Expr],
    *,
    parameters: Sequence[str],
    inputs: Sequence[sympy.Symbol],
    canonical: Canonical | None = None,
) -> str:
    """The key of a law: 20 hex digits of SHA-256 over the canonical form of its
    :func:`reduced` expressions and the number of parameters it is written with.
    ``canonical``, the law's own canonical form if the caller has it, is reused when
    no rewrite applies."""
    symbols = {name: parameter_symbol(name) for name in parameters}
    out = reduced(expressions, parameters=tuple(symbols.values()), inputs=inputs)
    if canonical is not None and out == tuple(expressions):
        form = canonical.form
    else:
        present = set().union(*(expr.free_symbols for expr in out))
        left = [name for name, symbol in symbols.items() if symbol in present]
        form = canonicalize(out, parameters=left).form
    return hashlib.sha256(f"{form}|{len(symbols)}".encode()).hexdigest()[:20]
