"""Readers that turn the raw upstream files of each curated task into one tidy table.

Each reader takes the raw folder and the card, and returns a DataFrame with columns
``group``, the card's inputs and outputs, and ``split`` only when the source itself splits
(domain_mixture). Rows keep the order of the source files. What each reader drops is stated
in the card's ``[build]`` section; the code below is where it happens.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sld.corpus.card import BuildSpec, TaskCard
from sld.corpus.rules import parse_rule
from sld.errors import TaskError

Reader = Callable[[Path, TaskCard], pd.DataFrame]


def _spec(card: TaskCard) -> BuildSpec:
    if card.build is None:
        raise TaskError(f"card {card.name!r} has no [build] section; add one")
    return card.build


def _read_csv(path: Path) -> pd.DataFrame:
    """Every cell as text; numbers are parsed by :func:`_floats` so they keep their exact bits."""
    if not path.is_file():
        raise TaskError(f"{path}: raw file not found; check --raw")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _floats(column: pd.Series) -> np.ndarray:
    """Text cells -> float64 via Python's float (exact round trip); empty cells -> NaN."""
    return np.array([float(c) if c.strip() else math.nan for c in column], dtype=np.float64)


def _keep(frame: pd.DataFrame, rule_text: str | None, *, where: str) -> pd.DataFrame:
    """Rows of ``frame`` the ``keep`` rule selects (rule names: identifier-named columns)."""
    if rule_text is None:
        return frame
    names = [str(c) for c in frame.columns if str(c).isidentifier()]
    rule = parse_rule(rule_text, names=names, where=f"{where}: build.keep")
    columns = {name: _floats(frame[name]) for name in rule.names}
    return frame[rule.evaluate(columns, n_rows=len(frame))].reset_index(drop=True)


def _columns(card: TaskCard) -> list[str]:
    return [*card.input_names, *card.output_names]


def read_table_file(raw: Path, card: TaskCard) -> pd.DataFrame:
    """One CSV; ``build.columns`` renames raw -> task columns; ``build.keep`` filters rows."""
    spec = _spec(card)
    path = raw / spec.files[0]
    frame = _read_csv(path)
    missing = [src for src in spec.columns.values() if src not in frame.columns]
    if missing:
        raise TaskError(f"{path}: raw column {missing[0]!r} not found; check build.columns")
    renamed = frame.rename(columns={src: dst for dst, src in spec.columns.items()})
    renamed = _keep(renamed, spec.keep, where=str(path))
    groups = renamed["group"] if "group" in spec.columns else [spec.single_group] * len(renamed)
    out = pd.DataFrame({"group": list(groups)})
    for column in _columns(card):
        out[column] = _floats(renamed[column])
    return out


def read_mixture_json(raw: Path, card: TaskCard) -> pd.DataFrame:
    """Mixing-law JSON: {size: {train|eval: [{proportions[k], loss[k]}]}}; ``eval`` -> test.

    Sizes with no runs are skipped. Domain j of ``proportions``/``loss`` becomes the j-th
    input/output of the card (the order is the source's, assumed consistent).
    """
    spec = _spec(card)
    path = raw / spec.files[0]
    if not path.is_file():
        raise TaskError(f"{path}: raw file not found; check --raw")
    data = json.loads(path.read_text(encoding="utf-8"))
    split_of = {"train": "train", "eval": "test"}
    records = []
    for size, parts in data.items():
        for key, split in split_of.items():
            for run in parts.get(key, []) if isinstance(parts, dict) else []:
                records.append(
                    {
                        "group": size,
                        "split": split,
                        **dict(zip(card.input_names, map(float, run["proportions"]), strict=True)),
                        **dict(zip(card.output_names, map(float, run["loss"]), strict=True)),
                    }
                )
    return pd.DataFrame.from_records(records, columns=["group", "split", *_columns(card)])


def read_emergence_files(raw: Path, card: TaskCard) -> pd.DataFrame:
    """Per-dataset ExpEmergence CSVs -> (log10 FLOPs/1e21, minus the easy-third Brier score).

    ``build.params``: ``exclude_models`` (list), ``datasets`` ({group: {file, easy_column}}).
    Excluded models and rows with a missing accuracy, easy-third Brier score or FLOPs drop.
    """
    spec = _spec(card)
    excluded = set(spec.params.get("exclude_models", []))
    flops_column = spec.params.get("flops_column", "FLOPs (1E21)")
    (x_name,), (y_name,) = card.input_names, card.output_names
    parts = []
    for group, entry in spec.params["datasets"].items():
        frame = _read_csv(raw / entry["file"])
        easy = entry["easy_column"]
        frame = frame[~frame["Model"].isin(excluded)]
        flops, brier, acc = (_floats(frame[c]) for c in (flops_column, easy, "acc"))
        complete = ~(np.isnan(flops) | np.isnan(brier) | np.isnan(acc))
        parts.append(
            pd.DataFrame(
                {
                    "group": group,
                    x_name: np.log10(flops[complete]),
                    # sign flipped so that higher is better
                    y_name: -brier[complete],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def read_wide_sizes(raw: Path, card: TaskCard) -> pd.DataFrame:
    """Fine-tuning tables (one row per model, one column per data size) -> long rows.

    Each file is one dataset (its stem); a group is ``model|dataset``. Sizes listed in
    ``build.params.drop_sizes`` and missing or non-positive cells drop.
    """
    spec = _spec(card)
    dropped = {float(s) for s in spec.params.get("drop_sizes", [])}
    (x_name,), (y_name,) = card.input_names, card.output_names
    records = []
    for name in spec.files:
        path = raw / name
        frame = _read_csv(path)
        dataset = Path(name).stem
        sizes = [(c, float(c)) for c in frame.columns if c != "model"]
        cells = {c: _floats(frame[c]) for c, _ in sizes}
        for row, model in enumerate(frame["model"]):
            for column, size in sizes:
                value = cells[column][row]
                if size in dropped or math.isnan(value) or value <= 0:
                    continue
                records.append({"group": f"{model}|{dataset}", x_name: size, y_name: value})
    return pd.DataFrame.from_records(records, columns=["group", x_name, y_name])


READERS: dict[str, Reader] = {
    "table": read_table_file,
    "mixture_json": read_mixture_json,
    "emergence": read_emergence_files,
    "wide_sizes": read_wide_sizes,
}


def read_raw(raw: Path, card: TaskCard) -> pd.DataFrame:
    """The tidy rows of ``card``'s task, read from the raw folder by the card's reader."""
    spec = _spec(card)
    if spec.reader not in READERS:
        raise TaskError(
            f"card {card.name!r}: unknown build.reader {spec.reader!r}; "
            f"known readers: {', '.join(sorted(READERS))}"
        )
    return READERS[spec.reader](raw, card)
