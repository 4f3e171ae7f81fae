"""Unfrozen variants: a law's frozen terms given a coefficient the fit sets.

A frozen term (:attr:`sld.law.Law.frozen_terms`) is a summand with an input and no
parameter beside one that holds both, ``93/log(N)`` in ``E + A/N**a + 93/log(N)``. The
search chose its coefficient among near-variants by their errors on the fold bands, the
rows that then judge the law, so that error flatters it. Its *unfrozen variant*
(:func:`unfrozen_law`) fits the coefficient instead, ``E + A/N**a + F/log(N)``, on each
fold's fit rows, so its fold error is an honest one. The final pick
(:func:`sld.evolve.pick.pick_law`) judges the variant in the law's place.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import sympy

from sld.corpus import Task
from sld.errors import ParseError, SldError
from sld.evolve._fidelity import CONFIRMED_KEY
from sld.evolve._members import stored_score
from sld.law import FUNCTIONS, Law, LawPrinter, input_symbol, parameter_symbol
from sld.law._canonical import unfreeze
from sld.scoring import ScoreReport, parse_for_task, selection_scores
from sld.store import RunStore

PROPOSER = "unfreeze"  # proposer and operator of a variant recorded in a run store
UNFROZEN_IDS = 2 * 10**9  # variant ids of a pick with no store to register them in
Register = Callable[[int, Law, ScoreReport], int]  # (parent id, variant, its report) -> id

# Names for the new coefficients: upper case, as the proposers name coefficients; never a
# name that reads as something else (E1, L) or that the grammar refuses.
_NAMES = tuple("FGHKMPRTUVWZ")
_NEVER = frozenset({"numpy", "np", "e", "pi", "E", "E1", "L"}) | frozenset(FUNCTIONS)


def unfrozen_law(law: Law, task: Task, *, max_params: int | None = None) -> Law | None:
    """``law`` with each frozen term's number replaced by a new parameter
    (:func:`sld.law._canonical.unfreeze`), printed and parsed again against
    the task (``max_params``: as :func:`sld.scoring.parse_for_task`).

    None when the law holds no frozen term, or when the variant breaks a bound of the
    task (most often its parameter limit): the law then keeps its frozen terms.
    """
    if not law.frozen_terms:
        return None
    taken = set(law.parameters) | set(task.inputs) | set(task.aliases) | set(task.outputs)
    fresh_names: list[str] = []

    def fresh() -> sympy.Symbol:
        for rank in itertools.count():
            for base in _NAMES:
                name = f"{base}{rank or ''}"
                if name not in taken and name not in _NEVER:
                    taken.add(name)
                    fresh_names.append(name)
                    return parameter_symbol(name)
        raise AssertionError("unreachable")  # pragma: no cover

    expressions = unfreeze(law.expressions, fresh)
    names = {input_symbol(n): n for n in task.inputs}
    names.update({parameter_symbol(p): p for p in (*law.parameters, *fresh_names)})
    try:
        printer = LawPrinter(names)
        text = "; ".join(
            f"{out} = {printer.doprint(e)}" for out, e in zip(law.outputs, expressions, strict=True)
        )
        return parse_for_task(text, task, max_params=max_params)
    except (ParseError, ValueError):
        return None


def unfrozen_pool(
    pool: Sequence[tuple[int, Law]],
    task: Task,
    *,
    seed: int,
    restarts: int,
    polish: int,
    max_params: int | None,
    known: dict[int, ScoreReport],
    narrow: int = 0,
    register: Register | None = None,
) -> tuple[list[tuple[int, Law]], dict[int, int]]:
    """``pool`` with each law that holds frozen terms replaced by its unfrozen variant
    (:func:`unfrozen_law`), and variant id → the id it replaced.

    The variants are scored in one :func:`sld.scoring.selection_scores` call at ``seed``,
    ``restarts``, ``polish`` and ``narrow`` (the pick's), which is the fold re-fit the pick
    would make, and their reports go into ``known`` (updated in place). A law keeps its
    place when it has no variant within the parameter limit or when its variant's fit
    fails. A law whose variant is in the pool already, or is an earlier law's variant too
    (near-variants that differ only in a frozen number), leaves it. ``register(parent id,
    variant, report)`` gives a variant its id (the run store's candidate,
    :func:`store_variant`); without it the id is ``UNFROZEN_IDS + parent id``, for re-picks
    that write nothing.
    """
    keys = {law.key for _, law in pool}
    variants = []
    for cid, law in pool:
        variant = unfrozen_law(law, task, max_params=max_params)
        if variant is not None:
            variants.append((cid, variant))
    # near-variants that differ only in a frozen number share one variant: the first takes it
    todo: list[tuple[int, Law]] = []
    gone: set[int] = set()
    for cid, variant in variants:
        if variant.key in keys:
            gone.add(cid)
        else:
            todo.append((cid, variant))
            keys.add(variant.key)
    reports: list[ScoreReport | None]
    try:
        reports = list(
            selection_scores(
                [v for _, v in todo],
                task,
                seed=seed,
                restarts=restarts,
                polish=polish,
                narrow=narrow,
            )
        )
    except SldError:
        reports = [None] * len(todo)  # the pick goes on with the laws as they were
    swap: dict[int, tuple[int, Law]] = {}
    for (cid, variant), scored in zip(todo, reports, strict=True):
        if scored is None or not math.isfinite(scored.error):
            continue
        vid = register(cid, variant, scored) if register else UNFROZEN_IDS + cid
        known[vid] = scored
        swap[cid] = (vid, variant)
    out = [swap.get(cid, (cid, law)) for cid, law in pool if cid not in gone]
    return out, {vid: cid for cid, (vid, _) in swap.items()}


def store_variant(
    store: RunStore,
    parent: int,
    law: Law,
    report: ScoreReport,
    *,
    restarts: int,
    polish: int = 0,
    narrow: int = 0,
) -> int:
    """Record the unfrozen variant ``law`` of candidate ``parent`` in the run ``store`` with
    its fold scores ``report`` (fitted at ``restarts``, ``polish`` and ``narrow``, so it
    reads as confirmed there); returns its candidate id.

    A :data:`Register` for :func:`unfrozen_pool` once the store is bound. A pick started
    again after a kill finds the variant it recorded (same parent, same key) and keeps
    its id and first score.
    """
    for row in store.candidates(proposer=PROPOSER):
        if row.key == law.key and row.parents == (parent,):
            cid = row.id
            break
    else:
        origin = store.candidate(parent)
        cid = store.add_candidate(
            text=law.text,
            generation=origin.generation,
            island=origin.island,
            key=law.key,
            parents=[parent],
            proposer=PROPOSER,
            operator=PROPOSER,
            rationale=f"law {parent} with its frozen terms' coefficients fitted",
            complexity=law.complexity,
            n_params=len(law.parameters),
        )
    confirmed = {"restarts": restarts, "polish": polish, "narrow": narrow, "error_before": None}
    store.record_fit_and_score(cid, **stored_score(report, extra={CONFIRMED_KEY: confirmed}))
    return cid


def within_limit(
    pool: Sequence[tuple[int, Law]], task: Task, *, max_params: int | None
) -> list[tuple[int, Law]]:
    """``pool`` without the laws whose parameters and frozen terms together exceed the
    parameter limit (``max_params``, else the task's; none: ``pool`` as it is), unless no
    law would be left.

    The parse holds a law's parameters to the limit, but a frozen term is a degree of
    freedom too, one the search set on the fold bands: ``E + A/N**a + B/D**b + 93/log(N)``
    spends five under a limit of four. The pick counts frozen terms as parameters
    (:func:`sld.scoring.final_pick`), and so counts them against the limit as well.
    """
    limit = max_params if max_params is not None else task.max_params
    if limit is None:
        return list(pool)
    kept = [(cid, law) for cid, law in pool if len(law.parameters) + law.frozen_terms <= limit]
    return kept or list(pool)
