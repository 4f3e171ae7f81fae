"""Monotone directions read from training rows when nothing declares them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sld.cli import main
from sld.corpus import list_tasks, load_task
from sld.corpus.directions import (
    AGREEMENT,
    MIN_STEPS,
    direction_evidence,
    infer_directions,
    levels,
    slope_evidence,
)

N_GRID = np.array([1e7, 3e7, 1e8, 3e8, 1e9])
D_GRID = np.array([1e9, 3e9, 1e10, 3e10])


def _chinchilla_grid() -> tuple[np.ndarray, np.ndarray]:
    n, d = (a.ravel() for a in np.meshgrid(N_GRID, D_GRID))
    x = np.column_stack([n, d])
    y = (1.7 + 400 / n**0.34 + 410 / d**0.28)[:, None]
    return x, y


def test_a_full_grid_yields_both_decreasing_directions():
    x, y = _chinchilla_grid()
    assert infer_directions([x], [y], inputs=["N", "D"]) == {"N": -1, "D": -1}
    assert infer_directions([x], [-y], inputs=["N", "D"]) == {"N": 1, "D": 1}


def test_a_u_shaped_input_yields_no_direction_while_the_monotone_one_does():
    lrs = np.geomspace(1e-4, 1e-1, 7)
    n, lr = (a.ravel() for a in np.meshgrid(N_GRID, lrs))
    y = (2 + 50 / n**0.3 + 0.1 * (np.log(lr) - np.log(3e-3)) ** 2)[:, None]
    assert infer_directions([np.column_stack([n, lr])], [y], inputs=["N", "lr"]) == {"N": -1}


def test_rows_that_share_no_other_input_yield_nothing():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=40)
    y = (2 - p[:, :1]) + 0.01 * rng.normal(size=(40, 1))
    evidence = direction_evidence([p], [y], inputs=["p1", "p2", "p3"])
    assert [e.steps for e in evidence] == [0, 0, 0]
    assert infer_directions([p], [y], inputs=["p1", "p2", "p3"]) == {}


def test_agreement_threshold_counts_steps_that_go_the_other_way():
    # 20 matched sets of two rows: N steps from 1e8 to 1e9 at each D; k of them rise
    d = np.geomspace(1e9, 1e11, 20)
    x = np.column_stack([np.repeat([1e8, 1e9], 20), np.tile(d, 2)])

    def y_with(rises: int) -> np.ndarray:
        step = np.where(np.arange(20) < rises, 0.05, -0.05)
        return np.concatenate([np.full(20, 3.0), 3.0 + step])[:, None]

    (evidence,) = direction_evidence([x], [y_with(3)], inputs=["N", "D"])[:1]
    assert evidence.steps == 20 and evidence.falls == (0.85,) and evidence.rises == (0.15,)
    assert infer_directions([x], [y_with(3)], inputs=["N", "D"]) == {"N": -1}
    assert round(1 - 6 / 20, 2) < AGREEMENT
    assert infer_directions([x], [y_with(6)], inputs=["N", "D"]) == {}


def test_every_output_must_agree():
    x, y = _chinchilla_grid()
    mixed = np.column_stack([y[:, 0], -y[:, 0]])
    assert infer_directions([x], [mixed], inputs=["N", "D"]) == {}


def test_too_few_steps_declare_nothing():
    x = np.column_stack([[1e8, 2e8, 4e8], [1e9, 1e9, 1e9]])
    y = np.array([[3.0], [2.9], [2.8]])
    assert direction_evidence([x], [y], inputs=["N", "D"])[0].steps == 2 < MIN_STEPS
    assert infer_directions([x], [y], inputs=["N", "D"]) == {}


def test_steps_are_counted_within_each_group_and_summed():
    x, y = _chinchilla_grid()
    one = direction_evidence([x], [y], inputs=["N", "D"])
    two = direction_evidence([x, x], [y, y + 1.0], inputs=["N", "D"])
    assert [e.steps for e in two] == [2 * e.steps for e in one]


def test_levels_merge_values_within_two_percent_and_never_chain_past_it():
    # a parameter count that grows slightly with another input is one level
    assert levels(np.array([1.088e9, 1.093e9, 1.097e9, 1.106e9, 1.571e9])).tolist() == [
        0,
        0,
        0,
        0,
        1,
    ]
    # values about 1 % apart: each level spans at most 2 % of its first value
    chain = levels(np.array([1.0, 1.01, 1.019, 1.025, 1.035, 1.046]))
    assert chain.tolist() == [0, 0, 0, 1, 1, 2]


def _calibration(*, surrogate: bool) -> tuple[int, int]:
    """(declared, found) over the curated tasks' training rows; asserts on the way that no
    read direction contradicts its card and a card that declares none gets none."""
    declared = found = 0
    for name in list_tasks():
        task = load_task(name)
        train = task.train()
        log_scale = [task.log_scale[k] for k in task.inputs] if surrogate else None
        inferred = infer_directions(train.X, train.y, inputs=task.inputs, log_scale=log_scale)
        assert all(task.monotone.get(k, v) == v for k, v in inferred.items()), name
        if not task.monotone:
            assert inferred == {}, name
        declared += len(task.monotone)
        found += sum(inferred.get(k) == v for k, v in task.monotone.items())
    return declared, found


def test_curated_cards_agree_with_what_their_training_rows_show():
    """The thresholds' calibration: read from each curated task's training rows, no direction
    contradicts its card, a card that declares none (the science says no) gets none, and most
    declared directions are found; the surrogate for log-scale inputs without matched steps
    adds over-training's params."""
    assert _calibration(surrogate=False) == (15, 12)
    assert _calibration(surrogate=True) == (15, 13)


