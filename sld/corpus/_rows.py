"""The rows of a loaded table: which are test rows (the card's rule or the split column), which
rows a rows rule keeps, and the checks and notes on them (positive values on a log scale, the
rows left out or thinned, inputs with one value, the curated card's counts). Rows that repeat a
setting are :mod:`sld.corpus.repeats`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sld.corpus.card import TaskCard
from sld.corpus.rules import parse_rule
from sld.corpus.table import SPLIT_COLUMN, Table
from sld.errors import TaskError


def check_positive(table: Table, column: str, where: str, *, fix: str) -> None:
    bad = np.flatnonzero(table.values[column] <= 0)
    if bad.size:
        row = bad[0]
        raise TaskError(
            f"{where} {table.row(row)}, column {column!r}: value "
            f"{float(table.values[column][row])!r} is not positive but {column!r} is on a log "
            f"scale; {fix}"
        )


def linear_scale_note(table: Table, column: str, *, decades: float = 2.0, hint: str) -> str | None:
    """Why ``column`` is taken on a linear scale when most of it looks like a log-scale input.

    When its positive values span at least ``decades`` decades (largest / smallest >= 10**decades)
    and some value is not positive, the default keeps the column linear because of those values,
    so no law may take a power or a log of it. A typo in one row would do that silently; the note
    names the first such row and ``hint`` (how to keep the column linear and silence the note).
    None when every value is positive or the positive values span less.
    """
    values = table.values[column]
    bad = np.flatnonzero(values <= 0)
    positive = values[values > 0]
    if not bad.size or not positive.size or positive.max() < positive.min() * 10**decades:
        return None
    row = bad[0]
    return (
        f"{column!r} is taken on a linear scale, so the search proposes no power or log of it: "
        f"{bad.size} of its {values.size} values {'is' if bad.size == 1 else 'are'} not "
        f"positive ({table.row(row)}: "
        f"{float(values[row]):g}) though the others span {positive.min():.3g} to "
        f"{positive.max():.3g}; fix those rows if they are typos, or pass {hint} to keep it linear"
    )


def test_rows(
    card: TaskCard,
    table: Table,
    *,
    group_column: str | None,
    where: str,
    verify: bool,
    rule_where: str,
    fix: str,
    extra: Sequence[str] = (),
    header: Sequence[str] = (),
) -> np.ndarray:
    """Bool (rows,) of test rows: the card's rule if it has one, else the split column.

    ``verify``: the file's split column must agree with the rule (curated files).
    ``rule_where`` prefixes messages about the rule; ``fix`` says how to give one.
    ``extra``: other numeric columns of ``table`` the rule may read (:func:`rule_columns`;
    its text columns are ``table.text``).
    """
    if card.split.test is None:
        if table.split is None:
            raise TaskError(
                f"{where}: no test rule and no {SPLIT_COLUMN!r} column; {fix} "
                "or add a split column holding train/test"
            )
        return table.split == "test"
    is_test = _table_rule(
        card, table, None, where=rule_where, group_column=group_column, extra=extra, header=header
    )
    if verify and table.split is not None:
        disagree = np.flatnonzero(is_test != (table.split == "test"))
        if disagree.size:
            raise TaskError(
                f"{where} {table.row(disagree[0])}: the split column disagrees with the "
                "card's test rule; rebuild with python -m sld.corpus.build"
            )
    return is_test


def kept_rows(
    card: TaskCard,
    table: Table,
    *,
    group_column: str | None,
    where: str,
    extra: Sequence[str],
    header: Sequence[str] = (),
) -> np.ndarray:
    """Bool (rows,) of the rows the card's ``rows`` rule keeps (the grammar and names of a
    test rule, :func:`evaluate_test_rule`); one-line TaskError when it keeps none."""
    assert card.rows is not None
    keep = _table_rule(
        card,
        table,
        card.rows,
        where=where,
        group_column=group_column,
        extra=[*extra, *card.output_names],
        header=header,
    )
    if not keep.any():
        raise TaskError(
            f"{where} {card.rows!r} keeps none of the {table.n_rows} rows; loosen it, or leave "
            "it out to use every row"
        )
    return keep


def _table_rule(
    card: TaskCard,
    table: Table,
    rule: str | None,
    *,
    where: str,
    group_column: str | None,
    extra: Sequence[str],
    header: Sequence[str],
) -> np.ndarray:
    """:func:`evaluate_test_rule` on a table's rows, its text columns readable by the rule."""
    return evaluate_test_rule(
        card,
        {**table.values, **table.text},
        table.groups,
        where=where,
        group_column=group_column,
        extra=[*extra, *table.text],
        rule=rule,
        header=header,
    )


