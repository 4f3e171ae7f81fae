"""Which format a data file is and how to read its rows: CSV (comma, semicolon or tab
separated), Parquet and JSON, each a one-line TaskError when it cannot be read.

A CSV's separator is read from its header (:func:`field_separator`); Parquet and JSON files become
DataFrames, which :func:`sld.corpus.table.frame_table` checks like any caller's frame.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from sld.errors import TaskError

PARQUET_SUFFIXES = (".parquet", ".pq")
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
TAB_SUFFIXES = (".tsv", ".tab")
DATA_SUFFIXES = (".csv", *TAB_SUFFIXES, *PARQUET_SUFFIXES, *JSON_SUFFIXES)


def column_names(path: Path) -> list[str]:
    """The header of a CSV, Parquet or JSON file, for hints in messages; [] when it cannot be
    read (reading the table proper reports why)."""
    try:
        suffix = path.suffix.lower()
        if suffix in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if suffix in JSON_SUFFIXES:
            return [str(c) for c in read_json(path).columns]
        with path.open(newline="", encoding="utf-8-sig") as handle:  # the first lines only
            for line in handle:
                if line.strip() and not line.lstrip().startswith("#"):
                    record = next(csv.reader([line], delimiter=field_separator(path, line)))
                    return [cell.strip() for cell in record]
    except Exception:  # noqa: BLE001 - only a hint; the reader names the real problem
        return []
    return []


def read_rows(path: Path) -> tuple[list[str], list[list[str]], list[int], str]:
    """The header, the data records, their 1-based lines and the separator of a CSV file.

    Blank lines and lines whose first cell starts with ``#`` (comments) are skipped, so line
    numbers in messages stay those of the file."""
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
    separator = field_separator(path, text)
    word = _SEPARATOR_WORDS[separator]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, delimiter=separator)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for record in reader:
            if not record or all(not cell.strip() for cell in record):
                continue  # blank lines carry no data
            if record[0].lstrip().startswith("#"):
                continue  # a comment line, as scripts write above a table
            if header is None:
                header = [cell.strip() for cell in record]
                check_header(header, str(path), f"line {reader.line_num}")
                continue
            if len(record) != len(header):
                raise TaskError(
                    f"{path} line {reader.line_num}: {len(record)} fields but the header has "
                    f"{len(header)}; fix the {word} or quote cells that contain {word}"
                )
            rows.append(record)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise TaskError(
            f"{path} line {reader.line_num}: cannot parse CSV ({exc}); check quotes and {word}"
        ) from None
    if header is None or not rows:
        raise TaskError(f"{path}: the file has a header but no data rows; add rows")
    return header, rows, lines, separator


_SEPARATOR_WORDS = {",": "commas", ";": "semicolons", "\t": "tabs"}


def field_separator(path: Path, text: str) -> str:
    """The field separator: a tab for ``.tsv``/``.tab`` files, else a comma unless the first
    line that holds anything has none and has semicolons (a spreadsheet's export in locales
    where the comma is the decimal mark) or tabs."""
    if path.suffix.lower() in TAB_SUFFIXES:
        return "\t"
    lines = (line for line in text.splitlines() if line.strip())
    first = next((line for line in lines if not line.lstrip().startswith("#")), "")
    if "," in first:
        return ","
    if ";" in first:
        return ";"
    return "\t" if "\t" in first else ","


def check_header(header: list[str], where: str, place: str) -> None:
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            raise TaskError(f"{where} {place}: header column {position} has no name; name it")
        if name in seen:
            raise TaskError(
                f"{where} {place}: column {name!r} appears twice in the header; rename one"
            )
        seen.add(name)


def read_json(path: Path) -> pd.DataFrame:
    """A JSON file of rows: a list of records (``[{"N": 1e8, "loss": 3.1}, ...]``), an object
    of columns (pandas' ``to_json()``), or one record a line (``.jsonl``, ``.ndjson``, or a
    ``.json`` file written that way). Parsed as data only; nothing in it is evaluated."""
    if not path.exists():
        raise TaskError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise TaskError(f"{path}: is a folder, not a JSON file; pass the file")
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    attempts = (True,) if path.suffix.lower() != ".json" else (False, True)
    for lines in attempts:
        try:
            return pd.read_json(io.StringIO(text), lines=lines, dtype=False)
        except ValueError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    raise TaskError(
        f"{path}: not JSON rows ({first}); write a list of objects, or one object a line"
    ) from None


def read_parquet(path: Path) -> pd.DataFrame:
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
