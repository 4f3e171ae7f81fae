"""Residual diagnostics on hand-made residual patterns, and on fold fits that miss a term."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from sld.corpus import load_task
from sld.scoring import (
    ResidualDiagnostics,
    diagnose,
    diagnostics_words,
    parse_for_task,
    selection_scores,
)

RANGES = {"N": (1e7, 1e10), "D": (1e9, 1e12)}
LOGS = {"N": True, "D": True}


def _grid(rows: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), rows))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), rows))
    return np.column_stack([N, D])


def _diagnose(x, e, groups=None, relative=None) -> ResidualDiagnostics:
    e = e.reshape(-1, 1)
    relative = np.full_like(e, np.nan) if relative is None else relative.reshape(-1, 1)
    labels = groups if groups is not None else ["all"] * len(e)
    out = diagnose(
        x, e, relative, labels, inputs=("N", "D"), outputs=("L",), log_scale=LOGS, ranges=RANGES
    )
    assert out is not None
    return out


def test_a_residual_trend_in_d_is_named_as_the_d_trend():
    x = _grid()
    noise = np.random.default_rng(1).normal(0, 0.05, len(x))
    d = _diagnose(x, -0.3 * (np.log(x[:, 1]) - np.log(1e10)) + noise)
    assert d.trends[0].input == "D"
    assert d.trends[0].slope < 0 and d.trends[0].corr < -0.9
    assert abs(d.trend("N").corr) < 0.3
    words = " ".join(diagnostics_words(d))
    assert "falls with log D" in words and "missing D term" in words


def test_residuals_that_bend_at_the_top_of_n_report_a_bend_and_the_miss_there():
    x = _grid(200)
    u = np.log(x[:, 0])
    top = np.log(1e10) - 0.25 * (np.log(1e10) - np.log(1e7))
    e = np.where(u > top, 2.0 * (u - top), 0.0)  # flat, then rising in the top quarter
    y = np.full(len(x), 3.0)
    d = _diagnose(x, e, relative=e * 0.1 / y)
    n = d.trend("N")
    assert n is not None and n.top is not None and n.bend is not None
    assert n.top > 0 and n.bend > 0
    assert n.top_from == pytest.approx(np.exp(top), rel=1e-3)
    words = diagnostics_words(d)
    assert any(w.startswith("underestimates L at the largest N") and "%" in w for w in words)
    assert any("bend above" in w for w in words)


def test_a_sign_change_along_n_is_located():
    x = _grid(240)
    u = np.log(x[:, 0])
    e = np.sign(u - np.log(1e8)) * 0.5  # negative below 1e8, positive above
    n = _diagnose(x, e).trend("N")
    assert n is not None and len(n.crossings) == 1
    assert 3e7 < n.crossings[0] < 3e8


def test_the_worst_group_is_the_one_with_an_offset():
    x = _grid(90)
    groups = ["a"] * 30 + ["b"] * 30 + ["stack"] * 30
    e = np.random.default_rng(2).normal(0, 0.02, 90)
    e[60:] += 0.8
    d = _diagnose(x, e, groups=groups)
    assert d.groups[0].group == "stack" and d.groups[0].mean > 0.7
    assert "worst group: stack" in " ".join(diagnostics_words(d))


def test_an_interaction_names_the_input_that_changes_the_trend():
    x = _grid(300)
    u, v = np.log(x[:, 0]), np.log(x[:, 1])
    e = 0.3 * (u - u.mean()) * np.sign(v - np.median(v))  # the N slope flips across D
    n = _diagnose(x, e).trend("N")
    assert n is not None and n.varies_with == "D" and n.slope_change is not None
    assert n.slope_change > 0.5


def test_diagnostics_stay_small_with_many_inputs_and_outputs():
    rng = np.random.default_rng(3)
    names = tuple(f"x{i}" for i in range(8))
    outputs = tuple(f"y{i}" for i in range(6))
    x = rng.uniform(1, 100, (500, 8))
    e = rng.normal(0, 1, (500, 6))
    groups = [f"group{i % 40}" for i in range(500)]
    d = diagnose(
        x,
        e,
        np.full_like(e, np.nan),
        groups,
        inputs=names,
        outputs=outputs,
        log_scale={n: True for n in names},
        ranges={n: (1.0, 100.0) for n in names},
    )
    assert d is not None
    assert len(d.trends) <= 12 and len(d.groups) <= 3
    assert len(json.dumps(d.model_dump(mode="json"))) < 6000


def test_rows_without_a_finite_residual_are_left_out_and_none_left_is_none():
    x = _grid(10)
    e = np.full((10, 1), np.nan)
    empty = diagnose(
        x, e, e, ["g"] * 10, inputs=("N", "D"), outputs=("L",), log_scale=LOGS, ranges=RANGES
    )
    assert empty is None


def _chinchilla(tmp_path, *, perturb: bool = False):
    rng = np.random.default_rng(1)
    N = np.repeat(np.geomspace(7e7, 2e9, 7), 6)
    D = np.tile(np.geomspace(2e9, 2e11, 6), 7)
    loss = 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28 + rng.normal(0, 0.004, len(N))
    if perturb:
        test = N >= 2e9
        loss[test] = loss[test] * rng.uniform(0.5, 2.0, int(test.sum())) + 3.0
    path = tmp_path / ("perturbed.csv" if perturb else "clean.csv")
    pd.DataFrame({"N": N, "D": D, "loss": loss}).to_csv(path, index=False)
    return load_task(str(path), inputs=["N", "D"], outputs=["loss"], test="N >= 2e9")


def test_a_fold_fit_missing_the_d_term_is_diagnosed_as_the_d_trend_whatever_the_test_labels(
    tmp_path,
):
    clean, perturbed = _chinchilla(tmp_path), _chinchilla(tmp_path, perturb=True)
    texts = ["E + A/N**a", "E + A/N**a + B/D**b"]
    a = selection_scores([parse_for_task(t, clean) for t in texts], clean, restarts=4)
    b = selection_scores([parse_for_task(t, perturbed) for t in texts], perturbed, restarts=4)
    missing, full = a[0].diagnostics, a[1].diagnostics
    assert missing is not None and full is not None
    assert missing.trends[0].input == "D" and missing.trends[0].corr < -0.8
    assert missing.rms > 10 * full.rms
    assert any("missing D term" in w for w in diagnostics_words(missing))
    assert [r.diagnostics for r in a] == [r.diagnostics for r in b]
    stored = json.loads(a[0].model_dump_json())
    assert ResidualDiagnostics.model_validate(stored["diagnostics"]) == missing


def test_a_blown_up_prediction_is_left_out_without_a_warning():
    """A residual of 1e200 std (a law that explodes on a band) would overflow its square;
    the row is dropped like a non-finite one, and no RuntimeWarning reaches the terminal."""
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    residual = np.array([[0.1], [1e200], [-0.2], [0.3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = diagnose(
            x,
            residual,
            np.full_like(residual, np.nan),
            ["a", "a", "b", "b"],
            inputs=("N",),
            outputs=("L",),
            log_scale={"N": True},
            ranges={"N": (1.0, 4.0)},
        )
    assert found is not None and found.rows == 3
    assert found.rms == pytest.approx(np.sqrt((0.1**2 + 0.2**2 + 0.3**2) / 3), rel=1e-3)
