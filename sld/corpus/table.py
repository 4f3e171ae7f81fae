"""Reading a task's CSV into checked arrays, with one-line errors that say where and how to fix.

Every problem names the file, the 1-based line number as counted in the file (the header is
line 1) and the column. Numbers are parsed with Python's ``float`` so values written with
``repr`` round-trip exactly.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sld.errors import TaskError

SPLIT_COLUMN = "split"
SPLIT_VALUES = ("train", "test")
_NAN_WORDS = frozenset({"nan", "na", "n/a", "null", "none", "-nan", "+nan"})


@dataclass(frozen=True)
class Table:
    """The checked content of one CSV.

    ``values``: column name -> float64 array (n_rows,) for every requested numeric column;
    ``groups``: (n_rows,) str array (all ``"all"`` when the file has no group column);
    ``split``: (n_rows,) str array of ``train``/``test``, or None when the file has no split column;
    ``lines``: (n_rows,) 1-based line number of each row in the file.
    """

    path: Path
    values: dict[str, np.ndarray]
    groups: np.ndarray
    split: np.ndarray | None
    lines: np.ndarray

    @property
    def n_rows(self) -> int:
        return len(self.lines)


def read_table(
    path: Path,
    *,
    numeric: Sequence[str],
    group_column: str | None,
    kinds: dict[str, str] | None = None,
    single_group: str = "all",
    read_split: bool = True,
) -> Table:
    """Read ``path`` and parse the ``numeric`` columns as finite floats.

    ``kinds`` names the role of each numeric column (``input``/``output``) for messages.
    ``group_column=None`` puts every row in one group named ``single_group``. A ``split``
    column, when present and ``read_split``, must hold only ``train``/``test``.
    """
    kinds = kinds or {}
    header, rows, lines = _read_rows(path)
    index = {name: i for i, name in enumerate(header)}
    for name in numeric:
        if name not in index:
            kind = kinds.get(name, "numeric")
            raise TaskError(
                f"{path}: missing {kind} column {name!r}; the header has: {', '.join(header)}"
            )
    if group_column is not None and group_column not in index:
        raise TaskError(
            f"{path}: missing group column {group_column!r}; the header has: {', '.join(header)}"
            " (leave group unset for a single group)"
        )
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
        path=path, values=values, groups=groups, split=split, lines=np.array(lines, dtype=np.int64)
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
                _check_header(header, path, reader.line_num)
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


def _check_header(header: list[str], path: Path, line: int) -> None:
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            raise TaskError(f"{path} line {line}: header column {position} has no name; name it")
        if name in seen:
            raise TaskError(
                f"{path} line {line}: column {name!r} appears twice in the header; rename one"
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
