"""The Laws tab's table: one row per candidate law, sortable, with the law column taking the rest."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from sld.tui.view import LawRow, number

# (sort key, header label); the table's columns in order after the mark
COLUMNS = (
    ("id", "#"),
    ("law", "law"),
    ("complexity", "cx"),
    ("params", "k"),
    ("r2", "val R²"),
    ("heldout", "held-out"),
    ("proposer", "proposer"),
    ("island", "isl"),
    ("generation", "gen"),
)
FIXED_WIDTHS = {"id": 4, "complexity": 3, "params": 2, "r2": 6, "heldout": 8, "proposer": 8}
FIXED_WIDTHS |= {"island": 3, "generation": 3}


class LawTable(DataTable[Any]):
    """The population table; :meth:`show` redraws it only when what it shows changed.

    ``sort_column`` and ``sort_reverse`` only label the headers (an arrow on the
    sort column): the app sorts and filters the rows it hands over.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.sort_column = "r2"
        self.sort_reverse = True
        self._signature: tuple[Any, ...] = ()
        self._built_law_width = 0

    def law_width(self) -> int:
        """Characters left for the law column once every other column has its width."""
        available = self.size.width or self.app.size.width
        others = sum(
            max(FIXED_WIDTHS[key], len(self.header(key, label)))
            for key, label in COLUMNS
            if key != "law"
        )
        return max(16, available - others - 1 - 2 * (len(COLUMNS) + 1) - 2)  # mark, padding, bar

    def header(self, key: str, label: str) -> str:
        """A column label, with an arrow on the sort column."""
        if key != self.sort_column:
            return label
        return label + (" ▼" if self.sort_reverse else " ▲")

    def build_columns(self) -> None:
        """(Re)make the columns for the current sort and width."""
        self._built_law_width = law_width = self.law_width()
        self.clear(columns=True)
        self.add_column(" ", key="mark", width=1)
        for key, label in COLUMNS:
            shown = self.header(key, label)
            width = law_width if key == "law" else max(FIXED_WIDTHS[key], len(shown))
            self.add_column(shown, key=key, width=width)

    def show(self, rows: Sequence[LawRow], *, selected_id: int | None, force: bool = False) -> bool:
        """Draw ``rows`` in order, cursor on ``selected_id``; False (and nothing drawn) if unchanged."""
        law_width = self.law_width()
        signature = (
            tuple(dataclasses.astuple(r) for r in rows),
            self.sort_column,
            self.sort_reverse,
            law_width,
        )
        if signature == self._signature and not force:
            return False
        self._signature = signature
        with self.prevent(DataTable.RowHighlighted):
            if force or law_width != self._built_law_width:
                self.build_columns()
            else:
                self.clear()
            for r in rows:
                text = r.text if len(r.text) <= law_width else r.text[: law_width - 1] + "…"
                self.add_row(
                    Text(r.mark, style="bold yellow" if r.chosen else "cyan"),
                    str(r.id),
                    text,
                    "" if r.complexity is None else str(r.complexity),
                    "" if r.n_params is None else str(r.n_params),
                    Text(number(r.r2), justify="right"),
                    Text(number(r.heldout_r2), justify="right", style="italic"),
                    r.proposer,
                    str(r.island),
                    str(r.generation),
                    key=str(r.id),
                )
            ids = [r.id for r in rows]
            if selected_id in ids:
                self.move_cursor(row=ids.index(selected_id), scroll=True)
        return True
