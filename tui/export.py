"""Export a law next to its run: best_law.tex, best_law.py and best_law.json.

The texts come from :func:`sld.law.law_export`, the same that ``sld export`` prints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sld.law import Law, law_export

EXPORT_STEM = "best_law"
SEARCH_FIT = "the training rows minus the validation slice (the search fit)"


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
    metrics = (validation or {}).get("metrics") or {}
    held = (heldout or {}).get("metrics") or {}
    facts = {
        "task": task,
        "candidate_id": candidate_id,
        "validation": {k: _finite(v) for k, v in metrics.items()},
        "heldout_after_selection": {k: _finite(v) for k, v in held.items()} or None,
    }
    title = f"{task}: candidate #{candidate_id}, chosen on validation error"
    paths = []
    for form, suffix in (("latex", ".tex"), ("python", ".py"), ("json", ".json")):
        path = run_dir / f"{EXPORT_STEM}{suffix}"
        path.write_text(
            law_export(
                law,
                form,  # type: ignore[arg-type]
                title=title,
                parameters=parameters,
                parameters_from=SEARCH_FIT,
                facts=facts,
            )
        )
        paths.append(path)
    return paths
