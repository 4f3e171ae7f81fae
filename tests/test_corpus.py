"""The curated corpus: committed files agree with their cards, splits and validation slices."""

from __future__ import annotations

import ast
import csv
import math
import re

import numpy as np
import pandas as pd
import pytest

from sld.corpus import TaskCard, list_tasks, load_card, load_task
from sld.corpus._rows import evaluate_test_rule
from sld.errors import TaskError
from sld.law import parse_law
from sld.resources import datasets_dir

EXPECTED = {
    "data_constrained_scaling_law": (161, 21, 1),
    "domain_mixture_scaling_law": (80, 24, 4),
    "easy_question_scaling_law": (389, 127, 9),
    "lr_bsz_scaling_law": (1730, 117, 1),
    "moe_scaling_law": (193, 28, 1),
    "overtraining_scaling_law": (95, 9, 3),
    "compute_optimal_scaling_law": (1577, 168, 15),
    "parallel_scaling_law": (36, 12, 2),
    "sft_scaling_law": (504, 42, 42),
    "vocab_scaling_law": (1080, 120, 1),
}
TASKS = sorted(EXPECTED)


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(datasets_dir() / name / "data.csv", dtype={"group": str, "split": str})


def test_list_tasks_names_the_ten_curated_tasks_sorted():
    assert list_tasks() == TASKS


def test_load_card_rejects_unknown_name_listing_valid_ones():
    with pytest.raises(TaskError, match="unknown task 'nope'.*vocab_scaling_law"):
        load_card("nope")


@pytest.mark.parametrize("name", TASKS)
def test_card_counts_match_expected_and_committed_file(name):
    card = load_card(name)
    assert isinstance(card, TaskCard)
    assert card.name == name
    assert (card.counts.train, card.counts.test, card.counts.groups) == EXPECTED[name]
    frame = _data(name)
    assert (frame["split"] == "train").sum() == card.counts.train
    assert (frame["split"] == "test").sum() == card.counts.test
    assert frame["group"].nunique() == card.counts.groups


@pytest.mark.parametrize("name", TASKS)
def test_committed_file_has_card_columns_and_finite_values(name):
    card = load_card(name)
    frame = _data(name)
    assert list(frame.columns) == ["group", "split", *card.input_names, *card.output_names]
    assert set(frame["split"]) == {"train", "test"}
    numbers = frame[[*card.input_names, *card.output_names]].to_numpy(np.float64)
    assert np.isfinite(numbers).all()
    for var in card.inputs:
        if var.log_scale:
            assert (frame[var.name] > 0).all(), var.name


@pytest.mark.parametrize("name", TASKS)
def test_split_column_equals_card_rule(name):
    card = load_card(name)
    frame = _data(name)
    if card.split.test is None:
        assert card.split.source
        return
    values = {n: frame[n].to_numpy(np.float64) for n in card.input_names}
    is_test = evaluate_test_rule(card, values, frame["group"].to_numpy(), where=name)
    assert (is_test == (frame["split"] == "test").to_numpy()).all()


