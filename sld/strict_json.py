"""Strict JSON for everything sld writes for other programs (``--json``, ``report.json``).

JSON has no NaN or infinity; Python's ``json`` writes them anyway (``NaN``,
``Infinity``), and strict parsers reject the file. :func:`dumps` writes each
non-finite number as ``null`` and, in a top-level mapping, lists where it was
and what it was under ``"non_finite"`` (``{"heldout.chosen.bootstrap_95.0": "nan"}``),
so a reader can tell "missing" from "not a number".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

NON_FINITE_KEY = "non_finite"


def finite(value: Any, *, path: str = "", found: dict[str, str] | None = None) -> Any:
    """A copy of ``value`` (mappings, lists, tuples, scalars) with non-finite floats as None.

    Each replaced number is recorded in ``found`` as ``{dotted path: "nan" | "inf" | "-inf"}``.
    """
    if isinstance(value, float) and not math.isfinite(value):
        if found is not None:
            found[path or "."] = str(value)
        return None
    if isinstance(value, Mapping):
        return {
            k: finite(v, path=f"{path}.{k}" if path else str(k), found=found)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [
            finite(v, path=f"{path}.{i}" if path else str(i), found=found)
            for i, v in enumerate(value)
        ]
    return value


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """``value`` as strict JSON text (``allow_nan=False``); see the module docstring.

    Objects JSON cannot hold (paths, dates) are written as their ``str``.
    """
    found: dict[str, str] = {}
    clean = finite(value, found=found)
    if found and isinstance(clean, dict):
        clean = {**clean, NON_FINITE_KEY: found}
    return json.dumps(clean, indent=indent, allow_nan=False, default=str)
