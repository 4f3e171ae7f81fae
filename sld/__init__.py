"""sld: agentic scaling-law discovery.

Public names are re-exported here lazily, so ``sld tasks`` never pays for
importing JAX.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sld._version import __version__ as __version__
from sld.resources import map_checkout_tui

map_checkout_tui()  # a source checkout keeps the TUI at its root; import it as sld.tui

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
    "score": "sld.scoring",
    "ScoreReport": "sld.scoring",
    "LawModel": "sld.estimator",
    "read_run": "sld.report",
    "RunConfig": "sld.config",
    "Run": "sld.run",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover
    from sld.config import RunConfig as RunConfig
    from sld.corpus import Task as Task
    from sld.corpus import list_tasks as list_tasks
    from sld.corpus import load_task as load_task
    from sld.errors import ConfigError as ConfigError
    from sld.errors import FitError as FitError
    from sld.errors import ParseError as ParseError
    from sld.errors import SldError as SldError
    from sld.errors import StoreError as StoreError
    from sld.errors import TaskError as TaskError
    from sld.estimator import LawModel as LawModel
    from sld.fit import FitResult as FitResult
    from sld.fit import fit_law as fit_law
    from sld.law import Law as Law
    from sld.law import parse_law as parse_law
    from sld.report import read_run as read_run
    from sld.run import Run as Run
    from sld.scoring import ScoreReport as ScoreReport
    from sld.scoring import score as score


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sld' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
