"""Where the curated corpus, the prompt templates and the Textual app live.

From a source checkout (editable install) they sit at the repository root
(``datasets/``, ``prompts/``, ``tui/``); a wheel carries them inside the
package (``sld/_data/...``, ``sld/tui``), so it installs no top-level ``tui``.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"sld's {name}/ folder is missing; reinstall sld")


def datasets_dir() -> Path:
    """The folder holding one sub-folder per curated task."""
    return _data_dir("datasets")


def prompts_dir() -> Path:
    """The folder holding the LLM prompt templates."""
    return _data_dir("prompts")


class _CheckoutTui(importlib.abc.MetaPathFinder):
    """Finds ``sld.tui`` at the repository root of a source checkout (``tui/``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> ModuleSpec | None:
        if fullname != "sld.tui":
            return None
        return importlib.util.spec_from_file_location(
            fullname, self.folder / "__init__.py", submodule_search_locations=[str(self.folder)]
        )


def map_checkout_tui() -> None:
    """Let ``import sld.tui`` find ``tui/`` in a source checkout, as a wheel's ``sld/tui`` would.

    hatch cannot map a folder to another package path in an editable install, so
    a checkout gets this finder instead; an installed wheel has ``sld/tui`` and
    needs nothing.
    """
    folder = _PACKAGE.parent / "tui"
    if (_PACKAGE / "tui").is_dir() or not (folder / "__init__.py").is_file():
        return
    if not any(isinstance(finder, _CheckoutTui) for finder in sys.meta_path):
        sys.meta_path.append(_CheckoutTui(folder))