def _isoflop(*, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seven budgets, seven sizes each, D = C / 6N: no two rows share N or D."""
    budgets = np.repeat(np.geomspace(1e18, 1e21, 7), 7)
    n = np.sqrt(budgets / 120) * np.tile(np.geomspace(1 / 5, 5, 7), 7)
    d = budgets / (6 * n)
    y = 1.7 + 400 / n**0.34 + 410 / d**0.28
    y = y * (1 + noise * np.random.default_rng(seed).normal(size=y.shape))
    return np.column_stack([n, d]), y[:, None]


def test_an_isoflop_sweep_has_no_matched_steps_but_its_surrogate_reads_both_directions():
    x, y = _isoflop(noise=0.005)
    assert [e.steps for e in direction_evidence([x], [y], inputs=["N", "D"])] == [0, 0]
    assert infer_directions([x], [y], inputs=["N", "D"]) == {}  # without log_scale: matched only
    evidence = direction_evidence([x], [y], inputs=["N", "D"], log_scale=[True, True])
    assert [(e.source, e.steps) for e in evidence] == [("surrogate", 49), ("surrogate", 49)]
    assert all(e.falls[0] >= 0.95 for e in evidence)  # a quadratic misses at an edge or two
    assert infer_directions([x], [y], inputs=["N", "D"], log_scale=[True, True]) == {
        "N": -1,
        "D": -1,
    }
    # each budget's curve is a U in N, which the rows of one budget alone would suggest
    one_budget = slice(0, 7)
    assert np.diff(y[one_budget, 0]).min() < 0 < np.diff(y[one_budget, 0]).max()


def test_own_isoflop_data_gets_directions_and_the_note_says_how_they_were_read(tmp_path):
    x, y = _isoflop(noise=0.005)
    path = tmp_path / "isoflop.csv"
    pd.DataFrame({"N": x[:, 0], "D": x[:, 1], "loss": y[:, 0]}).to_csv(path, index=False)
    task = load_task(path, inputs=["N", "D"], outputs=["loss"], test="N >= 3e9")
    assert task.monotone == {"N": -1, "D": -1}
    (note,) = [n for n in task.notes if "read from the training rows" in n]
    assert "N decreasing, D decreasing (N, D from the slopes of a smooth fit" in note
    grid = load_task(_sweep(tmp_path), inputs=["N", "D"], outputs=["loss"], test="N >= 1e9")
    assert not any("smooth fit" in n for n in grid.notes)  # matched sets spoke for both


def test_the_surrogate_reads_no_direction_for_an_input_with_an_optimum():
    rng = np.random.default_rng(1)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e9), 60))
    lr = np.exp(rng.uniform(np.log(1e-4), np.log(1e-1), 60))
    y = (2 + 50 / n**0.3 + 0.1 * (np.log(lr) - np.log(3e-3)) ** 2)[:, None]
    x = np.column_stack([n, lr])
    (by_n, by_lr) = slope_evidence([x], [y], inputs=["N", "lr"], log_scale=[True, True])
    assert by_n.falls == (1.0,) and 0.2 < by_lr.falls[0] < 0.8
    assert infer_directions([x], [y], inputs=["N", "lr"], log_scale=[True, True]) == {"N": -1}


def test_the_surrogate_reads_only_log_scale_inputs_and_only_from_groups_large_enough():
    x, y = _isoflop()
    assert infer_directions([x], [y], inputs=["N", "D"], log_scale=[True, False]) == {"N": -1}
    # inputs that move together in every row: no slope is N's own, so nothing is read
    n = np.geomspace(1e7, 1e10, 30)
    tied = np.column_stack([n, 20 * n])
    loss = (1.7 + 400 / n**0.34 + 410 / (20 * n) ** 0.28)[:, None]
    assert slope_evidence([tied], [loss], inputs=["N", "D"], log_scale=[True, True])[0].steps == 0
    # 2 inputs: 6 coefficients, so a group needs 12 rows; ten groups of 7 give no evidence
    small = [x[i : i + 7] for i in range(0, 49, 7)]
    ys = [y[i : i + 7] for i in range(0, 49, 7)]
    evidence = slope_evidence(small, ys, inputs=["N", "D"], log_scale=[True, True])
    assert [e.steps for e in evidence] == [0, 0]


SWEEP_FLAGS = ["--inputs", "N,D", "--output", "loss", "--test", "N >= 1e9"]


def _sweep(tmp_path: Path, *, test_loss: float | None = None) -> Path:
    x, y = _chinchilla_grid()
    frame = pd.DataFrame({"N": x[:, 0], "D": x[:, 1], "loss": y[:, 0]})
    if test_loss is not None:
        frame.loc[frame["N"] >= 1e9, "loss"] = test_loss
    path = tmp_path / "sweep.csv"
    frame.to_csv(path, index=False)
    return path


def test_own_data_without_directions_gets_them_from_its_training_rows(tmp_path):
    task = load_task(_sweep(tmp_path), inputs=["N", "D"], outputs=["loss"], test="N >= 1e9")
    assert task.monotone == {"N": -1, "D": -1}
    assert any("read from the training rows: N decreasing, D decreasing" in n for n in task.notes)
    assert any("pass monotone={'N': 'dec', 'D': 'dec'}" in n for n in task.notes)


def test_the_note_pins_a_column_a_law_cannot_name_by_its_alias(tmp_path):
    frame = pd.read_csv(_sweep(tmp_path)).rename(columns={"N": "model size"})
    task = load_task(
        frame, inputs=["model size", "D"], outputs=["loss"], test="x1 >= 1e9", named_as="flags"
    )
    assert task.monotone == {"model size": -1, "D": -1}
    assert any("to keep them pass --monotone x1:dec,D:dec" in n for n in task.notes)


def test_declared_directions_win_and_none_turns_inference_off(tmp_path):
    path = _sweep(tmp_path)
    options = dict(inputs=["N", "D"], outputs=["loss"], test="N >= 1e9")
    assert load_task(path, **options, monotone={"D": "dec"}).monotone == {"D": -1}
    off = load_task(path, **options, monotone={})
    assert off.monotone == {} and not any("read from the training" in n for n in off.notes)
    assert off.card.validation.infer_monotone is False


def test_test_labels_never_change_the_directions(tmp_path):
    options = dict(inputs=["N", "D"], outputs=["loss"], test="N >= 1e9")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    calm = load_task(_sweep(a), **options)
    wild = load_task(_sweep(b, test_loss=99.0), **options)
    assert calm.monotone == wild.monotone == {"N": -1, "D": -1}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [([], "note: monotone directions read from the training rows"), (["--monotone", "none"], None)],
)
def test_score_prints_the_inferred_directions_as_a_note(tmp_path, capsys, flags, expected):
    path = _sweep(tmp_path)
    assert main(["score", str(path), "E + A/N**a + B/D**b", *SWEEP_FLAGS, *flags]) == 0
    err = capsys.readouterr().err
    if expected is None:
        assert "read from the training rows" not in err
    else:
        assert expected in err and "--monotone none for none" in err
        assert "to keep them pass --monotone N:dec,D:dec" in err  # the directions read


def test_the_report_names_the_directions_and_where_they_came_from(tmp_path):
    from sld.report._content import _directions
    from sld.report._markdown import _directions_line

    inferred = load_task(_sweep(tmp_path), inputs=["N", "D"], outputs=["loss"], test="N >= 1e9")
    entry = _directions(inferred)
    assert entry == {"inputs": {"N": "decreasing", "D": "decreasing"}, "source": "training rows"}
    assert _directions_line(entry) == (
        "Extrapolation checks held laws to: N decreasing, D decreasing "
        "(read from the training rows)."
    )
    none = load_task(
        _sweep(tmp_path), inputs=["N", "D"], outputs=["loss"], test="N >= 1e9", monotone={}
    )
    assert _directions(none) == {"inputs": {}, "source": None}
    assert "no monotone direction" in _directions_line(_directions(none))
