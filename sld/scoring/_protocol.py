"""The selection protocol a run's scores were made under, so a resume can tell whether its
stored scores still compare with the ones it would make now.

A stored selection score is a function of the law, the fit settings (in the run's config)
and three things the config does not pin down: the folds the task builds from its training
rows, the extrapolation checks' settings (directions, probes, tolerance), and the rule that
turns fold errors into fitness. Any of these may change under a run between a kill and its
resume: a newer sld builds folds differently, a curated card gains a direction, a data file
is edited. Scores from before and after would then rank side by side as if they were one
measurement. :func:`selection_protocol` summarises all three as plain JSON::

    {"rule": SELECTION_RULE, "kind": "scale" | "random",
     "folds": [{"index", "fit_rows", "score_rows"}, ...],
     "rows": sha256 over every fold's fit and score rows (groups, inputs, outputs),
     "monotone": {input: ±1}, "probe", "monotone_probe", "tolerance", "demotion"}

``SELECTION_RULE`` counts changes to the aggregate or the fitness formula
(:mod:`sld.scoring._selection`) that leave the other fields alone; bump it with such a
change. Only training rows are read, never ``task.heldout()``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from sld.corpus import Split, Task

from ._checks import MONOTONE_TOLERANCE
from ._selection import DEMOTION

SELECTION_RULE = 1


def _digest_split(h: Any, split: Split) -> None:
    for group, x_g, y_g in zip(split.groups, split.X, split.y, strict=True):
        h.update(group.encode())
        h.update(b"\x1f")
        h.update(np.ascontiguousarray(x_g, dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(y_g, dtype=np.float64).tobytes())
        h.update(b"\x1e")


def selection_protocol(task: Task) -> dict[str, Any]:
    """What decides ``task``'s selection scores beyond the run's config (see module doc);
    equal dicts mean a stored score and a new one measure the same thing."""
    folds = task.folds()
    h = hashlib.sha256()
    h.update("\x1f".join(task.inputs + ("->",) + task.outputs).encode())
    for fold in folds:
        h.update(f"fold {fold.index}".encode())
        _digest_split(h, fold.fit)
        h.update(b"score")
        _digest_split(h, fold.score)
    validation = task.card.validation
    return {
        "rule": SELECTION_RULE,
        "kind": folds[0].kind if folds else None,
        "folds": [
            {"index": f.index, "fit_rows": f.fit.n_rows, "score_rows": f.score.n_rows}
            for f in folds
        ],
        "rows": h.hexdigest(),
        "monotone": dict(sorted(task.monotone.items())),
        "probe": float(validation.probe),
        "monotone_probe": float(validation.monotone_probe),
        "tolerance": MONOTONE_TOLERANCE,
        "demotion": DEMOTION,
    }


_PHRASES = {
    "rule": "the selection rule",
    "kind": "the kind of folds",
    "folds": "the folds",
    "rows": "the fold rows",
    "monotone": "the monotone directions",
    "probe": "the checks' probe",
    "monotone_probe": "the directions' probe",
    "tolerance": "the checks' tolerance",
    "demotion": "the demotion",
}
_SHOWN = ("folds", "monotone", "probe", "monotone_probe")  # small enough to print both sides


def protocol_change(stored: dict[str, Any], now: dict[str, Any]) -> str | None:
    """A short phrase naming the first field, in :func:`selection_protocol`'s order, that
    differs between two of its dicts (None when they are equal), for a one-line error."""
    keys = [*now, *(k for k in stored if k not in now)]
    first = next((k for k in keys if stored.get(k) != now.get(k)), None)
    if first is None:
        return None
    phrase = _PHRASES.get(first, first)
    if first in _SHOWN:
        phrase += f" (stored {stored.get(first)}, now {now.get(first)})"
    return phrase
