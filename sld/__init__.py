"""sld: agentic scaling-law discovery.

Public names are re-exported here lazily, so ``sld tasks`` never pays for
importing JAX.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "SldError": "sld.errors",
    "TaskError": "sld.errors",
    "ParseError": "sld.errors",
    "FitError": "sld.errors",
    "ConfigError": "sld.errors",
    "StoreError": "sld.errors",
    "list_tasks": "sld.corpus",
    "load_task": "sld.corpus",
    "Task": "sld.corpus",
    "parse_law": "sld.law",
    "Law": "sld.law",
    "fit_law": "sld.fit",
    "FitResult": "sld.fit",
    "score": "sld.score",
    "ScoreReport": "sld.score",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover
    from sld.corpus import Task, list_tasks, load_task
    from sld.errors import ConfigError, FitError, ParseError, SldError, StoreError, TaskError
    from sld.fit import FitResult, fit_law
    from sld.law import Law, parse_law
    from sld.score import ScoreReport, score


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sld' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
