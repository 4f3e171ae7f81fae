"""Where the curated corpus and the prompt templates live.

From a source checkout (editable install) they sit at the repository root; a
wheel carries them inside the package under ``sld/_data``.
"""

from __future__ import annotations

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
