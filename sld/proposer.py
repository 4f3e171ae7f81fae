"""The proposer protocol shared by the offline (symbolic) and LLM proposers.

A proposer turns a :class:`ProposalRequest` (what the task looks like, the parents
chosen by selection, how many laws are wanted) into law *texts*. It never sees
held-out data, and its output depends only on the request: every random choice is
drawn from a generator seeded by ``(seed, generation, island)``, never from global
state or the clock, so a run can be replayed.

Proposals are untrusted text: the engine parses each one with
:func:`sld.law.parse_law` before anything else happens to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from sld.corpus import Task
    from sld.scoring import ResidualDiagnostics


@dataclass(frozen=True)
class TaskBrief:
    """What a proposer knows about a task — never any held-out data.

    ``aliases`` maps alias → input name; ``log_scale`` maps input name → whether the
    input spans orders of magnitude (so powers and logs of it are natural);
    ``ranges`` maps input name → (min, max) over the *training* rows;
    ``max_params`` is the task's parameter limit over all outputs (``None``: no limit);
    ``sample`` a few *training* rows as ``(group, inputs + outputs in order)``, stratified
    across scale and group (:func:`training_sample`); ``group_name`` what a group is.
    """

    name: str
    inputs: tuple[str, ...]
    aliases: dict[str, str]
    outputs: tuple[str, ...]
    log_scale: dict[str, bool]
    max_params: int | None
    description: str = ""
    units: dict[str, str] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    sample: tuple[tuple[str, tuple[float, ...]], ...] = ()

    def alias_of(self, name: str) -> str:
        """The short alias of input ``name`` (the name itself when it has none)."""
        for alias, target in self.aliases.items():
            if target == name:
                return alias
        return name


@dataclass(frozen=True)
class Parent:
    """A scored law selection handed to the proposer to improve on.

    ``error`` is the selection error (lower is better), ``r2`` the validation R²;
    ``folds`` each selection fold's NMSE (fold 0 = the validation slice; None where the
    fold could not be scored), ``failed_checks`` the extrapolation checks it failed,
    ``diagnostics`` where its fold fits miss their bands, ``rationale`` the hypothesis it
    was proposed with. All of it comes from training rows only.
    """

    id: int
    text: str
    error: float
    r2: float
    complexity: int
    folds: tuple[float | None, ...] = ()
    failed_checks: tuple[str, ...] = ()
    diagnostics: ResidualDiagnostics | None = None
    rationale: str = ""


@dataclass(frozen=True)
class ProposalRequest:
    """One call to a proposer: ``count`` new laws for island ``island`` at ``generation``.

    ``failures`` holds recent ``(law text, reason)`` pairs the engine rejected, so a
    proposer that learns (an LLM) can avoid repeating them. ``tried`` holds the canonical
    keys (:attr:`sld.law.Law.key`) of every law this run has fitted, failed to fit or is
    fitting: a proposal with one of them would be a wasted duplicate.
    """

    brief: TaskBrief
    parents: tuple[Parent, ...]
    count: int
    generation: int
    island: int
    seed: int
    failures: tuple[tuple[str, str], ...] = ()
    tried: frozenset[str] = frozenset()

    def rng(self) -> np.random.Generator:
        """The request's own generator: same request, same draws."""
        return np.random.default_rng([self.seed, self.generation, self.island])


@dataclass(frozen=True)
class Proposal:
    """A candidate law text and where it came from.

    ``parents`` are the ids of the parents it was derived from (empty for seeds);
    ``proposer`` names the proposer; ``operator`` the operation that produced it
    (``seed``, ``add_term``, ``crossover``, ``llm``, ...).
    """

    text: str
    parents: tuple[int, ...]
    proposer: str
    operator: str
    rationale: str = ""


@runtime_checkable
class Proposer(Protocol):
    """Anything that turns a request into law texts (possibly fewer than ``count``).

    ``name`` (read-only: a frozen dataclass's field will do) is recorded with each proposal.
    """

    @property
    def name(self) -> str: ...

    async def propose(self, request: ProposalRequest) -> list[Proposal]: ...