def evaluate_test_rule(
    card: TaskCard,
    values: Mapping[str, np.ndarray],
    groups: np.ndarray,
    *,
    where: str,
    group_column: str | None = None,
    extra: Sequence[str] = (),
    rule: str | None = None,
    header: Sequence[str] = (),
) -> np.ndarray:
    """Bool (rows,) of the rows the card's ``split.test`` rule (or ``rule``) selects.

    The rule may name inputs, their aliases, ``group``, the group column and the ``extra``
    columns of ``values``. ``where`` prefixes every message about the rule, and one about a
    name it does not know lists ``header`` (the file's columns, any of which a rule may name)
    with those names.
    """
    text = rule if rule is not None else card.split.test
    assert text is not None
    columns: dict[str, np.ndarray] = {n: np.asarray(values[n]) for n in (*extra, *card.input_names)}
    columns |= {alias: columns[target] for alias, target in card.aliases.items()}
    columns["group"] = np.asarray(groups).astype(str)
    if group_column is not None:
        columns[group_column] = columns["group"]
    # a test rule chooses rows by what the runs were, never by their results (the outputs)
    outputs = set() if rule is not None else set(card.output_names)
    listed = {h for h in header if h.isidentifier() and h not in outputs}
    parsed = parse_rule(text, names={*columns, *listed}, where=where)
    unread = sorted(parsed.names - set(columns))
    if unread:  # only when the caller read fewer columns than the rule names (rule_columns)
        raise TaskError(f"{where}: column {unread[0]!r} was not read; name it in the rule alone")
    return parsed.evaluate(columns, n_rows=len(columns["group"]))


def rule_columns(
    card: TaskCard, header: Sequence[str], *, group_column: str | None
) -> tuple[list[str], list[str]]:
    """Columns of the file (``header``) that the card's test and rows rules name besides the
    inputs, their aliases, the outputs and the group: (numeric, text), the text ones those a
    rule compares with a string (``dataset == "rw"``), the rest read as numbers (``flops >=
    1e19``), both read for the rules alone. Empty without a rule, or for one that does not
    parse (:func:`test_rows` and :func:`kept_rows` report that)."""
    taken = {*card.input_names, *card.aliases, *card.output_names, "group"}
    taken |= {group_column} if group_column else set()
    named: set[str] = set()
    text: set[str] = set()
    for source in (card.split.test, card.rows):
        if source is None:
            continue
        try:
            rule = parse_rule(source, names={*header, *taken})
        except TaskError:
            continue
        named |= {n for n in rule.names if n in header and n not in taken}
        text |= rule.text_names()
    return sorted(named - text), sorted(named & text)


MAX_TRAIN_ROWS = 4096
"""Training rows a group is fitted on at most (:func:`thinned_rows`): above every curated
task's largest group (lr_bsz, 1,730 rows), so none of them changes, and far more rows than a
law of ten parameters needs, while a 50,000-row sweep's fits cost ten times less."""


