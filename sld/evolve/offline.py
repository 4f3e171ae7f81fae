"""The offline symbolic proposer: law families, mutation and crossover, no LLM.

What a user without an LLM gets. The first generation draws seeds from the family
library (:mod:`sld.evolve.families`); later generations mutate and cross the parents
selection hands over (:mod:`sld.evolve.mutate`), with a share of fresh seeds so every
family is tried eventually. Every proposal is printed in the law grammar, with the
task's short aliases and readable parameter names (:mod:`sld.evolve.text`), and
validated by a round trip through :func:`sld.law.parse_law`: texts that fail, break the
parameter limit or duplicate a parent or another proposal of the batch are dropped and
replaced, up to a bounded number of attempts.

Output depends only on the request (``ProposalRequest.rng``), so a run replays.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from sld.errors import ParseError
from sld.evolve.families import Seed, param_budget, seeds
from sld.evolve.features import Feature, Params, features, placeholders_in
from sld.evolve.guided import guided_child, usable_trends
from sld.evolve.mutate import MUTATIONS, crossover, tidy
from sld.evolve.text import as_placeholders, law_text, parse_for
from sld.law import Law
from sld.proposer import Parent, Proposal, ProposalRequest, TaskBrief

NAME = "offline"


# --- the proposer -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    expressions: tuple[sympy.Expr, ...]
    parents: tuple[int, ...]
    operator: str
    rationale: str


@dataclass(frozen=True)
class OfflineProposer:
    """Symbolic proposer: family seeds, tree mutations and crossover; no network.

    ``seed_share``: fraction of a batch that is fresh family seeds once parents exist;
    ``crossover_share``: fraction made by crossover (with two or more parents);
    ``guided_share``: fraction aimed at a parent's residual diagnostics
    (:mod:`sld.evolve.guided`; only parents whose diagnostics show a trend);
    ``broadcast_share``: for multi-output laws, how often a mutated output's structure
    is copied to every output (each copy with its own parameters);
    ``attempts``: tries per wanted proposal before a batch is returned short;
    ``max_complexity``: node-count cap per output expression.
    """

    name: str = NAME
    seed_share: float = 0.15
    crossover_share: float = 0.2
    guided_share: float = 0.3
    broadcast_share: float = 0.4
    attempts: int = 12
    max_complexity: int = 80

    async def propose(self, request: ProposalRequest) -> list[Proposal]:
        """``request.count`` validated proposals (fewer only if attempts run out)."""
        return await asyncio.to_thread(self.propose_now, request)

    def propose_now(self, request: ProposalRequest) -> list[Proposal]:
        """The synchronous core of :meth:`propose`."""
        return offline_proposals(
            request,
            seed_share=self.seed_share,
            crossover_share=self.crossover_share,
            guided_share=self.guided_share,
            broadcast_share=self.broadcast_share,
            attempts=self.attempts,
            max_complexity=self.max_complexity,
            name=self.name,
        )


def offline_proposals(
    request: ProposalRequest,
    *,
    seed_share: float = 0.15,
    crossover_share: float = 0.2,
    guided_share: float = 0.3,
    broadcast_share: float = 0.4,
    attempts: int = 12,
    max_complexity: int = 80,
    name: str = NAME,
) -> list[Proposal]:
    """Up to ``request.count`` distinct, parseable proposals for ``request``.

    Without parseable parents: family seeds in priority order, rotated by island (island
    ``i`` starts at seed ``i * count``) for two thirds of the batch; the rest alternates
    at random between further seeds and mutations of random seeds. With parents: a
    ``seed_share`` of fresh seeds, a ``crossover_share`` of crossovers, a ``guided_share``
    of edits aimed at a parent's residual trends (when a parent has one), and mutations
    of parents drawn with weight ``1/rank`` (better error, more children). No proposal
    repeats a parent, another proposal of the batch or a key in ``request.tried``.
    """
    brief = request.brief
    rng = request.rng()
    budget = param_budget(brief)
    fs = features(brief)
    library = seeds(brief)
    parents = _parsed_parents(request.parents, brief)
    seen = {law.key for _, law, _ in parents}
    out: list[Proposal] = []

    def accept(candidate: _Candidate | None) -> None:
        if candidate is None or len(out) >= request.count:
            return
        text = _validated(
            candidate.expressions,
            brief,
            budget=budget,
            seen=seen,
            tried=request.tried,
            cap=max_complexity,
        )
        if text is not None:
            out.append(
                Proposal(text, candidate.parents, name, candidate.operator, candidate.rationale)
            )

    if not parents:
        start = request.island * request.count
        rotated = [library[(start + j) % len(library)] for j in range(len(library))]
        fixed = math.ceil(request.count * 2 / 3)
        for seed in rotated[:fixed]:
            accept(_seed_candidate(seed))
        pool = [(-1, seed.expressions) for seed in library]
        later = iter(rotated[fixed:])
        tries = 0
        while len(out) < request.count and tries < attempts * request.count and pool:
            tries += 1
            next_seed = next(later, None) if rng.random() < 0.5 else None
            if next_seed is not None:
                accept(_seed_candidate(next_seed))
            else:
                accept(_mutated(pool, fs, rng, broadcast_share=broadcast_share, from_seed=True))
        return out

    ordered = sorted(parents, key=lambda item: (_finite(item[2].error), item[2].id))
    pool = [(parent.id, trees) for trees, _, parent in ordered]
    weights = np.array([1.0 / (rank + 1) for rank in range(len(pool))])
    weights /= weights.sum()
    guided = [(trees, parent) for trees, _, parent in ordered if usable_trends(parent.diagnostics)]
    tries = 0
    while len(out) < request.count and tries < attempts * request.count:
        tries += 1
        roll = rng.random()
        if library and roll < seed_share:
            accept(_seed_candidate(library[int(rng.integers(len(library)))]))
        elif len(pool) >= 2 and roll < seed_share + crossover_share:
            accept(_crossed(pool, weights, fs, rng))
        elif guided and roll < seed_share + crossover_share + guided_share:
            accept(_guided(guided, fs, brief, rng))
        else:
            accept(_mutated(pool, fs, rng, weights=weights, broadcast_share=broadcast_share))
    return out


def _finite(value: float) -> float:
    return value if math.isfinite(value) else math.inf


def _parsed_parents(
    parents: Sequence[Parent], brief: TaskBrief
) -> list[tuple[tuple[sympy.Expr, ...], Law, Parent]]:
    """Parents that parse for this task, as placeholder trees (others are skipped)."""
    out = []
    for parent in parents:
        try:
            law = parse_for(parent.text, brief, max_params=None)
        except ParseError:
            continue
        out.append((as_placeholders(law), law, parent))
    return out


def _seed_candidate(seed: Seed) -> _Candidate:
    return _Candidate(seed.expressions, (), "seed", f"family {seed.family}")


def _mutated(
    pool: Sequence[tuple[int, tuple[sympy.Expr, ...]]],
    fs: Sequence[Feature],
    rng: np.random.Generator,
    *,
    weights: np.ndarray | None = None,
    broadcast_share: float,
    from_seed: bool = False,
) -> _Candidate | None:
    """One mutation of one output of a parent drawn from ``pool`` (or of every output
    alike, by copying the mutated output's structure)."""
    index = int(rng.choice(len(pool), p=weights))
    parent_id, trees = pool[index]
    operator = str(rng.choice(sorted(MUTATIONS)))
    k = int(rng.integers(len(trees)))
    p = Params(*trees)
    changed = MUTATIONS[operator](trees[k], fs, p, rng)
    if changed is None:
        return None
    changed = tidy(changed, fs, p)
    scope = f"output {k + 1}"
    if len(trees) > 1 and rng.random() < broadcast_share:
        trees = _broadcast(changed, len(trees), p)
        scope = "all outputs"
    else:
        trees = trees[:k] + (changed,) + trees[k + 1 :]
    origin = "a seed" if from_seed else f"parent {parent_id}"
    parents = () if from_seed else (parent_id,)
    return _Candidate(trees, parents, operator, f"{operator} on {origin} ({scope})")


def _guided(
    pool: Sequence[tuple[tuple[sympy.Expr, ...], Parent]],
    fs: Sequence[Feature],
    brief: TaskBrief,
    rng: np.random.Generator,
) -> _Candidate | None:
    """An edit aimed at the residual trends of a parent drawn from ``pool`` (best first,
    weight ``1/rank``)."""
    weights = np.array([1.0 / (rank + 1) for rank in range(len(pool))])
    trees, parent = pool[int(rng.choice(len(pool), p=weights / weights.sum()))]
    assert parent.diagnostics is not None  # the pool holds parents with usable trends only
    child = guided_child(trees, parent.diagnostics, fs, brief, rng, parent_id=parent.id)
    if child is None:
        return None
    return _Candidate(child.trees, (parent.id,), child.operator, child.rationale)


def _crossed(
    pool: Sequence[tuple[int, tuple[sympy.Expr, ...]]],
    weights: np.ndarray,
    fs: Sequence[Feature],
    rng: np.random.Generator,
) -> _Candidate | None:
    """A child of two different parents: a subtree of the second put into the first."""
    i, j = (int(v) for v in rng.choice(len(pool), size=2, replace=False, p=weights))
    (first_id, first), (second_id, second) = pool[i], pool[j]
    p = Params(*first, *second)
    k = int(rng.integers(len(first)))
    child = crossover(first[k], second[k % len(second)], fs, p, rng)
    if child is None:
        return None
    trees = first[:k] + (tidy(child, fs, p),) + first[k + 1 :]
    return _Candidate(
        trees,
        (first_id, second_id),
        "crossover",
        f"crossover of parent {first_id} with a subtree of parent {second_id} (output {k + 1})",
    )


def _broadcast(expr: sympy.Expr, k: int, p: Params) -> tuple[sympy.Expr, ...]:
    """``k`` copies of ``expr``, each with its own fresh parameters."""
    own = sorted(placeholders_in([expr]), key=lambda s: s.name)
    return tuple(expr.xreplace({s: p() for s in own}) for _ in range(k))


def _validated(
    expressions: Sequence[sympy.Expr],
    brief: TaskBrief,
    *,
    budget: int,
    seen: set[str],
    tried: frozenset[str] = frozenset(),
    cap: int,
) -> str | None:
    """The law text when it has a parameter, prints, parses within the budget, keeps every
    parameter, stays under the complexity cap and is new (its key neither in ``seen`` nor in
    ``tried``); else ``None``. Adds its key to ``seen``."""
    checked = _checked(tuple(expressions), brief, budget=budget, cap=cap)
    if checked is None:
        return None
    text, key = checked
    if key in seen or key in tried:
        return None
    seen.add(key)
    return text


# (trees, inputs, aliases, outputs, budget, cap) → (text, key) or None. Three in four trees a
# run validates were validated before (measured on a 60 s overtraining run: 15,330 repeats of
# 20,069), and the round trip through the parser was a third of the run's wall time.
_CHECKED: dict[tuple[object, ...], tuple[str, str] | None] = {}
_CHECKED_MAX = 1 << 16


def _checked(
    expressions: tuple[sympy.Expr, ...], brief: TaskBrief, *, budget: int, cap: int
) -> tuple[str, str] | None:
    """``(text, key)`` of the trees when they have a parameter, print, parse within the
    budget, keep every parameter and stay under the complexity cap; else ``None``.

    Memoised on the trees (SymPy compares them by structure, a float's precision
    included), the brief's names and the limits: a pure function of those, so a run
    proposes the same with the memo warm or cold. Thread-safe (the worst case is two
    threads computing the same entry); cleared when it holds ``_CHECKED_MAX`` entries.
    """
    memo_key = (
        expressions,
        brief.inputs,
        tuple(sorted(brief.aliases.items())),
        brief.outputs,
        budget,
        cap,
    )
    if memo_key in _CHECKED:
        try:
            return _CHECKED[memo_key]
        except KeyError:  # another thread cleared the memo in between
            pass
    result = _check(expressions, brief, budget=budget, cap=cap)
    if len(_CHECKED) >= _CHECKED_MAX:
        _CHECKED.clear()
    _CHECKED[memo_key] = result
    return result


def _check(
    expressions: tuple[sympy.Expr, ...], brief: TaskBrief, *, budget: int, cap: int
) -> tuple[str, str] | None:
    """:func:`_checked` without the memo."""
    expected = len(placeholders_in(expressions))
    if not 1 <= expected <= budget or any(_complexity(e) > cap for e in expressions):
        return None
    try:
        text = law_text(expressions, brief)
        law = parse_for(text, brief, max_params=budget)
    except (ValueError, ParseError):
        return None
    if len(law.parameters) != expected:
        return None
    return text, law.key


def _complexity(expr: sympy.Expr) -> int:
    return sum(1 for _ in sympy.preorder_traversal(expr))
