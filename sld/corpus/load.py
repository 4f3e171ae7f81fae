"""Finding and loading tasks: the curated corpus by name, a user's CSV or Parquet file (with an
optional card beside it), or a pandas DataFrame.

Keyword options of :func:`load_task` override the card; for bare data they are the card. Each
option is checked here and named in messages as the caller wrote it (:mod:`sld.corpus.options`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sld.corpus.card import (
    RESERVED_NAMES,
    TaskCard,
    card_from_dict,
    default_aliases,
    read_card,
    scale_factors,
)
from sld.corpus.options import DATA_OPTIONS, Naming, direction, option_hint, option_name
from sld.corpus.rules import parse_rule
from sld.corpus.table import PARQUET_SUFFIXES, SPLIT_COLUMN, Table, frame_table, read_table
from sld.corpus.task import Task, make_task
from sld.errors import TaskError
from sld.resources import datasets_dir

CURATED_GROUP_COLUMN = "group"


def list_tasks() -> list[str]:
    """Names of the curated tasks, sorted."""
    root = datasets_dir()
    return sorted(p.name for p in root.iterdir() if (p / "card.toml").is_file())


def is_curated(source: object) -> bool:
    """Whether ``source`` names a curated task (rather than a file or a DataFrame)."""
    return isinstance(source, str) and "/" not in source and source in list_tasks()


def load_card(name: str) -> TaskCard:
    """The card of curated task ``name``; TaskError listing the valid names when unknown."""
    tasks = list_tasks()
    if name not in tasks:
        raise TaskError(f"unknown task {name!r}; curated tasks are: {', '.join(tasks)}")
    return read_card(datasets_dir() / name / "card.toml", curated=True)


def load_task(
    source: str | PathLike[str] | pd.DataFrame,
    *,
    inputs: Iterable[str] | None = None,
    outputs: Iterable[str] | None = None,
    group: str | None = None,
    test: str | None = None,
    aliases: Mapping[str, str] | None = None,
    log_scale: bool | Mapping[str, bool] | None = None,
    validation_scale: str | None = None,
    max_params: int | None = None,
    monotone: Mapping[str, str | int] | None = None,
    name: str | None = None,
    named_as: Naming = "keywords",
) -> Task:
    """Load a curated task by name, a data file, or a pandas DataFrame.

    A file is a CSV or a Parquet file (``x.csv`` / ``x.parquet``, with a card ``x.toml``
    beside it if any), or the ``x.toml`` card itself. A DataFrame has no card: the options
    describe it.

    ``inputs``/``outputs``: column names (or a card's aliases) to use, in order;
    ``group``: the column naming each row's group (unset: one group ``all``);
    ``test``: a rule selecting test rows (:mod:`sld.corpus.rules`), else the data's
    ``split`` column (``train``/``test``) decides; ``aliases``: alias -> input name;
    ``log_scale``: one bool for all inputs or a mapping per input (unset: card value, else
    True when every value is > 0); ``validation_scale``: input ordering the validation slice
    (default: card value, else the first input, which ``task.notes`` then says);
    ``max_params``: the parameter limit of a law; ``monotone``: input -> ``increasing`` /
    ``decreasing`` (or ``inc``/``dec``, ``+1``/``-1``), the direction the outputs move as the
    input grows. Options override the card. ``named_as="flags"``: messages name the
    command-line flags (``--inputs``) rather than these keywords. Every problem raises a
    one-line TaskError.
    """
    naming: Naming = named_as
    frame: pd.DataFrame | None = source if isinstance(source, pd.DataFrame) else None
    card_path: Path | None = None
    data_path: Path | None = None
    curated = False
    if frame is None:
        card_path, data_path, curated = _locate(source)  # type: ignore[arg-type]
    base: dict[str, Any] = {}
    if card_path is not None:
        card = read_card(card_path, curated=curated)
        # only what the card file says, so unset fields still get data-driven defaults
        base = card.model_dump(exclude_unset=True, exclude_none=True)
        if not curated and card.data is not None:
            data_path = card_path.parent / card.data
    where = str(data_path) if data_path is not None else "DataFrame"
    options = _Options(
        inputs=inputs,
        outputs=outputs,
        group=group,
        test=test,
        aliases=aliases,
        log_scale=log_scale,
        validation_scale=validation_scale,
        max_params=max_params,
        monotone=monotone,
    )
    default_name = str(source) if curated else data_path.stem if data_path is not None else "frame"
    spec, notes = _merge(
        base,
        options,
        default_name=default_name,
        name=name,
        curated=curated,
        naming=naming,
        card_path=card_path,
        where=where,
    )
    explicit_log = {v["name"] for v in spec["inputs"] if "log_scale" in v}
    card = card_from_dict(
        spec,
        where=str(card_path or data_path or "DataFrame"),
        what="card field" if card_path is not None else "setting",
    )
    group_column = CURATED_GROUP_COLUMN if curated else card.group_column
    kinds = {n: "input" for n in card.input_names} | {n: "output" for n in card.output_names}
    table_options = dict(
        numeric=[*card.input_names, *card.output_names],
        group_column=group_column,
        kinds=kinds,
        origins=_origins(card, options, naming=naming, card_path=card_path),
        read_split=curated or card.split.source is not None,
    )
    if frame is not None:
        table = frame_table(frame, where=where, **table_options)  # type: ignore[arg-type]
    else:
        assert data_path is not None
        table = read_table(data_path, **table_options)  # type: ignore[arg-type]
    logs = {
        v.name: v.log_scale if v.name in explicit_log else bool(np.all(table.values[v.name] > 0))
        for v in card.inputs
    }
    for var in [*card.inputs, *card.outputs]:
        if logs.get(var.name, var.log_scale):
            _check_positive(
                table,
                var.name,
                where,
                fix=_log_scale_fix(var.name, options, naming=naming, card_path=card_path),
            )
    test_option = option_name("test", naming)
    is_test = _test_rows(
        card,
        table,
        group_column=group_column,
        where=where,
        verify=curated and test is None,
        rule_where=_rule_where(where, test_option if test is not None else None, card_path),
        fix=f"pass {option_hint('test', naming)}, set split.test in a card",
    )
    n_test = int(is_test.sum())
    if n_test == 0:
        raise TaskError(
            f"{where}: the test split is empty; change the test rule ({test_option}) "
            "or the split column"
        )
    if n_test == table.n_rows:
        raise TaskError(
            f"{where}: the train split is empty; change the test rule ({test_option}) "
            "or the split column"
        )
    X = np.column_stack([table.values[n] for n in card.input_names])
    y = np.column_stack([table.values[n] for n in card.output_names])
    if not card.allow_duplicate_inputs:
        _check_duplicates(table, X, where)
    if curated and test is None and group is None and card.counts is not None:
        _check_counts(card, table.groups, is_test, where)
    return make_task(
        card,
        groups=table.groups,
        X=X,
        y=y,
        is_test=is_test,
        log_scale=logs,
        where=where,
        scale_fix=f"choose another input with {option_name('validation_scale', naming)}",
        notes=notes,
    )


@dataclass(frozen=True)
class _Options:
    """The caller's data options (None: not given); see :func:`load_task`."""

    inputs: Iterable[str] | None
    outputs: Iterable[str] | None
    group: str | None
    test: str | None
    aliases: Mapping[str, str] | None
    log_scale: bool | Mapping[str, bool] | None
    validation_scale: str | None
    max_params: int | None
    monotone: Mapping[str, str | int] | None


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
        for suffix in PARQUET_SUFFIXES:  # the card of a Parquet file, when no CSV is beside it
            if path.with_suffix(suffix).is_file() and not path.with_suffix(".csv").is_file():
                return path, path.with_suffix(suffix), False
        return path, path.with_suffix(".csv"), False
    beside = path.with_suffix(".toml")
    return (beside if beside.is_file() else None), path, False


def _merge(
    base: dict[str, Any],
    options: _Options,
    *,
    default_name: str,
    name: str | None,
    curated: bool,
    naming: Naming,
    card_path: Path | None,
    where: str,
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The effective card as a dict (``base`` with the caller's options applied, each option
    checked and named as the caller wrote it), and the notes on what was guessed."""
    spec = dict(base)
    spec["name"] = name or spec.get("name") or default_name
    if isinstance(options.inputs, str) or isinstance(options.outputs, str):
        raise TaskError(f"{where}: pass inputs and outputs as lists, e.g. inputs=['N', 'D']")
    beside = card_path or _card_beside(where)
    spec["inputs"] = _pick(spec.get("inputs", []), options.inputs, "inputs", naming, beside, where)
    spec["outputs"] = _pick(
        spec.get("outputs", []), options.outputs, "outputs", naming, beside, where
    )
    input_names = [v["name"] for v in spec["inputs"]]
    output_names = [v["name"] for v in spec["outputs"]]
    both = sorted(set(input_names) & set(output_names))
    if both:
        raise TaskError(
            f"{where}: column {both[0]!r} is both an input and an output; remove it from "
            f"{option_name('inputs', naming)} or {option_name('outputs', naming)}"
        )
    if options.aliases is not None:
        _apply_aliases(spec["inputs"], output_names, options.aliases, naming, where)
    default_aliases(spec["inputs"], spec["outputs"])
    known = {v["name"]: v["name"] for v in spec["inputs"]} | {
        v["alias"]: v["name"] for v in spec["inputs"]
    }
    listing = _input_listing(spec["inputs"])
    if options.log_scale is not None:
        _apply_log_scale(spec["inputs"], options.log_scale, known, listing, naming, where)
    if options.group is not None:
        flag = option_name("group", naming)
        if not isinstance(options.group, str) or not options.group.strip():
            raise TaskError(f"{where}: {flag} is empty; name the column holding each row's group")
        if options.group in {*input_names, *output_names}:
            raise TaskError(
                f"{where}: {flag} {options.group!r} is also an input or output; "
                "name the column that holds each row's group"
            )
        spec["group_column"] = options.group
    if options.test is not None:
        spec["split"] = {"test": options.test, "description": "rule given by the caller"}
    elif "split" not in spec:
        spec["split"] = {"source": f"the data's {SPLIT_COLUMN!r} column"}
    validation = dict(spec.get("validation", {}))
    notes: list[str] = []
    if options.validation_scale is not None:
        scale = options.validation_scale
        unknown = [f for f in scale_factors(scale) if f not in known]
        if unknown:
            raise TaskError(
                f"{where}: {option_name('validation_scale', naming)} {scale!r}: {unknown[0]!r} "
                f"is not an input; choose one of {listing}, or a product such as 'N*D'"
            )
        validation["scale"] = scale
    elif not curated and "validation" not in base and spec["inputs"]:
        first = spec["inputs"][0]
        validation["scale"] = first["name"]
        notes.append(
            f"the validation slice holds each group's largest-{first['name']} training rows: "
            f"{first['name']!r} is a guess (the first input); to order it by another input, "
            f"pass {option_hint('validation_scale', naming, 'INPUT')} (one of {listing}) "
            "or set validation.scale in the card"
        )
    spec["validation"] = validation
    if options.max_params is not None:
        limit = options.max_params
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise TaskError(
                f"{where}: {option_name('max_params', naming)} {limit!r} is not a positive "
                "integer; give the largest parameter count a law may have, e.g. 6"
            )
        spec["max_params"] = limit
    if options.monotone is not None:
        spec["monotone"] = _monotone(options.monotone, known, listing, naming, where)
    if not curated:
        spec.pop("counts", None)
    return spec, tuple(notes)


def _card_beside(where: str) -> Path | None:
    return Path(where).with_suffix(".toml") if where != "DataFrame" else None


def _input_listing(inputs: list[dict[str, Any]]) -> str:
    """'N, D' or 'num_params (N), tokens (D)': the inputs as a user may name them."""
    return ", ".join(
        v["name"] if v.get("alias") in (None, v["name"]) else f"{v['name']} ({v['alias']})"
        for v in inputs
    )


def _pick(
    declared: list[dict[str, Any]],
    wanted: Iterable[str] | None,
    option: str,
    naming: Naming,
    card: Path | None,
    where: str,
) -> list[dict[str, Any]]:
    flag = option_name(option, naming)
    if wanted is None:
        if not declared:
            in_card = f" or list them as {DATA_OPTIONS[option].card_key}"
            in_card += f" in a card {card.name} beside the data" if card else " in a card"
            raise TaskError(
                f"{where}: no {option} given; pass {option_hint(option, naming)}{in_card}"
            )
        return [dict(v) for v in declared]
    wanted = list(wanted)
    if not wanted:
        raise TaskError(f"{where}: {flag} is empty; name at least one column")
    for column in wanted:
        if not isinstance(column, str) or not column.strip():
            raise TaskError(f"{where}: {flag} holds an empty name; name each column")
    if len(set(wanted)) != len(wanted):
        twice = next(c for c in wanted if wanted.count(c) > 1)
        raise TaskError(f"{where}: {flag} names {twice!r} twice; list each column once")
    by_key = {v["name"]: v for v in declared} | {v["alias"]: v for v in declared if v.get("alias")}
    return [dict(by_key.get(n, {"name": n})) for n in wanted]


def _apply_aliases(
    inputs: list[dict[str, Any]],
    outputs: list[str],
    aliases: Mapping[str, str],
    naming: Naming,
    where: str,
) -> None:
    flag = option_name("aliases", naming)
    names = [v["name"] for v in inputs]
    if not isinstance(aliases, Mapping):
        raise TaskError(
            f"{where}: {flag} must map alias -> input, e.g. {option_hint('aliases', naming)}"
        )
    targets: set[str] = set()
    for alias, target in aliases.items():
        if target not in names:
            raise TaskError(
                f"{where}: {flag} gives alias {alias!r} to {target!r}, which is not an input; "
                f"aliases map alias -> input name, inputs are: {', '.join(names)}"
            )
        if not isinstance(alias, str) or not alias.isidentifier():
            raise TaskError(
                f"{where}: {flag} alias {alias!r} of {target!r} is not a valid identifier; "
                "use letters, digits and _"
            )
        if alias in RESERVED_NAMES:
            raise TaskError(
                f"{where}: {flag} alias {alias!r} of {target!r} is a reserved name; pick another"
            )
        if alias in {*names, *outputs} and alias != target:
            raise TaskError(
                f"{where}: {flag} alias {alias!r} of {target!r} clashes with a column name; "
                "pick another"
            )
        if target in targets:
            raise TaskError(f"{where}: {flag} gives {target!r} two aliases; keep one")
        targets.add(target)
        for var in inputs:
            if var["name"] == target:
                var["alias"] = alias


def _apply_log_scale(
    inputs: list[dict[str, Any]],
    log_scale: bool | Mapping[str, bool],
    known: Mapping[str, str],
    listing: str,
    naming: Naming,
    where: str,
) -> None:
    flag = option_name("log_scale", naming)
    if isinstance(log_scale, bool):
        for var in inputs:
            var["log_scale"] = log_scale
        return
    if not isinstance(log_scale, Mapping):
        raise TaskError(
            f"{where}: {flag} must be true/false or per input, e.g. {option_hint('log_scale', naming)}"
        )
    for key, value in log_scale.items():
        if key not in known:
            raise TaskError(
                f"{where}: {flag} names {key!r}, which is not an input; inputs: {listing}"
            )
        if not isinstance(value, bool | np.bool_):
            raise TaskError(f"{where}: {flag} value {value!r} for {key!r} is not true/false")
        for var in inputs:
            if var["name"] == known[key]:
                var["log_scale"] = bool(value)


def _monotone(
    monotone: Mapping[str, str | int],
    known: Mapping[str, str],
    listing: str,
    naming: Naming,
    where: str,
) -> dict[str, str]:
    flag = option_name("monotone", naming)
    if not isinstance(monotone, Mapping):
        raise TaskError(
            f"{where}: {flag} must map input -> direction, e.g. {option_hint('monotone', naming)}"
        )
    out: dict[str, str] = {}
    for key, word in monotone.items():
        if key not in known:
            raise TaskError(
                f"{where}: {flag} names {key!r}, which is not an input; inputs: {listing}"
            )
        try:
            out[key] = direction(word)
        except ValueError as exc:
            raise TaskError(f"{where}: {flag} for {key!r}: {exc}") from None
        if [known[k] for k in out].count(known[key]) > 1:
            raise TaskError(f"{where}: {flag} names input {known[key]!r} twice; keep one entry")
    return out


def _origins(
    card: TaskCard, options: _Options, *, naming: Naming, card_path: Path | None
) -> dict[str, str]:
    """Column -> what named it (a flag or keyword, else the card), for missing-column messages."""
    origins: dict[str, str] = {}
    in_card = f"{card_path.name}" if card_path is not None else None
    for option, columns in (
        ("inputs", card.input_names),
        ("outputs", card.output_names),
        ("group", [card.group_column] if card.group_column else []),
    ):
        given = getattr(options, option) is not None
        for column in columns:
            if given:
                origins[column] = option_name(option, naming)
            elif in_card is not None:
                origins[column] = f"{DATA_OPTIONS[option].card_key} in {in_card}"
    return origins


def _rule_where(where: str, option: str | None, card_path: Path | None) -> str:
    """What a test-rule message starts with: the data, then the flag or card key it came from."""
    if option is not None:
        return f"{where}: {option} rule"
    if card_path is not None:
        return f"{where}: split.test rule of {card_path.name}"
    return f"{where}: test rule"


def _log_scale_fix(
    column: str, options: _Options, *, naming: Naming, card_path: Path | None
) -> str:
    """How to take ``column`` off the log scale, in the words the user set it with."""
    value = f"{column}:no" if naming == "flags" else f"{{{column!r}: False}}"
    fix = f"fix the value or pass {option_hint('log_scale', naming, value)}"
    if options.log_scale is None and card_path is not None:
        fix += f" (or set log_scale = false for it in {card_path.name})"
    return fix


def _check_positive(table: Table, column: str, where: str, *, fix: str) -> None:
    bad = np.flatnonzero(table.values[column] <= 0)
    if bad.size:
        row = bad[0]
        raise TaskError(
            f"{where} {table.row(row)}, column {column!r}: value "
            f"{float(table.values[column][row])!r} is not positive but {column!r} is on a log "
            f"scale; {fix}"
        )


def _test_rows(
    card: TaskCard,
    table: Table,
    *,
    group_column: str | None,
    where: str,
    verify: bool,
    rule_where: str,
    fix: str,
) -> np.ndarray:
    """Bool (rows,) of test rows: the card's rule if it has one, else the split column.

    ``verify``: the file's split column must agree with the rule (curated files).
    ``rule_where`` prefixes messages about the rule; ``fix`` says how to give one.
    """
    if card.split.test is None:
        if table.split is None:
            raise TaskError(
                f"{where}: no test rule and no {SPLIT_COLUMN!r} column; {fix} "
                "or add a split column holding train/test"
            )
        return table.split == "test"
    is_test = evaluate_test_rule(
        card, table.values, table.groups, where=rule_where, group_column=group_column
    )
    if verify and table.split is not None:
        disagree = np.flatnonzero(is_test != (table.split == "test"))
        if disagree.size:
            raise TaskError(
                f"{where} {table.row(disagree[0])}: the split column disagrees with the "
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

    The rule may name inputs, their aliases, ``group`` and the group column. ``where``
    prefixes every message about the rule.
    """
    assert card.split.test is not None
    columns: dict[str, np.ndarray] = {n: np.asarray(values[n]) for n in card.input_names}
    columns |= {alias: columns[target] for alias, target in card.aliases.items()}
    columns["group"] = np.asarray(groups).astype(str)
    if group_column is not None:
        columns[group_column] = columns["group"]
    rule = parse_rule(card.split.test, names=columns.keys(), where=where)
    return rule.evaluate(columns, n_rows=len(columns["group"]))


def _check_duplicates(table: Table, X: np.ndarray, where: str) -> None:
    first_line: dict[tuple[object, ...], int] = {}
    for group, row, line in zip(table.groups, X.tolist(), table.lines.tolist(), strict=True):
        key = (group, *row)
        if key in first_line:
            raise TaskError(
                f"{where} {table.row_word}s {first_line[key]} and {line}: same group and inputs twice; "
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
