"""extrapolation.png and the picture behind it: output against the scale input, laws extrapolated.

The figure is built from a fixed run store (the TUI snapshots' demo run: held-out
reports of a chosen and a human law written row by row, no fitting) and looked
at through matplotlib's own objects: axes scales, artists tagged with a gid per
point set and per law.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_tui_snapshots import write_demo_run

from sld.corpus import load_task
from sld.fit import FitResult
from sld.plots import (
    EXTEND,
    HELDOUT,
    TRAIN,
    VALIDATION,
    extrapolation_figure,
    scale_input,
    scale_picture,
    write_extrapolation,
)
from sld.scoring import ScoreReport, parse_for_task
from sld.store import RunReader


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """(task, held-out reports by kind) as read back from a fixed run store."""
    run_dir = write_demo_run(tmp_path_factory.mktemp("plots") / "demo-run")
    with RunReader.open(run_dir) as reader:
        reports = {row.kind: ScoreReport.model_validate(row.report) for row in reader.heldout()}
    return load_task("parallel_scaling_law"), reports


def _gids(ax) -> set[str]:
    return {a.get_gid() for a in [*ax.collections, *ax.lines] if a.get_gid()}


def _scale_axes(fig) -> list:
    return [ax for ax in fig.axes if (ax.get_gid() or "").startswith("scale:")]


def test_extrapolation_png_from_a_stored_run_draws_every_point_set_on_a_log_axis(stored, tmp_path):
    task, reports = stored
    assert set(reports) == {"chosen", "human"}
    fig = extrapolation_figure(task, reports)
    (ax,) = _scale_axes(fig)  # two groups, one output: one panel
    assert ax.get_xscale() == "log" and task.log_scale[scale_input(task)]
    assert {
        f"points:{TRAIN}",
        f"points:{VALIDATION}",
        f"points:{HELDOUT}",
        "curve:chosen",
        "curve:human",
    } <= _gids(ax)

    def offsets(gid: str) -> np.ndarray:
        return np.concatenate([c.get_offsets() for c in ax.collections if c.get_gid() == gid])

    xi = task.inputs.index(scale_input(task))
    for gid, rows in (
        (f"points:{TRAIN}", task.search_train()),
        (f"points:{VALIDATION}", task.validation()),
        (f"points:{HELDOUT}", task.heldout()),
    ):
        drawn = offsets(gid)
        assert len(drawn) == rows.n_rows
        assert sorted(drawn[:, 0]) == sorted(np.concatenate([x[:, xi] for x in rows.X]))
        assert sorted(drawn[:, 1]) == sorted(np.concatenate([y[:, 0] for y in rows.y]))

    # multi-input: one curve per distinct num_params among each group's held-out rows
    others = [j for j in range(len(task.inputs)) if j != xi]
    expected = sum(len({tuple(r) for r in x[:, others]}) for x in task.heldout().X)
    chosen = [line for line in ax.lines if line.get_gid() == "curve:chosen"]
    human = [line for line in ax.lines if line.get_gid() == "curve:human"]
    assert len(chosen) == len(human) == expected
    assert all(line.get_linestyle() == "--" for line in human)
    assert all(line.get_linestyle() == "-" for line in chosen)
    largest_heldout = max(x[:, xi].max() for x in task.heldout().X)
    assert all(math.isclose(max(line.get_xdata()), EXTEND * largest_heldout) for line in chosen)

    panels = {ax.get_gid() for ax in fig.axes if ax.get_gid()}
    assert {"predicted-vs-actual:chosen", "predicted-vs-actual:human"} <= panels
    caption = " ".join(t.get_text() for sub in fig.subfigs for t in sub.texts)
    assert "held-out rows" in caption and "num_params" in caption

    path = write_extrapolation(task, reports, tmp_path / "extrapolation.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _report(task, text: str, parameters: dict[str, dict[str, float]], *, ok: bool = True):
    """A held-out ScoreReport holding given per-group parameters (no fitting)."""
    law = parse_for_task(text, task)
    fit = FitResult(
        ok=ok,
        reason=None if ok else "no restart gave finite residuals",
        groups=list(task.groups),
        parameter_names=list(law.parameters),
        parameters=parameters if ok else {},
        train_loss=0.01 if ok else math.inf,
        group_loss={},
        converged=ok,
        group_converged={},
        gradient_norm=0.0,
        restarts=1,
        finite_restarts=1 if ok else 0,
        iterations=1,
        seconds=0.0,
        compile_seconds=0.0,
    )
    return ScoreReport(
        task=task.name,
        law=law.text,
        key=law.key,
        split="test",
        ok=ok,
        reason=fit.reason,
        complexity=law.complexity,
        n_parameters=len(law.parameters),
        parameters=fit.parameters,
        metrics=None,
        fit=fit,
        seconds={},
    )


def test_a_linear_scale_input_keeps_a_linear_axis_and_many_groups_get_a_panel_each():
    task = load_task("easy_question_scaling_law")  # log_flops: already a log, not log-scaled
    assert not task.log_scale[scale_input(task)] and len(task.groups) > 6
    reports = {
        "chosen": _report(
            task, "brier_score = a + b*logC", {g: {"a": -0.5, "b": 0.05} for g in task.groups}
        ),
        "human": _report(task, task.reference_law, {}, ok=False),
    }
    fig = extrapolation_figure(task, reports)
    axes = _scale_axes(fig)
    assert [ax.get_gid() for ax in axes] == [f"scale:brier_score:{g}" for g in task.groups]
    assert all(ax.get_xscale() == "linear" for ax in axes)
    assert all("curve:chosen" in _gids(ax) and "curve:human" not in _gids(ax) for ax in axes)
    (failed,) = [ax for ax in fig.axes if ax.get_gid() == "predicted-vs-actual:human"]
    assert [t.get_text() for t in failed.texts] == ["no restart gave finite residuals"]


def test_too_many_combinations_give_one_curve_per_group_at_the_heldout_median():
    task = load_task("vocab_scaling_law")
    law = parse_for_task("Lu = E + A/N**a + B/D**b + C/V**c", task)
    params = {g: {"E": -5.0, "A": 10.0, "a": 0.2, "B": 30.0, "b": 0.2, "C": 1.0, "c": 0.1}
              for g in task.groups}  # fmt: skip
    picture = scale_picture(task, {"chosen": (law, params)}, heldout=True)
    assert picture.x_input == "vocab_size" and picture.curves_at == "median"
    assert "median" in picture.caption()
    (curve,) = picture.curves
    x = task.heldout().X[0]
    for name, value in curve.at:
        column = x[:, task.inputs.index(name)]
        assert math.isclose(value, 10 ** np.median(np.log10(column)))


def test_before_selection_the_picture_hides_heldout_rows_and_anchors_on_validation():
    task = load_task("parallel_scaling_law")
    law = parse_for_task(task.reference_law, task)
    params = {g: {"E": 1.4, "A": 0.15, "k": 0.35, "alpha": 0.21} for g in task.groups}
    picture = scale_picture(task, {"chosen": (law, params)}, heldout=False)
    assert {p.split for p in picture.points} == {TRAIN, VALIDATION}
    assert "validation slice" in picture.caption()
    xi = task.inputs.index(picture.x_input)
    for g, group in enumerate(task.groups):
        validation = task.validation().X[g]
        expected = {float(v) for v in validation[:, 1 - xi]}
        assert {c.at[0][1] for c in picture.curves if c.group == group} == expected
        top = max(c.x[-1] for c in picture.curves if c.group == group)
        assert math.isclose(top, EXTEND * validation[:, xi].max())
