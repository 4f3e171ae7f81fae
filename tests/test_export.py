"""``sld export`` and the DataFrames out of results: scores, parameters, predictions, population."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest
import sympy

import sld
from sld.cli import main
from sld.config import RunConfig, TaskSpec
from sld.law import EXPORT_FORMATS, parse_law
from sld.run import Run
from sld.scoring import parse_for_task, predict_rows


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A tiny finished discovery run on parallel_scaling_law (chosen and human law scored)."""
    config = RunConfig(
        task=TaskSpec(source="parallel_scaling_law"),
        generations=1,
        islands=2,
        proposals_per_island=2,
        restarts=4,
        final_restarts=4,
        bootstrap=0,
        seed=5,
        screen_share=1.0,  # every law fully scored, so the population holds more than the winner
    )
    run = Run.create(config, run_dir=tmp_path_factory.mktemp("runs") / "run")
    with run:
        population = None
        run.search()
        population = run.to_frame()
        run.finalize()
    return run.run_dir, population


def _export(capsys, run_dir, *flags) -> str:
    assert main(["export", str(run_dir), *flags]) == 0
    return capsys.readouterr().out


def test_export_json_names_the_chosen_law_and_its_final_fit(capsys, finished_run):
    run_dir, _ = finished_run
    record = json.loads(_export(capsys, run_dir, "--format", "json"))
    chosen = sld.read_run(run_dir).chosen
    assert record["candidate_id"] == chosen.id and record["chosen"] is True
    assert record["law"] == parse_for_task(chosen.text, sld.load_task("parallel_scaling_law")).text
    assert record["parameters_from"].startswith("every training row")
    assert set(record["fitted_parameters"]) == {"pile", "stack"}
    assert record["heldout_after_selection"]["r2"] is not None


def test_export_every_format_to_stdout_and_to_a_file(capsys, finished_run, tmp_path):
    run_dir, _ = finished_run
    texts = {form: _export(capsys, run_dir, "--format", form) for form in EXPORT_FORMATS}
    assert "\\begin{equation}" in texts["latex"] and "def law(" in texts["python"]
    assert "PARAMETERS = {" in texts["python"] and "import sympy" in texts["sympy"]
    out = tmp_path / "law.tex"
    assert main(["export", str(run_dir), "--format", "latex", "--out", str(out)]) == 0
    assert out.read_text() == texts["latex"]


def test_export_csv_is_the_per_group_parameters_of_that_fit(capsys, finished_run):
    run_dir, _ = finished_run
    rows = list(csv.DictReader(io.StringIO(_export(capsys, run_dir, "--format", "csv"))))
    record = json.loads(_export(capsys, run_dir, "--format", "json"))
    assert [r["group"] for r in rows] == list(record["fitted_parameters"])
    for r in rows:
        for name in record["parameters"]:
            assert float(r[name]) == record["fitted_parameters"][r["group"]][name]


def test_export_another_law_by_id_uses_its_search_fit(capsys, finished_run):
    run_dir, population = finished_run
    other = int(population.loc[~population["chosen"], "id"].iloc[0])
    record = json.loads(_export(capsys, run_dir, "--law", str(other), "--format", "json"))
    assert record["candidate_id"] == other and record["chosen"] is False
    assert record["parameters_from"].startswith("the training rows minus the validation slice")


def test_export_mistakes_are_one_line(capsys, finished_run, tmp_path):
    run_dir, _ = finished_run
    for argv, says in (
        (["export", str(tmp_path)], "--format"),
        (["export", str(tmp_path), "--format", "json"], "no run store"),
        (["export", str(run_dir), "--format", "pdf"], "invalid choice: 'pdf'"),
        (["export", str(run_dir), "--format", "json", "--law", "99999"], "no candidate 99999"),
        (
            ["export", str(run_dir), "--format", "csv", "--out", str(tmp_path / "no/such")],
            "cannot write",
        ),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and says in err, err


def test_sympy_export_rebuilds_the_same_expressions():
    law = parse_law(
        "L = E + A/N**a + max(B, log(D))*abs(c) + log10(D) + sqrt(N) + 1/sqrt(D) + exp(-N)",
        inputs=["N", "D"],
        outputs=["L"],
    )
    namespace: dict = {}
    exec(compile(law.sympy_source(), "<export>", "exec"), namespace)  # noqa: S102 - our own output
    assert sympy.simplify(namespace["L"] - law.expressions[0]) == 0
    assert namespace["L"] == law.expressions[0]


def test_population_frame_is_the_population_best_first(finished_run):
    run_dir, during = finished_run
    record = sld.read_run(run_dir)
    frame = record.to_frame()
    assert list(frame["id"]) == [m.id for m in record.population.members()]
    assert frame["chosen"].sum() == 1 and frame.iloc[0]["chosen"]
    assert frame["on_front"].any() and {"text", "complexity", "error", "r2"} <= set(frame.columns)
    pd.testing.assert_frame_equal(during, frame)


def test_score_report_frames(tmp_path):
    task = sld.load_task("parallel_scaling_law")
    report = sld.score("E + A/(N**alpha * P**beta)", task, split="test", restarts=4)
    scores = report.to_frame()
    assert len(scores) == 1 and scores.loc[0, "r2"] == report.metrics.r2
    assert scores.loc[0, "split"] == "test" and scores.loc[0, "n_parameters"] == 4
    params = report.parameters_frame()
    assert list(params.index) == list(task.groups) and list(params.columns) == [
        "E",
        "A",
        "alpha",
        "beta",
    ]
    assert params.loc["pile", "alpha"] == report.parameters["pile"]["alpha"]
    rows = report.predictions(task)
    counts = rows["split"].value_counts().to_dict()
    assert counts == {
        "train": task.search_train().n_rows,
        "validation": task.validation().n_rows,
        "test": task.heldout().n_rows,
    }
    assert rows["fitted"].to_dict() == (rows["split"] != "test").to_dict()
    held = rows[rows["split"] == "test"]
    law = sld.parse_law(report.law, inputs=task.inputs, outputs=task.outputs)
    predicted, actual = predict_rows(law, report.fit, task.heldout())
    assert np.array_equal(held["loss_predicted"].to_numpy(), predicted[:, 0])
    assert np.array_equal(held["loss"].to_numpy(), actual[:, 0])
