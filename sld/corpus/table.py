"""Reading a task's rows into checked arrays, with one-line errors that say where and how to fix.

Three sources give the same :class:`Table`: a CSV file, a Parquet file and a pandas DataFrame.
Every problem names the source, the row (in a CSV the 1-based line number as counted in the
file, the header being line 1; in a Parquet file or a DataFrame the 0-based row position, as
``iloc`` counts) and the column. CSV numbers are parsed with Python's ``float`` so values
written with ``repr`` round-trip exactly.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sld.errors import TaskError

SPLIT_COLUMN = "split"
SPLIT_VALUES = ("train", "test")
_NAN_WORDS = frozenset({"nan", "na", "n/a", "null", "none", "-nan", "+nan"})
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class Table:
    """The checked content of one CSV, Parquet file or DataFrame.

    ``values``: column name -> float64 array (n_rows,) for every requested numeric column;
    ``groups``: (n_rows,) str array (all ``"all"`` when the file has no group column);
    ``split``: (n_rows,) str array of ``train``/``test``, or None when the file has no split column;
    ``lines``: (n_rows,) where each row is: its 1-based line in a CSV, else its 0-based position;
    ``row_word``: ``"line"`` for a CSV, ``"row"`` otherwise;
    ``text``: column name -> (n_rows,) str array for every requested text column.
    """

    path: Path | str
    values: dict[str, np.ndarray]
    groups: np.ndarray
    split: np.ndarray | None
    lines: np.ndarray
    row_word: str = "line"
    text: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.lines)

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
) -> Table:
    """Read ``path`` (CSV, or Parquet by its suffix) and parse the ``numeric`` columns as
    finite floats; the ``text`` columns are kept as stripped strings.

    ``kinds`` names the role of each numeric column (``input``/``output``) and ``origins``
    what named a column (a flag, a keyword, a card key), both for messages.
    ``group_column=None`` puts every row in one group named ``single_group``. A ``split``
    column, when present and ``read_split``, must hold only ``train``/``test``.
    """
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return frame_table(
            _read_parquet(path),
            where=str(path),
            numeric=numeric,
            group_column=group_column,
            kinds=kinds,
            origins=origins,
            single_group=single_group,
            read_split=read_split,
            text=text,
        )
    header, rows, lines = _read_rows(path)
    index = {name: i for i, name in enumerate(header)}
    _check_columns(header, [*numeric, *text], group_column, kinds, origins, where=str(path))
    values = {
        name: np.array(
            [
                _number(row[index[name]], path, line, name)
                for row, line in zip(rows, lines, strict=True)
            ],
            dtype=np.float64,
        )
        for name in numeric
    }
    if group_column is None:
        groups = np.full(len(rows), single_group, dtype=object)
    else:
        groups = np.array(
            [
                _text(row[index[group_column]], path, line, group_column)
                for row, line in zip(rows, lines, strict=True)
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
                for row, line in zip(rows, lines, strict=True)
            ],
            dtype=object,
        )
    return Table(
        path=path,
        values=values,
        groups=groups,
        split=split,
        lines=np.array(lines, dtype=np.int64),
        text={n: np.array([row[index[n]].strip() for row in rows], dtype=object) for n in text},
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
) -> Table:
    """:func:`read_table` for rows already in a DataFrame (a Parquet file, or a caller's frame).

    Columns are matched by their names as text; numeric columns may hold numbers or numeric
    text. Rows are named by their 0-based position (``iloc``) in messages.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TaskError(f"{where}: expected a pandas DataFrame, got {type(frame).__name__}")
    header = [str(c).strip() for c in frame.columns]
    _check_header(header, where, "header")
    if frame.empty or len(frame) == 0:
        raise TaskError(f"{where}: no rows; pass a frame with data rows")
    _check_columns(header, [*numeric, *text], group_column, kinds, origins, where=where)
    index = {name: i for i, name in enumerate(header)}
    positions = np.arange(len(frame), dtype=np.int64)
    values = {name: _numbers(frame.iloc[:, index[name]], where, name) for name in numeric}
    if group_column is None:
        groups = np.full(len(frame), single_group, dtype=object)
    else:
        groups = _labels(frame.iloc[:, index[group_column]], where, group_column)
    split = None
    if read_split and SPLIT_COLUMN in index and SPLIT_COLUMN not in numeric:
        if SPLIT_COLUMN != group_column:
            split = _labels(frame.iloc[:, index[SPLIT_COLUMN]], where, SPLIT_COLUMN)
            bad = np.flatnonzero(~np.isin(split, SPLIT_VALUES))
            if bad.size:
                raise TaskError(
                    f"{where} row {bad[0]}, column {SPLIT_COLUMN!r}: {split[bad[0]]!r} is not "
                    "'train' or 'test'; fix the value or pass a test rule"
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
    )


def column_names(path: Path) -> list[str]:
    """The header of a CSV or Parquet file, for hints in messages; [] when it cannot be read
    (reading the table proper reports why)."""
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for record in csv.reader(handle):
                if record and any(cell.strip() for cell in record):
                    return [cell.strip() for cell in record]
    except Exception:  # noqa: BLE001 - only a hint; the reader names the real problem
        return []
    return []


def _read_parquet(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise TaskError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise TaskError(f"{path}: is a folder, not a Parquet file; pass the file")
    try:
        return pd.read_parquet(path)
    except ImportError as exc:
        raise TaskError(f"{path}: cannot read Parquet ({exc}); pip install pyarrow") from None
    except Exception as exc:  # pyarrow raises its own types for every malformed file
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TaskError(f"{path}: not a readable Parquet file ({first}); check the file") from None


def _numbers(column: pd.Series, where: str, name: str) -> np.ndarray:
    """A column as finite float64; one-line TaskError naming the first bad row."""
    if column.dtype == bool:
        raise TaskError(f"{where}, column {name!r}: holds true/false, not numbers; convert it")
    as_text = column.astype(object)
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    for row in np.flatnonzero(~np.isfinite(numbers)):
        cell = as_text.iloc[row]
        if cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell is pd.NA:
            raise TaskError(
                f"{where} row {row}, column {name!r}: missing value; fill it in or drop the row"
            )
        text = str(cell).strip()
        if not text:
            raise TaskError(
                f"{where} row {row}, column {name!r}: empty cell; fill it in or drop the row"
            )
        if text.lower() in _NAN_WORDS:
            raise TaskError(
                f"{where} row {row}, column {name!r}: missing value {text!r}; "
                "fill it in or drop the row"
            )
        if math.isinf(numbers[row]):
            raise TaskError(
                f"{where} row {row}, column {name!r}: infinite value {text!r}; "
                "only finite numbers are allowed"
            )
        raise TaskError(
            f"{where} row {row}, column {name!r}: {text!r} is not a number; write e.g. 1.5e9"
        )
    return numbers


def _labels(column: pd.Series, where: str, name: str) -> np.ndarray:
    """A column as stripped, non-empty text (group names, split values)."""
    out = np.empty(len(column), dtype=object)
    for row, cell in enumerate(column.astype(object)):
        missing = cell is None or cell is pd.NA or (isinstance(cell, float) and math.isnan(cell))
        text = "" if missing else str(cell).strip()
        if not text:
            raise TaskError(f"{where} row {row}, column {name!r}: empty value; fill it in")
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


def _read_rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TaskError(f"{path}: file not found; check the path") from None
    except IsADirectoryError:
        raise TaskError(f"{path}: is a folder, not a CSV file; pass the file") from None
    except OSError as exc:
        raise TaskError(f"{path}: cannot read ({exc.strerror}); check permissions") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TaskError(
            f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV"
        ) from None
    if not text.strip():
        raise TaskError(f"{path}: the file is empty; write a header line and data rows")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for record in reader:
            if not record or all(not cell.strip() for cell in record):
                continue  # blank lines carry no data
            if header is None:
                header = [cell.strip() for cell in record]
                _check_header(header, str(path), f"line {reader.line_num}")
                continue
            if len(record) != len(header):
                raise TaskError(
                    f"{path} line {reader.line_num}: {len(record)} fields but the header has "
                    f"{len(header)}; fix the commas or quote cells that contain commas"
                )
            rows.append(record)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise TaskError(
            f"{path} line {reader.line_num}: cannot parse CSV ({exc}); check quotes and commas"
        ) from None
    if header is None or not rows:
        raise TaskError(f"{path}: the file has a header but no data rows; add rows")
    return header, rows, lines


def _check_header(header: list[str], where: str, place: str) -> None:
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            raise TaskError(f"{where} {place}: header column {position} has no name; name it")
        if name in seen:
            raise TaskError(
                f"{where} {place}: column {name!r} appears twice in the header; rename one"
            )
        seen.add(name)


def _number(cell: str, path: Path, line: int, column: str) -> float:
    text = cell.strip()
    if not text:
        raise TaskError(
            f"{path} line {line}, column {column!r}: empty cell; fill it in or drop the row"
        )
    if text.lower() in _NAN_WORDS:
        raise TaskError(
            f"{path} line {line}, column {column!r}: missing value {text!r}; fill it in or drop the row"
        )
    try:
        value = float(text)
    except ValueError:
        raise TaskError(
            f"{path} line {line}, column {column!r}: {text!r} is not a number; write e.g. 1.5e9"
        ) from None
    if math.isnan(value):
        raise TaskError(
            f"{path} line {line}, column {column!r}: missing value {text!r}; fill it in or drop the row"
        )
    if math.isinf(value):
        raise TaskError(
            f"{path} line {line}, column {column!r}: infinite value {text!r}; only finite numbers are allowed"
        )
    return value


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
