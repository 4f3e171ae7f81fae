"""Selection folds: nested cutoffs along the validation scale, never a test row, BYO defaults."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sld.corpus import list_tasks, load_task
from sld.corpus.folds import MIN_FIT_LEVELS, group_folds, random_bands, scale_bands
from sld.errors import TaskError
from sld.proposer import task_brief
from sld.scoring import score


def _rows(split) -> set[tuple[str, tuple[float, ...]]]:
    return {
        (g, tuple(np.concatenate([x_i, y_i])))
        for g, x, y in zip(split.groups, split.X, split.y, strict=True)
        for x_i, y_i in zip(x, y, strict=True)
    }


def test_scale_bands_take_whole_values_largest_first_within_the_fraction():
    scale = np.array([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 8, 8, 9, 9, 10, 10], dtype=float)
    bands = scale_bands(scale, bands=3, fraction=0.15)  # at most 3 of 20 rows, one value at least
    assert [sorted(set(scale[b])) for b in bands] == [[10.0], [9.0], [7.0, 8.0]]
    big = scale_bands(scale, bands=2, fraction=0.25)  # up to 5 rows: 10,10,9,9 then 8,8,7,6,6
    assert [sorted(set(scale[b])) for b in big] == [[9.0, 10.0], [6.0, 7.0, 8.0]]
    assert not (big[0] & big[1]).any()


def test_fold_k_fits_strictly_below_its_band_and_fold_0_is_the_validation_slice():
    task = load_task("vocab_scaling_law")
    scale = task.inputs.index(task.validation_scale)
    folds = task.folds()
    assert len(folds) == task.card.validation.folds == 3
    assert _rows(folds[0].score) == _rows(task.validation())
    assert _rows(folds[0].fit) == _rows(task.search_train())
    for fold in folds:
        for x_fit, x_score in zip(fold.fit.X, fold.score.X, strict=True):
            if len(x_score):
                assert x_fit[:, scale].max() < x_score[:, scale].min()
    # nested: each later fold fits on a subset of the one before and scores lower down
    for upper, lower in zip(folds, folds[1:], strict=False):
        assert _rows(lower.fit) < _rows(upper.fit)
        assert _rows(lower.score) <= _rows(upper.fit)


@pytest.mark.parametrize("name", list_tasks())
def test_no_fold_ever_holds_a_test_row(name):
    task = load_task(name)
    train, test = _rows(task.train()), _rows(task.heldout())
    assert task.folds(), "every task has at least fold 0"
    for fold in task.folds():
        assert _rows(fold.fit) <= train and _rows(fold.score) <= train
        assert not (_rows(fold.fit) | _rows(fold.score)) & (test - train)
        assert not _rows(fold.fit) & _rows(fold.score)


def test_a_later_fold_is_dropped_where_its_fit_rows_hold_fewer_than_three_scale_values():
    # a power with a floor along the scale has three parameters there; two levels cannot pin it
    assert MIN_FIT_LEVELS == 3
    four = group_folds(
        np.repeat([1.0, 2.0, 4.0, 8.0], 6), n_rows=24, folds=3, fraction=0.15, seed=0, group="g"
    )
    assert four[0] is not None and four[1] is None and four[2] is None  # fold 1 would fit on 1, 2
    levels = np.repeat([1.0, 2.0, 4.0, 8.0, 16.0], 6)
    five = group_folds(levels, n_rows=30, folds=3, fraction=0.15, seed=0, group="g")
    assert five[0] is not None and five[1] is not None and five[2] is None
    assert sorted(set(levels[five[1].fit])) == [1.0, 2.0, 4.0]
    # fold 0 is the validation slice: exempt, even on two levels
    two = group_folds(
        np.repeat([1.0, 2.0, 4.0], 6), n_rows=18, folds=3, fraction=0.15, seed=0, group="g"
    )
    assert two[0] is not None and two[1] is None


def test_random_folds_are_disjoint_seeded_and_start_with_the_validation_draw():
    a = random_bands(40, bands=3, fraction=0.15, seed=7, group="g")
    b = random_bands(40, bands=3, fraction=0.15, seed=7, group="g")
    assert [m.tolist() for m in a] == [m.tolist() for m in b]
    assert [int(m.sum()) for m in a] == [6, 6, 6]
    assert not (a[0] & a[1]).any() and not (a[1] & a[2]).any() and not (a[0] & a[2]).any()
    other = random_bands(40, bands=3, fraction=0.15, seed=8, group="g")
    assert [m.tolist() for m in other] != [m.tolist() for m in a]


def test_task_without_a_scale_uses_random_folds_that_fit_on_everything_else():
    task = load_task("domain_mixture_scaling_law")
    folds = task.folds()
    assert [f.kind for f in folds] == ["random"] * 3
    train = _rows(task.train())
    for fold in folds:
        assert _rows(fold.fit) | _rows(fold.score) == train


def test_byo_csv_gets_three_scale_folds_by_default(tmp_path):
    rng = np.random.default_rng(0)
    N = np.repeat(np.geomspace(1e7, 1e10, 8), 5)
    D = np.tile(np.geomspace(1e9, 1e11, 5), 8)
    loss = 1.7 + 400 / N**0.34 + 410 / D**0.28 + rng.normal(0, 0.003, len(N))
    path = tmp_path / "sweep.csv"
    pd.DataFrame({"N": N, "D": D, "loss": loss}).to_csv(path, index=False)
    task = load_task(str(path), inputs=["N", "D"], outputs=["loss"], test="N >= 5e9")
    assert task.card.validation.folds == 3
    folds = task.folds()
    assert len(folds) == 3 and all(f.kind == "scale" for f in folds)
    scale = task.inputs.index(task.validation_scale)
    tops = [float(np.concatenate(f.score.X)[:, scale].min()) for f in folds]
    assert tops == sorted(tops, reverse=True)  # each cutoff lower than the one before


def _compute_sweep(tmp_path) -> str:
    N = np.repeat([1e8, 2e8, 4e8, 8e8], 4)
    D = np.tile([1e9, 4e9, 1.6e10, 6.4e10], 4)
    frame = pd.DataFrame({"N": N, "D": D, "loss": 2 + 1e3 / N**0.3 + 1e3 / D**0.3})
    path = tmp_path / "compute.csv"
    frame.to_csv(path, index=False)
    return str(path)


def _folds_cut_along_compute(task) -> None:
    for fold in task.folds():
        fit, score = np.concatenate(fold.fit.X), np.concatenate(fold.score.X)
        assert (fit[:, 0] * fit[:, 1]).max() < (score[:, 0] * score[:, 1]).min()


def test_a_product_scale_orders_folds_by_compute(tmp_path):
    path = _compute_sweep(tmp_path)
    task = load_task(
        path,
        inputs=["N", "D"],
        outputs=["loss"],
        test="N >= 8e8 and D >= 6e10",
        validation_scale="N*D",
    )
    assert task.card.scale_inputs == ("N", "D") and task.validation_scale == "N"
    _folds_cut_along_compute(task)


def test_a_test_rule_on_compute_splits_by_compute_and_orders_the_folds_by_it(tmp_path):
    path = _compute_sweep(tmp_path)
    task = load_task(path, inputs=["N", "D"], outputs=["loss"], test="6*N*D >= 1e20")
    test = np.concatenate(task.heldout().X)
    assert (6 * test[:, 0] * test[:, 1] >= 1e20).all() and len(test) == 2
    assert task.card.scale_inputs == ("N", "D")  # no --validation-scale: the rule's product
    assert any("the product the test rule compares" in n for n in task.notes)
    _folds_cut_along_compute(task)


def test_an_unknown_factor_in_a_product_scale_is_a_one_line_error(tmp_path):
    pd.DataFrame({"N": [1.0, 2, 3, 4], "D": [1.0, 2, 3, 4], "y": [1.0, 2, 3, 4]}).to_csv(
        tmp_path / "x.csv", index=False
    )
    with pytest.raises(TaskError, match=r"'Q' is not an input.*product such as 'N\*D'"):
        load_task(str(tmp_path / "x.csv"), inputs=["N", "D"], outputs=["y"], validation_scale="N*Q")


def test_your_own_data_is_told_when_too_few_sizes_leave_fewer_folds(tmp_path):
    N = np.repeat(np.geomspace(1e7, 3e9, 6), 4)
    D = np.tile(np.geomspace(1e9, 1e11, 4), 6)
    path = tmp_path / "sweep.csv"
    pd.DataFrame({"N": N, "D": D, "loss": 1.7 + 400 / N**0.34 + 410 / D**0.28}).to_csv(
        path, index=False
    )
    few = load_task(str(path), inputs=["N", "D"], outputs=["loss"], test="N >= 9e8")
    assert len(few.folds()) == 1  # 4 training sizes: fold 1 would fit on two
    (note,) = [n for n in few.notes if "folds asked" in n]
    assert note.startswith("selection ranks laws on 1 of the 3 folds asked")
    assert "3 distinct N values" in note
    many = load_task(str(path), inputs=["N", "D"], outputs=["loss"], test="N >= 3e9")
    assert len(many.folds()) == 2 and any("2 of the 3 folds asked" in n for n in many.notes)
    # a curated card's fold count is its author's design: no note
    assert len(load_task("moe_scaling_law").folds()) == 2
    assert not any("folds asked" in n for n in load_task("moe_scaling_law").notes)


def test_scale_bands_take_at_least_min_rows_but_never_every_row():
    scale = np.arange(1.0, 9.0)  # 8 rows, one per value: 15 % is one row
    assert [scale[b].tolist() for b in scale_bands(scale, bands=2, fraction=0.15)] == [[8.0], [7.0]]
    two = scale_bands(scale, bands=2, fraction=0.15, min_rows=2)
    assert [scale[b].tolist() for b in two] == [[7.0, 8.0], [5.0, 6.0]]
    (pair,) = scale_bands(np.array([1.0, 2.0]), bands=1, fraction=0.15, min_rows=2)
    assert pair.tolist() == [False, True]  # a band leaves something to fit on


def test_a_one_row_validation_slice_takes_two_rows_so_laws_can_be_scored(tmp_path):
    N = np.geomspace(1e6, 3e9, 8)  # one small sweep, one group: 6 training rows
    path = tmp_path / "tiny.csv"
    pd.DataFrame({"N": N, "loss": 2.6 + 40 / N**0.25}).to_csv(path, index=False)
    task = load_task(str(path), inputs=["N"], outputs=["loss"], test="N >= 1e9")
    assert task.validation().n_rows == 2  # 15 % of 6 rows would be one: no NMSE on one row
    assert any(n.startswith("the validation slice takes the two largest-N") for n in task.notes)
    report = score("E + A/N**a", task, split="validation", restarts=8)
    assert report.ok and report.metrics is not None and report.metrics.r2 > 0.9


def test_a_validation_slice_with_one_output_value_is_a_one_line_error(tmp_path):
    path = tmp_path / "flat.csv"
    loss = [4.0, 3.5, 3.2, 3.0, 3.0, 3.0, 3.0, 3.0]  # flat over the top training rows
    pd.DataFrame({"N": np.geomspace(1e6, 3e9, 8), "loss": loss}).to_csv(path, index=False)
    with pytest.raises(TaskError, match="every output is the same on the validation slice") as info:
        load_task(str(path), inputs=["N"], outputs=["loss"], test="N >= 1e9")
    assert "\n" not in str(info.value)


def test_a_sweep_too_small_for_the_parameter_limit_lowers_the_proposers_limit(tmp_path):
    N = np.array([1e6, 3e6, 1e7, 3e7, 1e8, 3e8, 1e9, 3e9])
    path = tmp_path / "tiny.csv"
    pd.DataFrame({"N": N, "loss": 2.6 + 40 / N**0.25}).to_csv(path, index=False)
    tiny = load_task(str(path), inputs=["N"], outputs=["loss"], test="N >= 1e9")
    assert [len(x) for f in tiny.folds() for x in f.fit.X] == [4]  # one fold, four fit rows
    assert task_brief(tiny).max_params == 3  # four parameters would pass through every row
    for name in list_tasks():  # every curated fold fits more rows than its limit needs
        task = load_task(name)
        assert task_brief(task).max_params == task.max_params
