"""Reading a task's rows into checked arrays, with one-line errors that say where and how to fix.

Four sources give the same :class:`Table`: a CSV file (comma, semicolon or tab separated), a
Parquet file, a JSON file (records, or one record a line) and a pandas DataFrame. Every problem
names the source, the row (in a CSV the 1-based line number as counted in the file, the header
being line 1; otherwise the 0-based row position, as ``iloc`` counts) and the column. What a cell
may hold is :mod:`sld.corpus.cells`; how each format is read, :mod:`sld.corpus.files`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sld.corpus.cells import Missing, is_suffixed, missing_message, read_cell
from sld.corpus.files import (
    JSON_SUFFIXES,
    PARQUET_SUFFIXES,
    check_header,
    read_json,
    read_parquet,
    read_rows,
)
from sld.errors import TaskError

SPLIT_COLUMN = "split"
SPLIT_VALUES = ("train", "test")


@dataclass(frozen=True)
class Table:
    """The checked content of one CSV, Parquet file or DataFrame.

    ``values``: column name -> float64 array (n_rows,) for every requested numeric column;
    ``groups``: (n_rows,) str array (all ``"all"`` when the file has no group column);
    ``split``: (n_rows,) str array of ``train``/``test``, or None when the file has no split column;
    ``lines``: (n_rows,) where each row is: its 1-based line in a CSV, else its 0-based position;
    ``row_word``: ``"line"`` for a CSV, ``"row"`` otherwise;
    ``text``: column name -> (n_rows,) str array for every requested text column;
    ``skipped``: (line, column, cell) of each row left out because a numeric column held
    nothing there (only when the reader was asked to skip such rows), the line as ``lines``;
    ``suffixed``: column -> (line, cell) of its first number written with a size suffix.
    """

    path: Path | str
    values: dict[str, np.ndarray]
    groups: np.ndarray
    split: np.ndarray | None
    lines: np.ndarray
    row_word: str = "line"
    text: dict[str, np.ndarray] = field(default_factory=dict)
    skipped: tuple[tuple[int, str, str], ...] = ()
    suffixed: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.lines)

    def take(self, keep: np.ndarray) -> Table:
        """The rows where the bool mask ``keep`` is true, each still named by its own line."""
        return replace(
            self,
            values={n: v[keep] for n, v in self.values.items()},
            groups=self.groups[keep],
            split=None if self.split is None else self.split[keep],
            lines=self.lines[keep],
            text={n: v[keep] for n, v in self.text.items()},
        )

    def row(self, index: int) -> str:
        """Where row ``index`` is, for a message: ``line 7`` (CSV) or ``row 5`` (frame)."""
        return f"{self.row_word} {int(self.lines[index])}"


def read_table(
    path: Path,
    *,
    numeric: Sequence[str],
    group_column: str | None,
    kinds: dict[str, str] | None = None,
    origins: Mapping[str, str] | None = None,
    single_group: str = "all",
    read_split: bool = True,
    text: Sequence[str] = (),
    skip_missing: bool = False,
) -> Table:
    """Read ``path`` (CSV, or Parquet or JSON by its suffix) and parse the ``numeric`` columns
    as finite floats; the ``text`` columns are kept as stripped strings.

    ``kinds`` names the role of each numeric column (``input``/``output``) and ``origins``
    what named a column (a flag, a keyword, a card key), both for messages.
    ``group_column=None`` puts every row in one group named ``single_group``. A ``split``
    column, when present and ``read_split``, must hold only ``train``/``test``.
    ``skip_missing``: a row whose numeric column holds nothing (a run that crashed) is left
    out and listed in ``Table.skipped``, instead of a one-line TaskError.
    """
    options = dict(
        numeric=numeric,
        group_column=group_column,
        kinds=kinds,
        origins=origins,
        single_group=single_group,
        read_split=read_split,
        text=text,
        skip_missing=skip_missing,
    )
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES or suffix in JSON_SUFFIXES:
        frame = read_parquet(path) if suffix in PARQUET_SUFFIXES else read_json(path)
        return frame_table(frame, where=str(path), **options)  # type: ignore[arg-type]
    header, rows, lines, separator = read_rows(path)
    index = {name: i for i, name in enumerate(header)}
    _check_columns(header, [*numeric, *text], group_column, kinds, origins, where=str(path))
    # where semicolons separate the fields, a comma is the decimal mark (3,14)
    point = (lambda cell: cell.replace(",", ".")) if separator == ";" else (lambda cell: cell)
    columns = {name: [point(row[index[name]]) for row in rows] for name in numeric}
    values, keep, skipped, suffixed = _parse_numeric(
        columns, lines, where=str(path), row_word="line", skip_missing=skip_missing
    )
    kept = [row for row, k in zip(rows, keep, strict=True) if k]
    kept_lines = [line for line, k in zip(lines, keep, strict=True) if k]
    if group_column is None:
        groups = np.full(len(kept), single_group, dtype=object)
    else:
        groups = np.array(
            [
                _text(row[index[group_column]], path, line, group_column)
                for row, line in zip(kept, kept_lines, strict=True)
            ],
            dtype=object,
        )
    split = None
    if (
        read_split
        and SPLIT_COLUMN in index
        and SPLIT_COLUMN not in numeric
        and SPLIT_COLUMN != group_column
    ):
        split = np.array(
            [
                _split_value(row[index[SPLIT_COLUMN]], path, line)
                for row, line in zip(kept, kept_lines, strict=True)
            ],
            dtype=object,
        )
    return Table(
        path=path,
        values=values,
        groups=groups,
        split=split,
        lines=np.array(kept_lines, dtype=np.int64),
        text={n: np.array([row[index[n]].strip() for row in kept], dtype=object) for n in text},
        skipped=skipped,
        suffixed=suffixed,
    )


def frame_table(
    frame: pd.DataFrame,
    *,
    where: str,
    numeric: Sequence[str],
    group_column: str | None,
    kinds: dict[str, str] | None = None,
    origins: Mapping[str, str] | None = None,
    single_group: str = "all",
    read_split: bool = True,
    text: Sequence[str] = (),
    skip_missing: bool = False,
) -> Table:
    """:func:`read_table` for rows already in a DataFrame (a Parquet or JSON file, or a
    caller's frame).

    Columns are matched by their names as text; numeric columns may hold numbers or numeric
    text. Rows are named by their 0-based position (``iloc``) in messages.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TaskError(f"{where}: expected a pandas DataFrame, got {type(frame).__name__}")
    header = [str(c).strip() for c in frame.columns]
    check_header(header, where, "header")
    if frame.empty or len(frame) == 0:
        raise TaskError(f"{where}: no rows; pass a frame with data rows")
    _check_columns(header, [*numeric, *text], group_column, kinds, origins, where=where)
    index = {name: i for i, name in enumerate(header)}
    for name in numeric:
        if frame.iloc[:, index[name]].dtype == bool:
            raise TaskError(f"{where}, column {name!r}: holds true/false, not numbers; convert it")
    columns = {name: frame.iloc[:, index[name]].astype(object).tolist() for name in numeric}
    values, keep, skipped, suffixed = _parse_numeric(
        columns, range(len(frame)), where=where, row_word="row", skip_missing=skip_missing
    )
    frame = frame.iloc[np.flatnonzero(keep)]
    positions = np.flatnonzero(keep).astype(np.int64)
    if group_column is None:
        groups = np.full(len(frame), single_group, dtype=object)
    else:
        groups = _labels(frame.iloc[:, index[group_column]], where, group_column, positions)
    split = None
    if read_split and SPLIT_COLUMN in index and SPLIT_COLUMN not in numeric:
        if SPLIT_COLUMN != group_column:
            split = _labels(frame.iloc[:, index[SPLIT_COLUMN]], where, SPLIT_COLUMN, positions)
            bad = np.flatnonzero(~np.isin(split, SPLIT_VALUES))
            if bad.size:
                raise TaskError(
                    f"{where} row {positions[bad[0]]}, column {SPLIT_COLUMN!r}: "
                    f"{split[bad[0]]!r} is not 'train' or 'test'; fix the value or pass a test rule"
                )
    strings = {
        n: frame.iloc[:, index[n]].astype(str).str.strip().to_numpy(dtype=object) for n in text
    }
    return Table(
        path=where,
        values=values,
        groups=groups,
        split=split,
        lines=positions,
        row_word="row",
        text=strings,
        skipped=skipped,
        suffixed=suffixed,
    )


def _parse_numeric(
    columns: Mapping[str, Sequence[object]],
    lines: Sequence[int],
    *,
    where: str,
    row_word: str,
    skip_missing: bool,
) -> tuple[
    dict[str, np.ndarray], np.ndarray, tuple[tuple[int, str, str], ...], dict[str, tuple[int, str]]
]:
    """Each column's cells (text, or a frame's numbers) as floats; row i is ``where row_word
    lines[i]`` in messages (``data.csv line 7``).

    Returns (values of the kept rows, keep mask over all rows, skipped rows as (line, column,
    cell), first size-suffixed cell per column as (line, cell)). A row with a cell that holds
    nothing is a TaskError unless ``skip_missing``; the first such row in file order is named.
    """
    places = [f"{where} {row_word} {line}" for line in lines]
    n_rows = len(places)
    parsed: dict[str, list[float | Missing]] = {}
    suffixed: dict[str, tuple[int, str]] = {}
    for name, cells in columns.items():
        out: list[float | Missing] = []
        for cell, place, line in zip(cells, places, lines, strict=True):
            out.append(_cell(cell, where=f"{place}, column {name!r}"))
            if name not in suffixed and isinstance(cell, str) and is_suffixed(cell):
                suffixed[name] = (int(line), cell.strip())
        parsed[name] = out
    keep = np.ones(n_rows, dtype=bool)
    skipped: list[tuple[int, str, str]] = []
    for row in range(n_rows):
        for name, out in parsed.items():
            value = out[row]
            if isinstance(value, Missing):
                if not skip_missing:
                    raise TaskError(missing_message(f"{places[row]}, column {name!r}", value.text))
                keep[row] = False
                skipped.append((int(lines[row]), name, value.text))
                break
    if n_rows and not keep.any():
        line, name, cell = skipped[0]
        raise TaskError(
            f"{where}: every row lacks a value (the first, {row_word} {line}, in {name!r}: "
            f"{cell or 'empty'}); fill them in"
        )
    values = {
        name: np.array([v for v, k in zip(out, keep, strict=True) if k], dtype=np.float64)
        for name, out in parsed.items()
    }
    return values, keep, tuple(skipped), suffixed


def _cell(cell: object, *, where: str) -> float | Missing:
    """One cell of a file or frame: text goes through :func:`read_cell`, numbers are checked."""
    if cell is None or cell is pd.NA or cell is pd.NaT:
        return Missing("")
    if isinstance(cell, str):
        return read_cell(cell, where=where)
    if isinstance(cell, bool | np.bool_):
        raise TaskError(f"{where}: {cell!r} is true/false, not a number; convert it")
    if isinstance(cell, int | float | np.integer | np.floating):
        value = float(cell)
        if math.isnan(value):
            return Missing("")
        if math.isinf(value):
            raise TaskError(f"{where}: infinite value {value!r}; only finite numbers are allowed")
        return value
    return read_cell(str(cell), where=where)


def _labels(column: pd.Series, where: str, name: str, positions: np.ndarray) -> np.ndarray:
    """A column as stripped, non-empty text (group names, split values); ``positions``: each
    row's place in the frame, for messages."""
    out = np.empty(len(column), dtype=object)
    for row, cell in enumerate(column.astype(object)):
        missing = cell is None or cell is pd.NA or (isinstance(cell, float) and math.isnan(cell))
        text = "" if missing else str(cell).strip()
        if not text:
            raise TaskError(
                f"{where} row {positions[row]}, column {name!r}: empty value; fill it in"
            )
        out[row] = text
    return out


def _check_columns(
    header: Sequence[str],
    numeric: Sequence[str],
    group_column: str | None,
    kinds: Mapping[str, str] | None,
    origins: Mapping[str, str] | None,
    *,
    where: str,
) -> None:
    """Every requested column is in ``header``; else one line naming it and what asked for it."""
    kinds, origins = kinds or {}, origins or {}
    wanted = [(name, kinds.get(name, "numeric")) for name in numeric]
    if group_column is not None:
        wanted.append((group_column, "group"))
    for name, kind in wanted:
        if name not in header:
            origin = f" (named by {origins[name]})" if name in origins else ""
            raise TaskError(
                f"{where}: missing {kind} column {name!r}{origin}; "
                f"the columns are: {', '.join(header)}"
            )


def _text(cell: str, path: Path, line: int, column: str) -> str:
    text = cell.strip()
    if not text:
        raise TaskError(f"{path} line {line}, column {column!r}: empty group name; fill it in")
    return text


def _split_value(cell: str, path: Path, line: int) -> str:
    text = cell.strip()
    if text not in SPLIT_VALUES:
        raise TaskError(
            f"{path} line {line}, column {SPLIT_COLUMN!r}: {text!r} is not 'train' or 'test'; "
            "fix the value or pass a test rule"
        )
    return text