def thinned_rows(
    table: Table,
    is_test: np.ndarray,
    scale: np.ndarray | None,
    *,
    scale_name: str | None,
    choose: str,
    cap: int | None = None,
) -> tuple[np.ndarray, str | None]:
    """(bool mask over the table's rows, note or None): every test row, and in each group at
    most ``cap`` training rows, evenly spaced in rank along ``scale`` (the validation scale's
    values, so the smallest and the largest stay and each stretch keeps its share), or in
    file order without one. All rows and None when no group has more than ``cap``. ``choose``
    names the option that picks rows instead (``--rows``); ``cap`` defaults to
    :data:`MAX_TRAIN_ROWS`."""
    cap = MAX_TRAIN_ROWS if cap is None else cap
    keep = np.ones(table.n_rows, dtype=bool)
    thinned: list[tuple[str, int]] = []
    for group in dict.fromkeys(table.groups.tolist()):
        rows = np.flatnonzero((table.groups == group) & ~is_test)
        if rows.size <= cap:
            continue
        order = rows[np.argsort(scale[rows], kind="stable")] if scale is not None else rows
        chosen = order[np.unique(np.linspace(0, rows.size - 1, cap).round().astype(np.int64))]
        keep[rows] = False
        keep[chosen] = True
        thinned.append((str(group), int(rows.size)))
    if not thinned:
        return keep, None
    (group, size), more = thinned[0], len(thinned) - 1
    along = f"evenly spaced along {scale_name}" if scale_name else "evenly spaced in file order"
    return keep, (
        f"group {group!r} has {size} training rows"
        + (f" (and {more} more groups over {cap})" if more else "")
        + f"; laws are fitted on {cap} of them, {along}, which is plenty for a law of ten "
        f"parameters and costs a fraction of the time and memory; every test row is kept, and "
        f"{choose} picks the rows yourself"
    )


def constant_input_notes(
    names: Sequence[str], X: np.ndarray, is_test: np.ndarray, *, fix: str
) -> list[str]:
    """One note per input that takes a single value on every training row: no law can learn
    how the output moves with it, and a law that names it fits its terms to nothing. ``fix``
    says how to drop it."""
    notes = []
    for j, name in enumerate(names):
        values = np.unique(X[~is_test, j])
        if values.size == 1:
            test_values = np.unique(X[is_test, j])
            differs = test_values.size > 1 or test_values[0] != values[0]
            notes.append(
                f"{name!r} takes one value ({values[0]:g}) on every training row, so no law can "
                "learn how the output moves with it"
                + ("; the test rows move it, so their predictions are guesses" if differs else "")
                + f"; {fix}"
            )
    return notes


def skipped_note(table: Table, *, shown: int = 3) -> str | None:
    """Which rows were left out because a numeric column held nothing there (a run that
    crashed, or is still running, leaves its loss empty). None when none were."""
    if not table.skipped:
        return None
    listed = "; ".join(
        f"{table.row_word} {line}: {column!r} " + (f"is {cell!r}" if cell else "is empty")
        for line, column, cell in table.skipped[:shown]
    )
    more = f"; and {len(table.skipped) - shown} more" if len(table.skipped) > shown else ""
    count = len(table.skipped)
    return (
        f"left out {count} {'row that holds' if count == 1 else 'rows that hold'} no value "
        f"({listed}{more}), "
        "as a run that crashed leaves them; fill them in to use them"
    )


def suffix_notes(table: Table) -> list[str]:
    """One note per column holding numbers written with a size suffix (``70M``), saying how
    they were read."""
    notes = []
    for column, (line, cell) in table.suffixed.items():
        value = table.values[column]
        notes.append(
            f"{column!r} holds numbers with a size suffix ({table.row_word} {line}: {cell!r}), "
            "read with k = 1e3, "
            f"M = 1e6, B or G = 1e9, T = 1e12 (either case); its values span "
            f"{value.min():.3g} to {value.max():.3g}"
        )
    return notes


def check_counts(card: TaskCard, groups: np.ndarray, is_test: np.ndarray, where: str) -> None:
    counts = card.counts
    assert counts is not None
    found = (int((~is_test).sum()), int(is_test.sum()), len(set(groups.tolist())))
    expected = (counts.train, counts.test, counts.groups)
    if found != expected:
        raise TaskError(
            f"{where}: train/test/groups = {found[0]}/{found[1]}/{found[2]} but the card expects "
            f"{expected[0]}/{expected[1]}/{expected[2]}; rebuild with python -m sld.corpus.build"
        )
