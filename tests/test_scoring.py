"""sld.score: the protocol (validation path never sees test rows) and the report contract."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import sld
from sld.corpus import load_task
from sld.errors import ConfigError, ParseError, TaskError
from sld.resources import datasets_dir

LAWS = [
    "E + (A*1e9/(N*(k*log(P)+1)))**alpha",
    "E + A/N**a + B/P**b",
    "A*N**a*P**b",
]


def _csv(tmp_path, *, scale: float) -> str:
    frame = pd.read_csv(datasets_dir() / "parallel_scaling_law" / "data.csv")
    test = frame["split"] == "test"
    frame.loc[test, "loss"] = frame.loc[test, "loss"] * scale + (scale - 1.0) * 7
    path = tmp_path / f"parallel_{scale}.csv"
    frame.to_csv(path, index=False)
    return str(path)


def _task(path: str):
    return load_task(
        path,
        inputs=["num_params", "parallel_size"],
        outputs=["loss"],
        group="group",
        aliases={"N": "num_params", "P": "parallel_size"},
        validation_scale="parallel_size",
    )


def test_changing_every_test_label_leaves_validation_scores_unchanged(tmp_path):
    clean, changed = _task(_csv(tmp_path, scale=1.0)), _task(_csv(tmp_path, scale=3.0))
    for law in LAWS:
        a = sld.score(law, clean, split="validation", seed=3, restarts=6)
        b = sld.score(law, changed, split="validation", seed=3, restarts=6)
        assert a.metrics is not None and b.metrics is not None
        assert a.metrics.model_dump() == b.metrics.model_dump()
        assert a.parameters == b.parameters
        # the test split really did change
        ta = sld.score(law, clean, split="test", seed=3, restarts=6)
        tb = sld.score(law, changed, split="test", seed=3, restarts=6)
        assert ta.metrics.r2 != tb.metrics.r2


def test_score_report_is_json_serialisable_with_bootstrap():
    report = sld.score(
        LAWS[0], "parallel_scaling_law", split="test", seed=0, bootstrap=5, restarts=6
    )
    data = json.loads(report.model_dump_json())
    assert data["split"] == "test" and data["n_parameters"] == 4
    assert set(data["parameters"]) == {"pile", "stack"}
    b = report.bootstrap
    assert b is not None and b.samples + b.failed == 5 and b.low <= b.median <= b.high


def test_interval_resamples_start_from_the_fit_on_all_rows():
    from sld.fit import fit_law
    from sld.scoring import parse_for_task
    from sld.scoring._score import bootstrap_interval

    task = load_task("parallel_scaling_law")
    law = parse_for_task(LAWS[0], task)
    train, test = task.train(), task.heldout()
    fit = fit_law(law, train, restarts=16, seed=0)
    warm = [
        bootstrap_interval(law, train, test, samples=6, restarts=1, seed=0, start=fit.parameters)
        for _ in range(2)
    ]
    cold = bootstrap_interval(law, train, test, samples=6, restarts=8, seed=0)
    assert warm[0] == warm[1]  # deterministic
    assert warm[0].samples == cold.samples == 6
    # a well-posed law: one restart from the full fit finds each resample's basin
    assert warm[0].median == pytest.approx(cold.median, abs=1e-4)
    assert warm[0].low == pytest.approx(cold.low, abs=1e-4)


def test_validation_fit_excludes_the_validation_slice():
    task = load_task("parallel_scaling_law")
    report = sld.score("E + A/(N**a*P**b)", task, split="validation", restarts=4)
    assert report.metrics.rows == task.validation().n_rows
    # fitting on search_train only: P=4 rows (the slice) are never in the fit rows
    assert all(np.all(x[:, 1] < 4) for x in task.search_train().X)


def test_numeric_faults_give_reasons_not_crashes(tmp_path):
    overflow = sld.score("A*exp(N) + E", "parallel_scaling_law", restarts=4)  # exp(5e8) overflows
    assert not overflow.ok and overflow.reason
    # the batched fit names (fold, group) with a control character; a reader sees plain words
    assert "\x1f" not in overflow.reason and "'pile' of fold 0" in overflow.reason
    divide = sld.score(
        "A/(P - 1)", "parallel_scaling_law", restarts=4
    )  # P = 1 rows: division by zero
    assert not divide.ok and divide.reason
    frame = pd.DataFrame({"N": [1e6, 2e6, 4e6, 8e6, 1.6e7, 3.2e7], "loss": [2.0] * 6})
    path = tmp_path / "flat.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(TaskError, match="'loss' is 2 on every training row"):  # nothing to fit
        load_task(str(path), inputs=["N"], outputs=["loss"], test="N >= 3e7")


def test_bad_arguments_raise_one_line_errors():
    with pytest.raises(ConfigError):
        sld.score(LAWS[0], "parallel_scaling_law", split="train")
    with pytest.raises(ParseError):
        sld.score("N.__class__", "parallel_scaling_law")


def test_sld_score_stays_callable_after_importing_the_scoring_module():
    import sld.scoring  # noqa: F401

    assert callable(sld.score) and sld.score is sld.scoring.score
