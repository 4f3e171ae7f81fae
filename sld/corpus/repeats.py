"""Rows that repeat a setting (the same group and inputs): seeds, copies, or rows that differ in
a column the inputs leave out.

The curated corpus refuses them unless its card allows them (:func:`check_duplicates`); your own
data keeps them with a note, and refuses them only where the inputs cannot explain the outputs
(:func:`duplicate_note`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sld.corpus.table import Table
from sld.errors import TaskError


def check_duplicates(table: Table, X: np.ndarray, where: str) -> None:
    """One-line TaskError at the first row that repeats an earlier row's group and inputs."""
    pairs = duplicate_pairs(table, X)
    if pairs:
        first, second = pairs[0]
        raise TaskError(
            f"{where} {table.row_word}s {first} and {second}: same group and inputs twice; "
            "drop or average one (or set allow_duplicate_inputs = true in the card)"
        )


def duplicate_pairs(table: Table, X: np.ndarray) -> list[tuple[int, int]]:
    """(line of the first row, line of the repeat) for every row whose group and inputs an
    earlier row already has, in file order."""
    first_line: dict[tuple[object, ...], int] = {}
    pairs: list[tuple[int, int]] = []
    for group, row, line in zip(table.groups, X.tolist(), table.lines.tolist(), strict=True):
        key = (group, *row)
        if key in first_line:
            pairs.append((first_line[key], line))
        else:
            first_line[key] = line
    return pairs


def duplicate_note(
    table: Table, X: np.ndarray, y: np.ndarray, *, outputs: Sequence[str], where: str
) -> str | None:
    """Why your own rows that repeat an earlier row's group and inputs are kept: repeated seeds
    do that, and each is fitted as a row of its own. Rows whose outputs repeat too are named
    apart (a file pasted twice makes them, and they count twice). None without repeats.

    One-line TaskError when rows that share a setting (group and inputs) differ in an output
    by at least as much as the settings do: when the share of the output's within-group
    variance that lies among rows of one setting, ``sum (y - setting mean)**2 / sum (y -
    group mean)**2``, is at least 1/2, no law of these inputs can reach R² 0.5 on them, so
    the rows differ in a column the inputs leave out (a training step, a learning rate).
    """
    pairs = duplicate_pairs(table, X)
    if not pairs:
        return None
    where_line = {int(line): i for i, line in enumerate(table.lines.tolist())}
    settings = [(g, *row) for g, row in zip(table.groups, X.tolist(), strict=True)]
    _, setting_of, sizes = np.unique(
        np.array([repr(k) for k in settings]), return_inverse=True, return_counts=True
    )
    _, group_of = np.unique(table.groups.astype(str), return_inverse=True)
    first, second = pairs[0]
    for j, name in enumerate(outputs):
        share = _within_share(y[:, j], setting_of, group_of)
        if share >= 0.5:
            a, b = where_line[first], where_line[second]
            raise TaskError(
                f"{where} {table.row_word}s {first} and {second}: same group and inputs but "
                f"{name!r} is {y[a, j]:.4g} and {y[b, j]:.4g}, and {share:.0%} of its variation "
                "lies among rows with the same inputs, so no law of them could explain it; name "
                "the column they differ in (a step, a learning rate) as an input, or keep one "
                "row per setting"
            )
    copies = [(a, b) for a, b in pairs if np.array_equal(y[where_line[a]], y[where_line[b]])]
    note = (
        f"{len(pairs)} {'row repeats' if len(pairs) == 1 else 'rows repeat'} the group and "
        f"inputs of an earlier row (first: {table.row_word}s {first} and {second}; at most "
        f"{int(sizes.max())} rows share one setting), as repeated seeds do; each is fitted as a "
        "row of its own"
    )
    if copies:
        a, b = copies[0]
        note += (
            f", but {len(copies)} of them {'repeats' if len(copies) == 1 else 'repeat'} the "
            f"outputs too ({table.row_word}s {a} and {b}) and so "
            f"{'counts' if len(copies) == 1 else 'count'} twice: drop them if they are copies"
        )
    return note


def _within_share(values: np.ndarray, setting_of: np.ndarray, group_of: np.ndarray) -> float:
    """Share of ``values``' within-group sum of squares that lies within settings (0 to 1)."""

    def spread(labels: np.ndarray) -> float:
        sums = np.bincount(labels, weights=values)
        counts = np.bincount(labels)
        means = sums[labels] / counts[labels]
        return float(np.sum((values - means) ** 2))

    total = spread(group_of)
    return spread(setting_of) / total if total > 0 else 0.0
