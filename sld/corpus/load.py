"""Finding and loading tasks: the curated corpus by name, or a user's CSV (with an optional card).

Keyword options of :func:`load_task` override the card; for a bare CSV they are the card.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from sld.corpus.card import RESERVED_NAMES, TaskCard, card_from_dict, read_card
from sld.corpus.rules import parse_rule
from sld.corpus.table import SPLIT_COLUMN, Table, read_table
from sld.corpus.task import Task, make_task
from sld.errors import TaskError
from sld.resources import datasets_dir

CURATED_GROUP_COLUMN = "group"


def list_tasks() -> list[str]:
    """Names of the curated tasks, sorted."""
    root = datasets_dir()
    return sorted(p.name for p in root.iterdir() if (p / "card.toml").is_file())


def load_card(name: str) -> TaskCard:
    """The card of curated task ``name``; TaskError listing the valid names when unknown."""
    tasks = list_tasks()
    if name not in tasks:
        raise TaskError(f"unknown task {name!r}; curated tasks are: {', '.join(tasks)}")
    return read_card(datasets_dir() / name / "card.toml", curated=True)


def load_task(
    name_or_path: str | PathLike[str],
    *,
    inputs: Iterable[str] | None = None,
    outputs: Iterable[str] | None = None,
    group: str | None = None,
    test: str | None = None,
    aliases: Mapping[str, str] | None = None,
    log_scale: bool | Mapping[str, bool] | None = None,
    validation_scale: str | None = None,
    max_params: int | None = None,
    name: str | None = None,
) -> Task:
    """Load a curated task by name, or a CSV file (``x.csv``, with ``x.toml`` beside it if any,
    or the ``x.toml`` card itself).

    ``inputs``/``outputs``: column names (or a card's aliases) to use, in order;
    ``group``: the column naming each row's group (unset: one group ``all``);
    ``test``: a rule selecting test rows (:mod:`sld.corpus.rules`), else the file's
    ``split`` column (``train``/``test``) decides; ``aliases``: alias -> input name;
    ``log_scale``: one bool for all inputs or a mapping per input (unset: card value, else
    True when every value is > 0); ``validation_scale``: input ordering the validation slice
    (default: card value, else the first input). Every problem raises a one-line TaskError.
    """
    card_path, data_path, curated = _locate(name_or_path)
    base: dict[str, Any] = {}
    if card_path is not None:
        card = read_card(card_path, curated=curated)
        # only what the card file says, so unset fields still get data-driven defaults
        base = card.model_dump(exclude_unset=True, exclude_none=True)
        if not curated and card.data is not None:
            data_path = card_path.parent / card.data
    where = str(data_path)
    spec = _merge(
        base,
        default_name=data_path.stem if not curated else str(name_or_path),
        inputs=inputs,
        outputs=outputs,
        group=group,
        test=test,
        aliases=aliases,
        log_scale=log_scale,
        validation_scale=validation_scale,
        max_params=max_params,
        name=name,
        curated=curated,
        where=where,
    )
    explicit_log = {v["name"] for v in spec["inputs"] if "log_scale" in v}
    card = card_from_dict(spec, where=str(card_path or data_path))
    group_column = CURATED_GROUP_COLUMN if curated else card.group_column
    kinds = {n: "input" for n in card.input_names} | {n: "output" for n in card.output_names}
    table = read_table(
        data_path,
        numeric=[*card.input_names, *card.output_names],
        group_column=group_column,
        kinds=kinds,
        read_split=curated or card.split.source is not None,
    )
    logs = {
        v.name: v.log_scale if v.name in explicit_log else bool(np.all(table.values[v.name] > 0))
        for v in card.inputs
    }
    for var in [*card.inputs, *card.outputs]:
        if logs.get(var.name, var.log_scale):
            _check_positive(table, var.name, where)
    is_test = _test_rows(
        card, table, group_column=group_column, where=where, verify=curated and test is None
    )
    n_test = int(is_test.sum())
    if n_test == 0:
        raise TaskError(f"{where}: the test split is empty; change the test rule or split column")
    if n_test == table.n_rows:
        raise TaskError(f"{where}: the train split is empty; change the test rule or split column")
    X = np.column_stack([table.values[n] for n in card.input_names])
    y = np.column_stack([table.values[n] for n in card.output_names])
    if not card.allow_duplicate_inputs:
        _check_duplicates(table, X, where)
    if curated and test is None and group is None and card.counts is not None:
        _check_counts(card, table.groups, is_test, where)
    return make_task(
        card, groups=table.groups, X=X, y=y, is_test=is_test, log_scale=logs, where=where
    )


def _locate(name_or_path: str | PathLike[str]) -> tuple[Path | None, Path, bool]:
    """(card path or None, data path, curated?) for a task name or a file path."""
    text = str(name_or_path)
    if isinstance(name_or_path, str) and "/" not in text and "\\" not in text:
        if text in list_tasks():
            folder = datasets_dir() / text
            return folder / "card.toml", folder / "data.csv", True
        if not Path(text).suffix and not Path(text).exists():
            raise TaskError(
                f"no curated task or file named {text!r}; curated tasks are: "
                f"{', '.join(list_tasks())}"
            )
    path = Path(name_or_path)
    if path.suffix == ".toml":
        return path, path.with_suffix(".csv"), False
    beside = path.with_suffix(".toml")
    return (beside if beside.is_file() else None), path, False


def _merge(
    base: dict[str, Any],
    *,
    default_name: str,
    inputs: Iterable[str] | None,
    outputs: Iterable[str] | None,
    group: str | None,
    test: str | None,
    aliases: Mapping[str, str] | None,
    log_scale: bool | Mapping[str, bool] | None,
    validation_scale: str | None,
    max_params: int | None,
    name: str | None,
    curated: bool,
    where: str,
) -> dict[str, Any]:
    """The effective card as a dict: ``base`` with the caller's options applied."""
    spec = dict(base)
    spec["name"] = name or spec.get("name") or default_name
    if isinstance(inputs, str) or isinstance(outputs, str):
        raise TaskError(f"{where}: pass inputs and outputs as lists, e.g. inputs=['N', 'D']")
    spec["inputs"] = _pick(spec.get("inputs", []), inputs, "input", where)
    spec["outputs"] = _pick(spec.get("outputs", []), outputs, "output", where)
    both = {v["name"] for v in spec["inputs"]} & {v["name"] for v in spec["outputs"]}
    if both:
        raise TaskError(
            f"{where}: column {sorted(both)[0]!r} is both an input and an output; pick one role"
        )
    names = [v["name"] for v in spec["inputs"]]
    if aliases:
        for alias, target in aliases.items():
            if target not in names:
                raise TaskError(
                    f"{where}: alias {alias!r} points to {target!r}, which is not an input; "
                    f"aliases map alias -> input name, inputs are: {', '.join(names)}"
                )
            for var in spec["inputs"]:
                if var["name"] == target:
                    var["alias"] = alias
    _default_aliases(spec["inputs"], spec["outputs"])
    if log_scale is not None:
        for var in spec["inputs"]:
            if isinstance(log_scale, bool):
                var["log_scale"] = log_scale
            elif var["name"] in log_scale or var.get("alias") in log_scale:
                key = var["name"] if var["name"] in log_scale else var["alias"]
                var["log_scale"] = bool(log_scale[key])
    if group is not None:
        spec["group_column"] = group
    if test is not None:
        spec["split"] = {"test": test, "description": "rule given by the caller"}
    elif "split" not in spec:
        spec["split"] = {"source": f"the file's {SPLIT_COLUMN!r} column"}
    validation = dict(spec.get("validation", {}))
    if validation_scale is not None:
        validation["scale"] = validation_scale
    elif not curated and "validation" not in base and spec["inputs"]:
        validation["scale"] = spec["inputs"][0]["name"]
    spec["validation"] = validation
    if max_params is not None:
        spec["max_params"] = max_params
    if not curated:
        spec.pop("counts", None)
    return spec


def _pick(
    declared: list[dict[str, Any]], wanted: Iterable[str] | None, kind: str, where: str
) -> list[dict[str, Any]]:
    if wanted is None:
        if not declared:
            raise TaskError(
                f"{where}: no {kind}s given; pass {kind}s=[...] or list them in a card beside the CSV"
            )
        return [dict(v) for v in declared]
    wanted = list(wanted)
    if not wanted:
        raise TaskError(f"{where}: the {kind}s list is empty; name at least one column")
    by_key = {v["name"]: v for v in declared} | {v["alias"]: v for v in declared if v.get("alias")}
    return [dict(by_key.get(n, {"name": n})) for n in wanted]


def _default_aliases(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> None:
    """Give each input without an alias its own name, or x1, x2, ... when that cannot serve."""
    taken = {v.get("alias") for v in [*inputs, *outputs]} | {v["name"] for v in [*inputs, *outputs]}
    for position, var in enumerate(inputs, start=1):
        if var.get("alias"):
            continue
        if var["name"].isidentifier() and var["name"] not in RESERVED_NAMES:
            var["alias"] = var["name"]
            continue
        candidate = f"x{position}"
        while candidate in taken:
            candidate += "_"
        var["alias"] = candidate
        taken.add(candidate)


def _check_positive(table: Table, column: str, where: str) -> None:
    bad = np.flatnonzero(table.values[column] <= 0)
    if bad.size:
        row = bad[0]
        raise TaskError(
            f"{where} line {table.lines[row]}, column {column!r}: value "
            f"{float(table.values[column][row])!r} is not positive but {column!r} is on a log scale; "
            f"fix the value or pass log_scale={{{column!r}: False}}"
        )


def _test_rows(
    card: TaskCard, table: Table, *, group_column: str | None, where: str, verify: bool
) -> np.ndarray:
    """Bool (rows,) of test rows: the card's rule if it has one, else the split column.

    ``verify``: the file's split column must agree with the rule (curated files).
    """
    if card.split.test is None:
        if table.split is None:
            raise TaskError(
                f"{where}: no test rule and no {SPLIT_COLUMN!r} column; pass test='N >= 1e9' "
                "or add a split column holding train/test"
            )
        return table.split == "test"
    is_test = evaluate_test_rule(
        card, table.values, table.groups, where=where, group_column=group_column
    )
    if verify and table.split is not None:
        disagree = np.flatnonzero(is_test != (table.split == "test"))
        if disagree.size:
            raise TaskError(
                f"{where} line {table.lines[disagree[0]]}: the split column disagrees with the "
                "card's test rule; rebuild with python -m sld.corpus.build"
            )
    return is_test


def evaluate_test_rule(
    card: TaskCard,
    values: Mapping[str, np.ndarray],
    groups: np.ndarray,
    *,
    where: str,
    group_column: str | None = None,
) -> np.ndarray:
    """Bool (rows,) of the rows the card's ``split.test`` rule selects.

    The rule may name inputs, their aliases, ``group`` and the group column.
    """
    assert card.split.test is not None
    columns: dict[str, np.ndarray] = {n: np.asarray(values[n]) for n in card.input_names}
    columns |= {alias: columns[target] for alias, target in card.aliases.items()}
    columns["group"] = np.asarray(groups).astype(str)
    if group_column is not None:
        columns[group_column] = columns["group"]
    rule = parse_rule(card.split.test, names=columns.keys(), where=f"{where}: test rule")
    return rule.evaluate(columns, n_rows=len(columns["group"]))


def _check_duplicates(table: Table, X: np.ndarray, where: str) -> None:
    first_line: dict[tuple[object, ...], int] = {}
    for group, row, line in zip(table.groups, X.tolist(), table.lines.tolist(), strict=True):
        key = (group, *row)
        if key in first_line:
            raise TaskError(
                f"{where} lines {first_line[key]} and {line}: same group and inputs twice; "
                "drop or average one (or set allow_duplicate_inputs = true in the card)"
            )
        first_line[key] = line


def _check_counts(card: TaskCard, groups: np.ndarray, is_test: np.ndarray, where: str) -> None:
    counts = card.counts
    assert counts is not None
    found = (int((~is_test).sum()), int(is_test.sum()), len(set(groups.tolist())))
    expected = (counts.train, counts.test, counts.groups)
    if found != expected:
        raise TaskError(
            f"{where}: train/test/groups = {found[0]}/{found[1]}/{found[2]} but the card expects "
            f"{expected[0]}/{expected[1]}/{expected[2]}; rebuild with python -m sld.corpus.build"
        )