SAMPLE_ROWS = 24  # training rows a brief carries for proposers that look at data


def _scale_order(task: Task, x: np.ndarray) -> np.ndarray:
    """Row order by scale: the validation scale's inputs (their product), else the sum of the
    logs of every positive log-scale input, else the first input. ``x``: (rows, inputs)."""
    names = list(task.card.scale_inputs) or [
        n for j, n in enumerate(task.inputs) if task.log_scale.get(n) and np.all(x[:, j] > 0)
    ]
    columns = [task.inputs.index(n) for n in names if n in task.inputs]
    if not columns:
        return np.argsort(x[:, 0], kind="stable")
    with np.errstate(all="ignore"):
        key = np.sum(np.log(np.abs(x[:, columns]) + 1e-300), axis=1)
    return np.argsort(key, kind="stable")


def training_sample(
    task: Task, *, rows: int = SAMPLE_ROWS
) -> tuple[tuple[str, tuple[float, ...]], ...]:
    """Up to ``rows`` training rows, stratified: groups evenly spread over the sorted group
    names (every group when each can get at least three rows), and within a group rows evenly
    spaced along the scale order, smallest and largest included. Deterministic; never a
    held-out row."""
    train = task.train()
    present = [g for g, x in zip(train.groups, train.X, strict=True) if len(x)]
    if not present or rows < 1:
        return ()
    shown = min(len(present), max(1, rows // 3))
    picked = [present[int(i)] for i in np.unique(np.linspace(0, len(present) - 1, shown).round())]
    per_group = max(1, rows // len(picked))
    out = []
    for group, x, y in zip(train.groups, train.X, train.y, strict=True):
        if group not in picked:
            continue
        order = _scale_order(task, x)
        take = np.unique(np.linspace(0, len(order) - 1, min(per_group, len(order))).round())
        for i in order[take.astype(int)]:
            out.append((group, tuple(float(v) for v in (*x[i], *y[i]))))
    return tuple(out[:rows])


DEFAULT_PARAMS_PER_OUTPUT = 10  # a proposal's parameter limit where the task sets none


def fold_limit(task: Task) -> int | None:
    """The most parameters a law can have and still be ranked by the validation fold: one
    fewer per output than the fewest rows any group fits on in fold 0 (with as many
    parameters as rows an expression passes through every row, and its prediction one band
    up is whatever the optimizer's path left). Later folds fit on fewer rows and only add
    evidence. None when fold 0 has no fit rows."""
    folds = task.folds()
    rows = [len(x) for x in folds[0].fit.X if len(x)] if folds else []
    return len(task.outputs) * max(min(rows) - 1, 1) if rows else None


def brief_limit(task: Task) -> int | None:
    """The parameter limit a proposer is given: the task's (None: ``DEFAULT_PARAMS_PER_OUTPUT``
    per output), lowered to :func:`fold_limit` on a sweep too small for it."""
    folds = fold_limit(task)
    asked = task.max_params or DEFAULT_PARAMS_PER_OUTPUT * len(task.outputs)
    return task.max_params if folds is None or folds >= asked else folds


def task_brief(task: Task) -> TaskBrief:
    """What a proposer may know about ``task``: names, units, training ranges, a stratified
    sample of training rows; never held-out rows. Its ``max_params`` is :func:`brief_limit`."""
    train = task.train()
    ranges: dict[str, tuple[float, float]] = {}
    for j, name in enumerate(task.inputs):
        columns = [x[:, j] for x in train.X if len(x)]
        if columns:
            values = np.concatenate(columns)
            ranges[name] = (float(values.min()), float(values.max()))
    card = task.card
    return TaskBrief(
        name=task.name,
        inputs=tuple(task.inputs),
        aliases=dict(task.aliases),
        outputs=tuple(task.outputs),
        log_scale=dict(task.log_scale),
        max_params=brief_limit(task),
        description=card.description,
        units={v.name: v.unit for v in card.inputs},
        ranges=ranges,
        sample=training_sample(task),
    )
