"""Finding and loading tasks: the curated corpus by name, a user's CSV, Parquet or JSON file
(with an optional card beside it), or a pandas DataFrame.

Keyword options of :func:`load_task` override the card; for bare data they are the card. Each
option is checked (:mod:`sld.corpus._merge`) and named in messages as the caller wrote it
(:mod:`sld.corpus.options`); the loaded rows are split and checked in :mod:`sld.corpus._rows`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sld.corpus._merge import Options, linear_hint, log_scale_fix, merge, origins, rule_where
from sld.corpus._rows import (
    check_counts,
    check_positive,
    constant_input_notes,
    kept_rows,
    linear_scale_note,
    rule_columns,
    skipped_note,
    suffix_notes,
    test_rows,
    thinned_rows,
)
from sld.corpus.card import TaskCard, card_from_dict, read_card, writable
from sld.corpus.files import DATA_SUFFIXES, column_names
from sld.corpus.options import Naming, option_hint, option_name
from sld.corpus.repeats import check_duplicates, duplicate_note
from sld.corpus.table import Table, frame_table, read_table
from sld.corpus.task import Task, make_task, rehearsal
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
    rows: str | None = None,
    test: str | None = None,
    aliases: Mapping[str, str] | None = None,
    log_scale: bool | Mapping[str, bool] | None = None,
    validation_scale: str | None = None,
    max_params: int | None = None,
    monotone: Mapping[str, str | int] | None = None,
    name: str | None = None,
    rehearse: bool = False,
    named_as: Naming = "keywords",
) -> Task:
    """Load a curated task by name, a data file, or a pandas DataFrame.

    A file is a CSV, Parquet or JSON file (``x.csv`` / ``x.parquet`` / ``x.jsonl``, with a
    card ``x.toml`` beside it if any; :mod:`sld.corpus.files`), or the ``x.toml`` card itself.
    A DataFrame has no card: the options describe it.

    ``inputs``/``outputs``: column names (or a card's aliases) to use, in order;
    ``group``: the column naming each row's group (unset: one group ``all``);
    ``rows``: a rule keeping only some rows of the file (``step == 249000``, ``loss < 10``;
    the grammar of test rules, which may also name the outputs), the others never used;
    ``test``: a rule selecting test rows (:mod:`sld.corpus.rules`), else the data's
    ``split`` column (``train``/``test``) decides; ``aliases``: alias -> input name;
    ``log_scale``: one bool for all inputs or a mapping per input (unset: card value, else
    True when every value is > 0); ``validation_scale``: input ordering the validation slice
    (default: card value, else the first input, which ``task.notes`` then says);
    ``max_params``: the parameter limit of a law; ``monotone``: input -> ``increasing`` /
    ``decreasing`` (or ``inc``/``dec``, ``+1``/``-1``), the direction the outputs move as the
    input grows. Options override the card. ``rehearse``: the task's rehearsal instead
    (:func:`sld.corpus.task.rehearsal`: the validation slice held out as the test rows, the
    real test rows never loaded). ``named_as="flags"``: messages name the
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
    if data_path is not None and not curated and not data_path.exists():
        raise TaskError(f"{data_path}: file not found; check the path")
    where = str(data_path) if data_path is not None else "DataFrame"
    options = Options(
        inputs=inputs,
        outputs=outputs,
        group=group,
        rows=rows,
        test=test,
        aliases=aliases,
        log_scale=log_scale,
        validation_scale=validation_scale,
        max_params=max_params,
        monotone=monotone,
    )
    default_name = str(source) if curated else data_path.stem if data_path is not None else "frame"

    @cache  # read once, and only when needed: a hint, or the columns a rule may name
    def header() -> list[str]:
        if frame is not None:
            return [str(c) for c in frame.columns]
        return column_names(data_path) if data_path is not None else []

    spec, notes = merge(
        base,
        options,
        default_name=default_name,
        name=name,
        curated=curated,
        naming=naming,
        card_path=card_path,
        where=where,
        columns=header,
    )
    renamed: dict[str, str] = {}  # law name -> column, for outputs a law cannot write
    if not curated:
        renamed = _law_names(spec)
        notes = (*notes, *(_renamed_note(c, n) for n, c in renamed.items()))
    explicit_log = {v["name"] for v in spec["inputs"] if "log_scale" in v}
    card = card_from_dict(
        spec,
        where=str(card_path or data_path or "DataFrame"),
        what="card field" if card_path is not None else "setting",
    )
    group_column = CURATED_GROUP_COLUMN if curated else card.group_column
    output_columns = [renamed.get(n, n) for n in card.output_names]
    kinds = {n: "input" for n in card.input_names} | {n: "output" for n in output_columns}
    extra, text_columns = (
        ([], []) if curated else rule_columns(card, header(), group_column=group_column)
    )
    kinds |= {n: "test-rule" for n in [*extra, *text_columns]}
    table_options = dict(
        numeric=[*card.input_names, *output_columns, *extra],
        group_column=group_column,
        kinds=kinds,
        origins=origins(card, options, naming=naming, card_path=card_path),
        read_split=curated or card.split.source is not None,
        text=text_columns,
        skip_missing=not curated,  # your own sweep may hold runs that crashed; ours may not
    )
    if frame is not None:
        table = frame_table(frame, where=where, **table_options)  # type: ignore[arg-type]
    else:
        assert data_path is not None
        table = read_table(data_path, **table_options)  # type: ignore[arg-type]
    for name, column in renamed.items():
        table.values[name] = table.values[column]
    if card.rows is not None:
        rows_where = rule_where(
            where, option_name("rows", naming) if rows is not None else None, card_path, key="rows"
        )
        keep = kept_rows(
            card,
            table,
            group_column=group_column,
            where=rows_where,
            extra=extra,
            header=[] if curated else header(),
        )
        notes = (*notes, f"{rows_where} {card.rows!r} keeps {int(keep.sum())} of {keep.size} rows")
        table = table.take(keep)
    skipped = skipped_note(table)
    if skipped and card.rows is not None:  # a row with no value cannot be judged by the rule
        skipped += "; counted before the rows rule, which may have left them out anyway"
    notes = (*notes, *([skipped] if skipped else []), *suffix_notes(table))
    logs = {
        v.name: v.log_scale if v.name in explicit_log else bool(np.all(table.values[v.name] > 0))
        for v in card.inputs
    }
    if not curated:  # a curated card's scales are its author's design
        linear = (
            linear_scale_note(table, v.name, hint=linear_hint(v.name, naming))
            for v in card.inputs
            if v.name not in explicit_log
        )
        notes = (*notes, *(note for note in linear if note is not None))
    for var in [*card.inputs, *card.outputs]:
        if logs.get(var.name, var.log_scale):
            check_positive(
                table,
                var.name,
                where,
                fix=log_scale_fix(var.name, options, naming=naming, card_path=card_path),
            )
    test_option = option_name("test", naming)
    is_test = test_rows(
        card,
        table,
        group_column=group_column,
        where=where,
        verify=curated and test is None,
        rule_where=rule_where(where, test_option if test is not None else None, card_path),
        fix=f"pass {option_hint('test', naming, _rule_example(card, table, naming))}, "
        "set split.test in a card",
        extra=extra,
        header=[] if curated else header(),
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
    scale = (
        np.prod([table.values[n] for n in card.scale_inputs], axis=0) if card.scale_inputs else None
    )
    keep, thinned = thinned_rows(
        table,
        is_test,
        scale,
        scale_name=card.validation.scale,
        choose=option_hint("rows", naming, "RULE"),
    )
    if thinned is not None:
        table, is_test = table.take(keep), is_test[keep]
        notes = (*notes, thinned)
    X = np.column_stack([table.values[n] for n in card.input_names])
    y = np.column_stack([table.values[n] for n in card.output_names])
    fix = f"drop it from {option_name('inputs', naming)}" if inputs is not None else "drop it"
    notes = (*notes, *constant_input_notes(card.input_names, X, is_test, fix=fix))
    if curated and not card.allow_duplicate_inputs:
        check_duplicates(table, X, where)
    elif not card.allow_duplicate_inputs:
        repeats = duplicate_note(table, X, y, outputs=card.output_names, where=where)
        notes = (*notes, *([repeats] if repeats else []))
    if curated and test is None and group is None and rows is None and card.counts is not None:
        check_counts(card, table.groups, is_test, where)
    assembly: dict[str, Any] = dict(
        log_scale=logs,
        scale_fix=f"choose another input with {option_name('validation_scale', naming)}",
        monotone_fix=lambda read: _monotone_fix(read, naming, aliases=card.aliases),
        note_folds=not curated,  # a curated card's fold count is its author's design
    )
    task = make_task(
        card, groups=table.groups, X=X, y=y, is_test=is_test, where=where, notes=notes, **assembly
    )
    if not rehearse:
        return task
    return rehearsal(task, where=where, notes=notes, **assembly)


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
    if path.suffix == ".toml":  # the data beside the card: a CSV first, else another format
        for suffix in DATA_SUFFIXES:
            if path.with_suffix(suffix).is_file():
                return path, path.with_suffix(suffix), False
        return path, path.with_suffix(".csv"), False
    beside = path.with_suffix(".toml")
    return (beside if beside.is_file() else None), path, False


def _law_names(spec: dict[str, Any]) -> dict[str, str]:
    """Give each output a law cannot write on its left (``val.loss``, ``eval/loss``) a name it
    can: its alias where it has a writable one, else the column with every run of other
    characters as ``_`` (``val_loss``), made unique. Rewrites ``spec`` in place; returns
    new name -> column."""
    taken = {v["name"] for v in [*spec["inputs"], *spec["outputs"]]}
    taken |= {v.get("alias") for v in [*spec["inputs"], *spec["outputs"]]} - {None}
    renamed: dict[str, str] = {}
    for var in spec["outputs"]:
        column = var["name"]
        if writable(column):
            continue
        alias = var.get("alias")
        name = alias if isinstance(alias, str) and writable(alias) else None
        if name is None:
            name = re.sub(r"\W+", "_", column).strip("_") or "y"
            name = name if writable(name) else f"y_{name}"
            while name in taken or not writable(name):
                name += "_"
        taken.add(name)
        var["name"] = name
        renamed[name] = column
    return renamed


def _renamed_note(column: str, name: str) -> str:
    return (
        f"output {column!r} is written {name!r} in laws ('{name} = ...') and in the run's "
        "tables, since a law cannot name it as it is"
    )


def _rule_example(card: TaskCard, table: Table, naming: Naming) -> str:
    """A test rule in the data's own terms for the hint: its first input at or above its
    largest value, e.g. ``"params >= 5e+09"``."""
    name = card.input_names[0]
    rule = f"{name} >= {float(np.max(table.values[name])):.3g}"
    return f'"{rule}"' if naming == "flags" else f"'{rule}'"


def _monotone_fix(read: Mapping[str, int], naming: Naming, *, aliases: Mapping[str, str]) -> str:
    """How to pin the directions read from the rows, or turn them off, in the caller's terms
    (an input whose name is not a plain identifier by its alias)."""
    alias_of = {target: alias for alias, target in sorted(aliases.items(), reverse=True)}
    words = {
        name if name.isidentifier() else alias_of.get(name, name): "inc" if sign > 0 else "dec"
        for name, sign in read.items()
    }
    if naming == "flags":
        pinned, none = ",".join(f"{name}:{word}" for name, word in words.items()), "none"
    else:
        pinned, none = repr(words), "{}"
    return (
        f"to keep them pass {option_hint('monotone', naming, pinned)} or a card's [monotone], "
        f"and {option_hint('monotone', naming, none)} for none"
    )