@pytest.mark.parametrize("name", TASKS)
def test_committed_floats_round_trip_exactly(name):
    # every number must be written so float(text) gives back the stored float64
    with open(datasets_dir() / name / "data.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    for row in rows[1:50]:
        for cell in row[2:]:
            value = float(cell)
            assert float(repr(value)) == value
            assert cell in (repr(value), str(int(value)) if value.is_integer() else "")


@pytest.mark.parametrize("name", TASKS)
def test_task_arrays_follow_card_order_and_counts(name):
    task = load_task(name)
    card = task.card
    train_rows, test_rows, n_groups = EXPECTED[name]
    assert task.name == name
    assert task.inputs == card.input_names and task.outputs == card.output_names
    assert task.groups == tuple(sorted(task.groups)) and len(task.groups) == n_groups
    assert task.aliases == {v.alias: v.name for v in card.inputs}
    assert task.max_params == card.max_params
    assert task.reference_law == card.reference_law
    train, heldout = task.train(), task.heldout()
    assert train.n_rows == train_rows and heldout.n_rows == test_rows
    for split in (train, heldout, task.validation(), task.search_train()):
        assert split.groups == task.groups
        for x, y in zip(split.X, split.y, strict=True):
            assert x.dtype == np.float64 and x.shape[1] == len(task.inputs)
            assert y.dtype == np.float64 and y.shape == (x.shape[0], len(task.outputs))
            assert not x.flags.writeable


@pytest.mark.parametrize("name", TASKS)
def test_validation_slice_is_nonempty_part_of_train_disjoint_from_search_train(name):
    task = load_task(name)
    train, validation, search = task.train(), task.validation(), task.search_train()
    assert validation.n_rows + search.n_rows == train.n_rows
    for g, group in enumerate(task.groups):
        assert validation.X[g].shape[0] >= 1, group
        assert search.X[g].shape[0] >= 1, group
        train_rows = {tuple(r) for r in np.hstack([train.X[g], train.y[g]])}
        val_rows = [tuple(r) for r in np.hstack([validation.X[g], validation.y[g]])]
        search_rows = [tuple(r) for r in np.hstack([search.X[g], search.y[g]])]
        assert set(val_rows) <= train_rows and set(search_rows) <= train_rows
        assert not set(val_rows) & set(search_rows)


@pytest.mark.parametrize("name", TASKS)
def test_validation_slice_sits_at_the_largest_scale(name):
    task = load_task(name)
    if task.validation_scale is None:
        return
    columns = [task.inputs.index(name) for name in task.card.scale_inputs]  # "N*D": a product

    def scale(X):
        return np.prod(X[:, columns], axis=1)

    for g in range(len(task.groups)):
        val = scale(task.validation().X[g])
        rest = scale(task.search_train().X[g])
        assert val.min() > rest.max()
        assert val.max() == scale(task.train().X[g]).max()


@pytest.mark.parametrize("name", TASKS)
def test_heldout_rows_are_never_reachable_from_train_accessors(name):
    task = load_task(name)
    frame = _data(name)
    test_part = frame[frame["split"] == "test"]
    columns = [*task.inputs, *task.outputs]
    test_rows = {(str(r[0]), *map(float, r[1:])) for r in test_part[["group", *columns]].to_numpy()}
    for split in (task.train(), task.validation(), task.search_train()):
        seen = {
            (group, *map(float, row))
            for group, x, y in zip(split.groups, split.X, split.y, strict=True)
            for row in np.hstack([x, y])
        }
        assert not seen & test_rows
    assert not any(isinstance(v, np.ndarray) for v in vars(task).values())


def test_frame_marks_validation_rows_and_heldout_frame_holds_test_rows():
    task = load_task("parallel_scaling_law")
    frame = task.frame()
    assert list(frame.columns) == ["group", "num_params", "parallel_size", "loss", "validation"]
    assert frame["validation"].sum() == task.validation().n_rows == 12
    assert (frame.loc[frame["validation"], "parallel_size"] == 4).all()
    held = task.heldout_frame()
    assert len(held) == 12 and (held["parallel_size"] == 8).all()


def test_domain_mixture_validation_is_a_seeded_draw_of_ceil_fraction_rows():
    first = load_task("domain_mixture_scaling_law")
    again = load_task("domain_mixture_scaling_law")
    assert first.validation_scale is None
    assert first.validation().rows_per_group == (math.ceil(0.15 * 20),) * 4
    for a, b in zip(first.validation().X, again.validation().X, strict=True):
        assert np.array_equal(a, b)


def test_subset_keeps_group_alignment_with_empty_groups():
    task = load_task("parallel_scaling_law")
    train = task.train()
    masks = [np.zeros(len(x), dtype=bool) for x in train.X]
    masks[1][:3] = True
    part = train.subset(masks)
    assert part.groups == task.groups
    assert part.X[0].shape == (0, 2) and part.X[1].shape == (3, 2)
    assert part.n_rows == 3
    assert list(part.frame()["group"]) == ["stack"] * 3


def test_curated_task_accepts_test_rule_override():
    task = load_task("parallel_scaling_law", test="P >= 4")
    assert task.heldout().n_rows == 24 and task.train().n_rows == 24


_LAW_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Call,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.USub,
)


@pytest.mark.parametrize("name", TASKS)
def test_reference_law_uses_basic_operators_and_fits_the_parameter_limit(name):
    card = load_card(name)
    if card.reference_law is None:
        assert name == "lr_bsz_scaling_law"
        return
    variables = {*card.input_names, *(v.alias for v in card.inputs)}
    outputs = {*card.output_names, *(v.alias for v in card.outputs if v.alias)}
    parameters: set[str] = set()
    for part in card.reference_law.split(";"):
        lhs, _, rhs = part.partition("=")
        assert lhs.strip() in outputs
        tree = ast.parse(rhs.strip(), mode="eval")
        for node in ast.walk(tree):
            assert isinstance(node, _LAW_NODES), ast.dump(node)
            if isinstance(node, ast.Call):
                assert isinstance(node.func, ast.Name)
                assert node.func.id in {"log", "exp", "sqrt"}
        names = {
            n.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Name) and n.id not in {"log", "exp", "sqrt"}
        }
        parameters |= names - variables
    assert card.max_params is None or len(parameters) == card.max_params, sorted(parameters)
    assert not re.search(r"\bmin\(|\bmax\(", card.reference_law)


def test_importing_corpus_pulls_in_neither_jax_nor_sympy():
    import subprocess
    import sys

    code = "import sys, sld.corpus; print(sorted({'jax', 'sympy'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name", [t for t in TASKS if t != "lr_bsz_scaling_law"])
def test_reference_law_parses_with_the_law_grammar(name):
    card = load_card(name)
    parsed = parse_law(
        card.reference_law,
        inputs=card.input_names,
        outputs=card.output_names,
        aliases=card.aliases,
        max_params=card.max_params,
    )
    assert len(parsed.parameters) == card.max_params


def test_compute_optimal_test_rows_are_the_two_largest_budgets():
    # the budget is not a column: C = 6·N·D, exact up to rounding of D = C/(6N)
    frame = _data("compute_optimal_scaling_law")
    budget = 6 * frame["params"] * frame["tokens"]
    is_test = (frame["split"] == "test").to_numpy()
    assert np.allclose(budget, np.round(budget / 1.25e16) * 1.25e16, rtol=1e-12)
    budgets = sorted({float(f"{c:.3g}") for c in budget})
    assert budgets == [1.25e16 * 2**k for k in range(12)]
    assert (is_test == (budget >= 1.28e19 * (1 - 1e-9)).to_numpy()).all()


def test_overtraining_groups_are_the_three_corpora_each_with_three_large_models():
    task = load_task("overtraining_scaling_law")
    assert task.groups == ("c4_original", "rpj", "rw_original")
    assert task.heldout().rows_per_group == (3, 3, 3)
    params = task.inputs.index("params")
    for train, test in zip(task.train().X, task.heldout().X, strict=True):
        assert train[:, params].max() < 1e9 < test[:, params].min()
