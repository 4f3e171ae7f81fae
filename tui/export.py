"""Export a law next to its run: best_law.tex, best_law.py and best_law.json."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sld.law import Law

EXPORT_STEM = "best_law"


def _finite(value: Any) -> Any:
    return value if not isinstance(value, float) or math.isfinite(value) else None


def export_law(
    run_dir: Path,
    *,
    law: Law,
    candidate_id: int,
    task: str,
    validation: Mapping[str, Any] | None,
    parameters: Mapping[str, Mapping[str, float]],
    heldout: Mapping[str, Any] | None,
) -> list[Path]:
    """Write the three files into ``run_dir``; returns their paths. Raises OSError when not writable.

    ``parameters`` are the search fit's (what selection saw); ``heldout`` is a
    held-out ScoreReport dump computed after selection, or None.
    """
    tex = run_dir / f"{EXPORT_STEM}.tex"
    py = run_dir / f"{EXPORT_STEM}.py"
    js = run_dir / f"{EXPORT_STEM}.json"
    tex.write_text(
        f"% {task}: candidate #{candidate_id}, chosen on validation error\n"
        f"% {law.text}\n"
        "\\begin{equation}\n"
        f"{law.latex()}\n"
        "\\end{equation}\n"
    )
    table = json.dumps({g: dict(v) for g, v in parameters.items()}, indent=4, sort_keys=True)
    py.write_text(
        f'"""{task}: candidate #{candidate_id}, exported by sld tui."""\n\n'
        + law.python()
        + "\n\n# Parameters per group from the search fit (training rows minus the validation slice).\n"
        + f"PARAMETERS = {table}\n"
    )
    metrics = (validation or {}).get("metrics") or {}
    held = (heldout or {}).get("metrics") or {}
    record = {
        "task": task,
        "candidate_id": candidate_id,
        "law": law.text,
        "key": law.key,
        "complexity": law.complexity,
        "parameters": list(law.parameters),
        "latex": law.latex(),
        "fitted_parameters": {g: dict(v) for g, v in parameters.items()},
        "validation": {k: _finite(v) for k, v in metrics.items()},
        "heldout_after_selection": {k: _finite(v) for k, v in held.items()} or None,
    }
    js.write_text(json.dumps(record, indent=2, allow_nan=False, default=str) + "\n")
    return [tex, py, js]
