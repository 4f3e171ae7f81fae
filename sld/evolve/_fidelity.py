"""The search's two fidelity steps around the full selection fit: a cheap screen before it,
a confirming re-fit after it.

Screening (successive halving, one round; :func:`screen`). With ``screen_share < 1`` each
generation's new candidates are first fitted cheaply (:func:`sld.scoring.screen_scores`:
few restarts and iterations, a row subsample, fold 0 only) and only the
``ceil(screen_share * n)`` best by screen error go on to the full selection fit. The
engine writes the screened-out ones at once, in one transaction with the ``SCREENED``
state (the generation whose screen is on record), as fitted with their screen fit (its
fidelity recorded) and an infinite selection error, so they never enter the population
and never become the best law; a resumed run neither re-screens nor refits them. The
screen only chooses who is promoted: a promoted law's full fit starts from scratch, so
its selection score is exactly what it would be without screening.

Width (:func:`screen_width`, :func:`generation_width`). A screen fit's cost is bounded (its
rows are capped per group) while a full fit's grows with the rows. Where the cap bites, a
full fit costs that many more screens, so such a generation proposes and screens
``width`` times ``proposals_per_island`` an island and promotes ``screen_share / width`` of
them: as many full fits as before, for a small share more of its time. The width is a
function of the task's rows alone, so it never depends on timing.

Confirmation (:func:`confirm_leaders`, :func:`confirm`). A search fit has ``restarts``
restarts; on some laws it stops in a local optimum of the training loss that happens to
score better on the fold bands than the law's best fit does, and such a *lucky* law then
leads the population and breeds a family of variants, all lucky the same way (measured:
50 of the 400 laws in 40 bench runs' final-pick pools scored over 10 % worse when the
pick re-fitted them with ``final_restarts``; one run's whole pool was such a family). So
the ``confirm_top`` best of the population are always confirmed laws: a new law is
re-fitted at ``final_restarts`` before it is recorded when its fitness ranks among the
``confirm_top`` best of the population's leaders (as the generation began) and its
chunk, and that fit's score is its score (the report says ``confirmed``, with the error
it had before). Ranks are re-read after each round of re-fits, since a confirmed law may
fall and let an unconfirmed one up, until the top holds no unconfirmed new law; a law
that better new laws keep out of the top is not re-fitted (on the largest curated task, 6
generations: 13 re-fits instead of 20). The leaders are the population's at the start of
the generation and a chunk is recorded in one transaction, so a resumed run confirms the
same laws.

Both steps are pure given their inputs (seeded fits, no timing), so a seed fixes who is
screened out and who is confirmed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from typing import Any

from sld.config import RunConfig
from sld.corpus import Task
from sld.errors import SldError
from sld.evolve._members import validation_error
from sld.evolve.population import Population
from sld.fit import SCREEN
from sld.law import Law
from sld.scoring import ScoreReport, screen_promoted, screen_scores, selection_scores

MAX_WIDTH = 4  # the widest screen measured (README, "Screening")
SCREENED = "screened"  # state key: the last generation whose screen is on record
SCREEN_KEY = "screen"  # score report key of a screened-out candidate
CONFIRMED_KEY = "confirmed"  # score report key of a law re-fitted at final_restarts


@dataclass(frozen=True)
class Screen:
    """One generation's screen of n laws (see :func:`screen`).

    ``reports[i]``: law i's screen report; ``errors[i]``: its screen error (fold 0's NMSE,
    inf when unscored); ``ranks[i]``: its place in ``errors`` sorted ascending (0 best, ties
    in input order); ``promoted``: the indices that go on to the full fit, ascending;
    ``share``: the share promoted.
    """

    reports: tuple[ScoreReport, ...]
    errors: tuple[float, ...]
    ranks: tuple[int, ...]
    promoted: tuple[int, ...]
    share: float

    @property
    def dropped(self) -> list[int]:
        """Indices of the screened-out laws, ascending."""
        keep = set(self.promoted)
        return [i for i in range(len(self.errors)) if i not in keep]

    def record(self, i: int) -> dict[str, Any]:
        """Keyword arguments for :meth:`sld.store.RunStore.record_fit_and_score` (after the
        candidate id) that write screened-out law ``i``: its screen fit, NaN metrics, an
        infinite selection error, and its screen report with ``SCREEN_KEY`` =
        ``{rank, of, share, error}``."""
        report, n = self.reports[i], len(self.errors)
        screen = {"rank": self.ranks[i], "of": n, "share": self.share, "error": self.errors[i]}
        return dict(
            fit=report.fit.model_dump(mode="json"),
            train_loss=report.fit.train_loss,
            ok=report.fit.ok,
            seconds=report.seconds["total"],
            reason=f"screened out (screen rank {self.ranks[i] + 1} of {n})",
            r2=math.nan,
            nmse=math.nan,
            nmae=math.nan,
            error=math.inf,
            report={**report.model_dump(mode="json", exclude={"fit"}), SCREEN_KEY: screen},
        )


def screen(laws: Sequence[Law], task: Task, *, seed: int, share: float) -> Screen | None:
    """Screen ``laws`` (one batched :func:`sld.scoring.screen_scores` call) and promote the
    ``ceil(share * n)`` best (:func:`sld.scoring.screen_promoted`).

    None when nothing is screened: ``share >= 1``, no laws, or a batch the screen fit
    refuses outright (then everyone is promoted and the full fit decides).
    """
    if share >= 1.0 or not laws:
        return None
    try:
        reports = screen_scores(laws, task, seed=seed)
    except SldError:
        return None
    errors = [r.selection_error if r.selection_error is not None else math.inf for r in reports]
    order = sorted(range(len(errors)), key=lambda i: errors[i])
    ranks = [0] * len(errors)
    for rank, i in enumerate(order):
        ranks[i] = rank
    return Screen(
        reports=tuple(reports),
        errors=tuple(errors),
        ranks=tuple(ranks),
        promoted=tuple(screen_promoted(errors, share=share)),
        share=share,
    )


def screen_width(
    task: Task, *, max_rows: int | None = SCREEN.max_rows, cap: int = MAX_WIDTH
) -> int:
    """How much wider than usual a screening generation is on ``task``:
    ``floor(R / S)`` clipped to ``[1, cap]``, where ``R = Σ_g R_g`` counts fold 0's fit rows
    over the groups and ``S = Σ_g min(R_g, max_rows)`` the rows the screen fits of them.

    1 where no group holds more than ``max_rows`` rows (or ``max_rows`` is None).
    """
    rows = [len(x) for x in task.folds()[0].fit.X]
    if max_rows is None or not rows:
        return 1
    screened = sum(min(r, max_rows) for r in rows)
    if screened == 0:
        return 1
    return max(1, min(cap, sum(rows) // screened))


def generation_width(config: RunConfig, task: Task) -> int:
    """The width a run uses (see the module docstring): 1 without screening
    (``screen_share`` 1); else ``config.screen_width`` when set; else
    :func:`screen_width` for the offline proposer and 1 for proposers that ask an LLM (a
    wider request would cost tokens on every call)."""
    if config.screen_share >= 1.0:
        return 1
    if config.screen_width is not None:
        return config.screen_width
    return screen_width(task) if config.proposer == "offline" else 1


def confirm_leaders(population: Population, *, top: int) -> tuple[float, ...]:
    """The fitness of the ``top`` best unfailed members of ``population``, ascending (fewer
    while it holds fewer; none when ``top`` is 0): the ranks a new law must reach to be
    confirmed (:func:`confirm`)."""
    ranked = sorted(population.fitness(m) for m in population.members() if not m.failed)
    return tuple(ranked[:top])


def to_confirm(
    fitness: Sequence[float], *, leaders: Sequence[float], top: int, confirmed: Set[int]
) -> list[int]:
    """The new laws, by index into ``fitness``, that rank among the ``top`` best of
    ``leaders`` and ``fitness`` together and are not in ``confirmed``, ascending.

    A tie between a leader and a new law ranks the new law first (it is confirmed); a law
    with infinite fitness (failed) is never chosen.
    """
    pool = sorted(
        [(f, 1, j) for j, f in enumerate(leaders)] + [(f, 0, i) for i, f in enumerate(fitness)]
    )[:top]
    return sorted(i for f, new, i in pool if new == 0 and i not in confirmed and f < math.inf)


def confirm(
    laws: Sequence[Law],
    reports: Sequence[ScoreReport],
    *,
    fitness: Callable[[int, ScoreReport], float],
    leaders: Sequence[float],
    top: int,
    task: Task,
    seed: int,
    restarts: int,
    narrow: int = 0,
) -> tuple[list[ScoreReport], list[dict[str, Any] | None]]:
    """Re-fit at ``restarts`` (and ``narrow``: :class:`sld.fit.Fidelity`) the new laws that
    rank among the ``top`` best (:func:`to_confirm`) until none that ranks there is
    unconfirmed.

    ``reports[i]`` is law i's search score report and ``fitness(i, report)`` its fitness in
    the population with that report (inf for a failed law, so a failed law is never
    confirmed). Each round scores its laws by one :func:`sld.scoring.selection_scores` call
    at ``seed``, ``restarts`` and ``narrow``, in input order, and ranks are re-read with the
    new scores. Returns the reports with each confirmed law's replaced by its re-fit's, and
    per law the extra report keys: ``{CONFIRMED_KEY: {"restarts", "narrow", "error_before"}}``
    for a confirmed law, else None. A re-fit the fitter refuses outright leaves the search
    reports (confirmation is a second opinion) and ends the rounds.
    """
    out = list(reports)
    extras: list[dict[str, Any] | None] = [None] * len(out)
    current = [fitness(i, r) for i, r in enumerate(out)]
    done: set[int] = set()
    while chosen := to_confirm(current, leaders=leaders, top=top, confirmed=done):
        try:
            again = selection_scores(
                [laws[i] for i in chosen], task, seed=seed, restarts=restarts, narrow=narrow
            )
        except SldError:
            break
        for i, report in zip(chosen, again, strict=True):
            before = validation_error(out[i])[0]
            confirmed = {"restarts": restarts, "narrow": narrow, "error_before": before}
            extras[i] = {CONFIRMED_KEY: confirmed}
            out[i] = report
            current[i] = fitness(i, report)
            done.add(i)
    return out, extras
