"""Readers that turn the raw upstream files of each curated task into one tidy table.

Each reader takes the raw folder and the card, and returns a DataFrame with columns
``group``, the card's inputs and outputs, and ``split`` only when the source itself splits
(domain_mixture) or the card's ``build.test`` rule does. Rows keep the order of the source
files. What each reader drops is stated
in the card's ``[build]`` section; the code below is where it happens.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path, PurePosixPath

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


def _select(frame: pd.DataFrame, rule_text: str, *, where: str) -> np.ndarray:
    """Bool (rows,) of the rows a rule over the identifier-named columns of ``frame`` selects."""
    names = [str(c) for c in frame.columns if str(c).isidentifier()]
    rule = parse_rule(rule_text, names=names, where=where)
    columns = {name: _floats(frame[name]) for name in rule.names}
    return rule.evaluate(columns, n_rows=len(frame))


def _keep(frame: pd.DataFrame, rule_text: str | None, *, where: str) -> pd.DataFrame:
    """Rows of ``frame`` the ``keep`` rule selects (rule names: identifier-named columns)."""
    if rule_text is None:
        return frame
    kept = _select(frame, rule_text, where=f"{where}: build.keep")
    return frame[kept].reset_index(drop=True)


def _columns(card: TaskCard) -> list[str]:
    return [*card.input_names, *card.output_names]


def read_table_file(raw: Path, card: TaskCard) -> pd.DataFrame:
    """One CSV; ``build.columns`` renames raw -> task columns; ``build.keep`` filters rows;
    ``build.test`` (with ``split.source`` on the card) marks the test rows."""
    spec = _spec(card)
    if spec.test is not None and card.split.test is not None:
        raise TaskError(
            f"card {card.name!r}: both split.test and build.test are set; keep split.test and "
            "drop build.test, or replace split.test by split.source"
        )
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
    if spec.test is not None:
        is_test = _select(renamed, spec.test, where=f"{path}: build.test")
        out["split"] = np.where(is_test, "test", "train")
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


def _read_json(path: Path) -> object:
    """A raw JSON file; TaskError when it is missing or not valid JSON."""
    if not path.is_file():
        raise TaskError(f"{path}: raw file not found; check --raw")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TaskError(f"{path}: not valid JSON ({exc}); check the raw file") from None


def _json_field(record: object, dotted: str, *, where: str) -> object:
    """``record["a"]["b"]`` for ``dotted == "a.b"``; TaskError when a key is missing."""
    value = record
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise TaskError(f"{where}: field {dotted!r} not found; check build.columns")
        value = value[key]
    return value


def _number(value: object, *, where: str) -> float:
    """A JSON number as float64 (integers below 2**53 exactly); TaskError for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TaskError(f"{where}: expected a number, found {value!r}; check build.columns")
    return float(value)


def _eval_set(result: dict[str, object]) -> str:
    """Name of the evaluation set of one ``results`` entry: the folder of its first shard."""
    shards = result.get("val_data")
    if not isinstance(shards, list) or not shards:
        return ""
    return PurePosixPath(str(shards[0])).parent.name


def read_model_records(raw: Path, card: TaskCard) -> pd.DataFrame:
    """One JSON record per trained model (open_lm runs of mlfoundations/scaling) -> one row each.

    ``build.files``: folders whose ``*.json`` files are read in name order. ``build.columns``
    maps ``group`` and each input to a dotted field path (``hyperparameters.params``).
    ``build.params.eval_sets`` maps each output to an evaluation set; the output is the
    ``loss`` of the one ``results`` entry on that set (named by the folder of its first
    ``val_data`` shard). A record without exactly one such entry is an error.
    """
    spec = _spec(card)
    eval_sets: dict[str, str] = spec.params.get("eval_sets", {})
    missing = [name for name in card.output_names if name not in eval_sets]
    if missing:
        raise TaskError(
            f"card {card.name!r}: output {missing[0]!r} has no entry in build.params.eval_sets"
        )
    fields = [name for name in ("group", *card.input_names) if name in spec.columns]
    unmapped = [name for name in card.input_names if name not in spec.columns]
    if unmapped:
        raise TaskError(f"card {card.name!r}: input {unmapped[0]!r} is not in build.columns")
    records = []
    for folder in spec.files:
        paths = sorted((raw / folder).glob("*.json"))
        if not paths:
            raise TaskError(f"{raw / folder}: no *.json model records found; check --raw")
        for path in paths:
            record = _read_json(path)
            row: dict[str, object] = {"group": spec.single_group}
            for name in fields:
                value = _json_field(record, spec.columns[name], where=str(path))
                row[name] = str(value) if name == "group" else _number(value, where=str(path))
            results = _json_field(record, "results", where=str(path))
            if not isinstance(results, list):
                raise TaskError(f"{path}: field 'results' is not a list; check the raw file")
            for name in card.output_names:
                losses = [
                    _number(result.get("loss"), where=str(path))
                    for result in results
                    if isinstance(result, dict) and _eval_set(result) == eval_sets[name]
                ]
                if len(losses) != 1:
                    raise TaskError(
                        f"{path}: {len(losses)} results on evaluation set {eval_sets[name]!r}, "
                        "expected exactly one; check build.params.eval_sets"
                    )
                row[name] = losses[0]
            records.append(row)
    return pd.DataFrame.from_records(records, columns=["group", *_columns(card)])


READERS: dict[str, Reader] = {
    "table": read_table_file,
    "mixture_json": read_mixture_json,
    "emergence": read_emergence_files,
    "wide_sizes": read_wide_sizes,
    "model_records": read_model_records,
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
