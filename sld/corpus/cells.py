"""What one cell of a data file holds: a finite number, a number with a size suffix, or nothing.

Sweep exports write numbers in three ways this module reads, and one it refuses:

- plain numbers, parsed with Python's ``float`` so values written with ``repr`` round-trip;
- sizes with a suffix, as model names write them (``70M``, ``1.4B``, ``300G``, ``2T``, ``500k``):
  the number times :data:`SUFFIXES` of the letter, either case;
- nothing (an empty cell, ``NaN``, ``NA``, ``null``, ...), which a run that crashed or was still
  running leaves: :data:`MISSING`, for the reader to skip the row or refuse it;
- anything else (``lots``, ``inf``) is a one-line TaskError naming the cell.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Final

from sld.errors import TaskError

MISSING_WORDS: Final = frozenset({"nan", "na", "n/a", "null", "none", "-nan", "+nan"})
SUFFIXES: Final = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_SUFFIXED = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([kKmMbBgGtT])")
_IN_RULE = re.compile(r"(?<![\w.])(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?[kKmMbBgGtT](?![\w.])")


class Missing:
    """The value of a cell that holds nothing (its text, for the message)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def read_cell(text: str, *, where: str) -> float | Missing:
    """``text`` as a finite float, or :class:`Missing` when it holds nothing.

    A size suffix multiplies (``1.4B`` -> 1.4e9); ``where`` (``path line 4, column 'N'``) starts
    the one-line TaskError for a cell that is neither a number nor empty.
    """
    cell = text.strip()
    if not cell or cell.lower() in MISSING_WORDS:
        return Missing(cell)
    try:
        value = float(cell)
    except ValueError:
        value = _suffixed(cell, where=where)
    if math.isnan(value):
        return Missing(cell)
    if math.isinf(value):
        raise TaskError(f"{where}: infinite value {cell!r}; only finite numbers are allowed")
    return value


def expand_suffixes(text: str) -> str:
    """``text`` (a rule) with every number written with a size suffix outside quotes
    replaced by the plain number (``N >= 1.4B`` -> ``N >= 1400000000.0``); names that end in
    a digit and a letter (``x1B``) and quoted text (``"7B"``) are left alone."""
    parts = re.split(r"(\"[^\"]*\"|'[^']*')", text)
    return "".join(
        part if i % 2 else _IN_RULE.sub(lambda m: repr(_suffixed(m.group(0), where="")), part)
        for i, part in enumerate(parts)
    )


def is_suffixed(text: str) -> bool:
    """Whether ``text`` is a number written with a size suffix (``70M``)."""
    return _SUFFIXED.fullmatch(text.strip()) is not None


def missing_message(where: str, cell: str) -> str:
    """The one-line error for a cell that holds nothing where a value is required."""
    what = f"missing value {cell!r}" if cell else "empty cell"
    return f"{where}: {what}; fill it in or drop the row"


def _shown(cell: str, *, limit: int = 60) -> str:
    """``cell`` quoted for a message, cut to ``limit`` characters so one line stays one line."""
    return repr(cell if len(cell) <= limit else cell[: limit - 1] + "…")


def _suffixed(cell: str, *, where: str) -> float:
    match = _SUFFIXED.fullmatch(cell)
    if match is None:
        raise TaskError(f"{where}: {_shown(cell)} is not a number; write e.g. 1.5e9 or 1.5B")
    # in decimal, so 1.4B reads as the same float as 1.4e9 (not 1.4 * 1e9, one rounding more)
    return float(Decimal(match.group(1)) * Decimal(int(SUFFIXES[match.group(2).lower()])))
