"""sld.fit._program._linear_parameters: the tree reading agrees with SymPy's derivatives."""

from __future__ import annotations

import random

import pytest
import sympy as sp

from sld.corpus import list_tasks, load_task
from sld.fit._program import _linear_parameters, _slot_order, canonical_expressions
from sld.scoring._rows import parse_for_task

X, Y = sp.symbols("x y", positive=True)
P = tuple(sp.Symbol(f"_p{j}", real=True) for j in range(4))
A, B, C, D = P


def by_derivatives(exprs: tuple[sp.Expr, ...], symbols: tuple[sp.Symbol, ...]) -> tuple[bool, ...]:
    """The definition, read off SymPy's derivatives: p is kept when ∂²f/∂p∂q = 0 for every
    kept q and q = p, and ∂f/∂p ≠ 0, in slot order."""
    kept: list[int] = []
    for j, s in enumerate(symbols):
        first = [sp.diff(e, s) for e in exprs]
        mixed = (sp.diff(d, symbols[q]) for d in first for q in [*kept, j])
        if any(d != 0 for d in first) and all(m == 0 for m in mixed):
            kept.append(j)
    return tuple(j in kept for j in range(len(symbols)))


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (A + B * X, (True, True, False, False)),
        (A * X**B, (True, False, False, False)),
        (A * B * X, (True, False, False, False)),  # B multiplies a kept A
        ((A + B * X) ** 2, (False, False, False, False)),
        (A * sp.exp(C * X) + B, (True, True, False, False)),
        (A + sp.log(X / (1 + C * X) ** D), (True, False, False, True)),  # − D·log(1 + C·x)
        (sp.log(X**A * sp.exp(B + C * Y)), (True, True, True, False)),
        (sp.log(X**A * Y**A), (False, False, False, False)),  # A in two factors: SymPy keeps f'/f
        (sp.log(A * X), (False, False, False, False)),
        (A * (X + 1) - A * X - A + B, (False, True, False, False)),  # ∂f/∂A cancels to 0
        (A * X + A * Y, (True, False, False, False)),
        ((A * X + B) / (C + 1), (True, True, False, False)),
    ],
)
def test_hand_made_trees(expr: sp.Expr, expected: tuple[bool, ...]) -> None:
    assert _linear_parameters((expr,), P) == expected
    assert by_derivatives((expr,), P) == expected


def random_tree(rng: random.Random, depth: int) -> sp.Expr:
    """Sums, products, powers, exp, log (of products of powers, mostly) and tanh over x, y, P."""
    if depth == 0 or rng.random() < 0.25:
        pick = rng.random()
        if pick < 0.45:
            return rng.choice(P)
        return rng.choice([X, Y]) if pick < 0.85 else sp.Integer(rng.choice([1, 2, 3, -1]))
    op = rng.choice(["add", "mul", "div", "pow", "powc", "exp", "log", "log", "tanh"])
    a = random_tree(rng, depth - 1)
    if op == "add":
        return a + random_tree(rng, depth - 1)
    if op == "mul":
        return a * random_tree(rng, depth - 1)
    if op == "div":
        return a / (2 + random_tree(rng, depth - 1) ** 2)
    if op == "pow":
        return rng.choice([X, Y, 1 + X]) ** a
    if op == "powc":
        return a ** rng.choice([2, -1, sp.Rational(1, 2)])
    if op == "exp":
        return sp.exp(a)
    if op == "tanh":
        return sp.tanh(a)
    if rng.random() < 0.6:
        return sp.log(rng.choice([X, Y, 1 + X]) ** random_tree(rng, depth - 1) * a)
    return sp.log(a)


def test_random_trees_agree_with_the_derivatives() -> None:
    rng = random.Random(20261206)
    trees: list[tuple[sp.Expr, ...]] = []
    while len(trees) < 300:
        exprs = tuple(random_tree(rng, 4) for _ in range(rng.choice([1, 1, 2])))
        if any(e.has(sp.zoo, sp.nan, sp.oo) for e in exprs):
            continue
        if any(e.free_symbols & set(P) for e in exprs):
            trees.append(exprs)
    disagree = [t for t in trees if _linear_parameters(t, P) != by_derivatives(t, P)]
    assert not disagree
    assert sum(any(_linear_parameters(t, P)) for t in trees) > 30  # the trees keep some


@pytest.mark.parametrize("name", list_tasks())
def test_curated_reference_laws_agree_with_the_derivatives(name: str) -> None:
    task = load_task(name)
    if task.reference_law is None:
        pytest.skip("no reference law")
    law = parse_for_task(task.reference_law, task, max_params=None)
    exprs, canon = canonical_expressions(law, _slot_order(law))
    assert _linear_parameters(exprs, canon) == by_derivatives(exprs, tuple(canon))
