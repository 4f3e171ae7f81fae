"""The final pick's plausible laws (step 5 of :mod:`sld.scoring._pick`) and the choice
among them (step 6).

A law is *plausible* when the folds cannot tell it from the leader: it was resampled,
has the leader's check outcome, its point error lies inside the leader's error bar and
its bound within one leader's spread of the leader's (the module docstring of
:mod:`sld.scoring._pick` gives the inequalities). Step 5 orders them by parameter count;
step 6 may choose another of them by a measure of its extrapolation, read from training
inputs only: the least drift as the folds add rows (:mod:`sld.scoring._steady`) or, when
asked, the nearest to their median extrapolation (:mod:`sld.scoring._consensus`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sld.corpus import Task
from sld.law import Law

from ._consensus import consensus_distances
from ._reports import CheckReport
from ._steady import extrapolation_drift

CONSENSUS_LAWS = 3  # plausible laws the consensus needs (step 6): two have no median apart
STEADY_LAWS = 2  # plausible laws the steadiness compares (step 6)


class _Ranked(Protocol):  # what plausibility reads of a PickEntry
    @property
    def bound(self) -> float | None: ...
    @property
    def error(self) -> float: ...
    @property
    def fitness(self) -> float: ...
    @property
    def checks(self) -> CheckReport | None: ...


def plausible_laws(entries: Sequence[_Ranked], order: Sequence[int]) -> list[int]:
    """The plausible laws as indices into ``entries``, in ``order`` (the leader,
    ``order[0]``, first and always among them)."""
    top = entries[order[0]]
    bound = top.bound if top.bound is not None else top.error
    spread = bound / top.error if top.error > 0 else 1.0

    def demoted(e: _Ranked) -> bool:
        return e.checks is not None and not e.checks.passed

    return [order[0]] + [
        i
        for i in order[1:]
        if (other := entries[i]).bound is not None
        and math.isfinite(other.fitness)
        and other.error <= bound
        and other.bound <= bound * spread
        and demoted(other) == demoted(top)
    ]


@dataclass(frozen=True)
class Choice:
    """Step 6's answer: ``index`` into the laws given (0: step 5's law stands), every
    law's measure (empty when none was taken), and how the chosen law is described."""

    index: int
    values: list[float]
    says: str = ""
    noun: str = ""


def choose_among(
    laws: Sequence[Law],
    task: Task,
    *,
    consensus: bool,
    steady: bool,
    seed: int,
    restarts: int,
    relative: bool = False,
    narrow: int = 0,
) -> Choice:
    """Step 6 among ``laws``, the plausible laws in step 5's order (fewest parameters
    first): with ``consensus`` and at least :data:`CONSENSUS_LAWS`, the law nearest their
    median extrapolation; else with ``steady`` and at least :data:`STEADY_LAWS`, the law
    of least drift (with ``relative``, of least relative drift:
    :func:`sld.scoring._steady.extrapolation_drift`); ties and no finite measure leave
    step 5's law (index 0). ``narrow``: every fit's (:class:`sld.fit.Fidelity`)."""
    probe = task.card.validation.probe
    if consensus and len(laws) >= CONSENSUS_LAWS:
        noun, says = "distance", "nearest ({:.3g} std) the median extrapolation"
        values = consensus_distances(
            laws, task, seed=seed, restarts=restarts, probe=probe, narrow=narrow
        )
    elif steady and len(laws) >= STEADY_LAWS:
        measured = "relative drift {:.3g}" if relative else "drift {:.3g} std"
        noun, says = "drift", "steadiest extrapolation (" + measured + " as the folds add rows)"
        values = extrapolation_drift(
            laws,
            task,
            seed=seed,
            restarts=restarts,
            probe=probe,
            relative=relative,
            narrow=narrow,
        )
    else:
        return Choice(0, [])
    k = min(range(len(laws)), key=lambda k: values[k])  # ties: step 5's order
    if not math.isfinite(values[k]) or k == 0:
        return Choice(0, values)
    return Choice(k, values, says.format(values[k]), noun)
