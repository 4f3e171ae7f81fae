"""Start laws: the user's own laws, proposed first so the search competes with them.

A researcher usually has a law already (the Chinchilla form, last paper's fit). Given as
``start_laws`` in a run's config (``--start`` on the command line), each is proposed in
generation 0 ahead of the proposer's laws, on islands in turn, with proposer and operator
:data:`NAME`. From there it is a candidate like any other: fitted on the same folds, ranked
by the same fitness, bred from, and in the final pick when it ranks there. Two things
differ, both so that the user hears about their law: the cheap screen never drops it (it
gets the full selection fit), and the report scores it on held-out rows beside the chosen
law (:mod:`sld.report`). The word ``reference`` stands for the task's reference law, so a
bench can start every task from its own human law; a run records the laws themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

from sld.corpus import Task
from sld.errors import ConfigError, ParseError
from sld.proposer import Proposal
from sld.scoring import parse_for_task

NAME = "start"
REFERENCE = "reference"  # stands for the task's reference law; no law is this word alone


def start_proposals(laws: Sequence[str], *, islands: int) -> list[tuple[int, Proposal]]:
    """``(island, proposal)`` for each start law in order; law ``i`` goes to island
    ``i mod islands``."""
    return [
        (i % islands, Proposal(text=text, parents=(), proposer=NAME, operator=NAME))
        for i, text in enumerate(laws)
    ]


def start_laws_for(laws: Sequence[str], task: Task, *, max_params: int | None) -> list[str]:
    """``laws`` as a run on ``task`` starts from them: the word :data:`REFERENCE` replaced by the
    task's reference law (a curated task's human law, or a card's ``reference_law``), each
    parsed against the task. The first that cannot be used raises one ConfigError line naming
    it by number and text, with the parser's reason and fix."""
    out = []
    for n, text in enumerate(laws, start=1):
        if text.strip() == REFERENCE:
            if not task.reference_law:
                raise ConfigError(
                    f"start law {n} is {REFERENCE!r}, but task {task.name} has no reference law; "
                    "give the law itself (or a reference_law in the data's card)"
                )
            text = task.reference_law
        try:
            parse_for_task(text, task, max_params=max_params)
        except ParseError as exc:
            reason = str(exc).removeprefix("law: ")
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise ConfigError(
                f"start law {n} ({shown!r}) does not fit task {task.name}: {reason}"
            ) from None
        out.append(text)
    return out
