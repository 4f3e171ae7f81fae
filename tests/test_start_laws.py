"""Start laws: the user's own laws are proposed first, always fully fitted, compete like any other
law, and the report scores them on held-out rows; a bad one stops the run before it is created."""

from __future__ import annotations

import json

import pytest

from sld.cli import main
from sld.config import Budgets, RunConfig, TaskSpec
from sld.corpus import load_task
from sld.errors import ConfigError
from sld.report import REPORT_JSON, REPORT_MD, build_report, read_run
from sld.run import Run
from sld.store import RunReader

TINY = dict(islands=2, proposals_per_island=2, restarts=4, final_restarts=4, bootstrap=0, seed=3)
HUMAN = "E + A/(N**alpha * P**beta)"  # parallel_scaling_law's two inputs, N and P
OTHER = "E + A/N**a + B/P"


def _config(**overrides) -> RunConfig:
    return RunConfig(
        task=TaskSpec(source="parallel_scaling_law"),
        **{"generations": 2, **TINY, **overrides},
    )


def test_start_laws_open_the_run_escape_the_screen_and_are_reported(tmp_path):
    # a screen that promotes almost nothing: start laws are fully fitted all the same
    config = _config(start_laws=[HUMAN, OTHER, HUMAN], screen_share=0.05)
    with Run.create(config, out=tmp_path / "runs") as run:
        report = run.execute()
        run_dir = run.run_dir
    with RunReader.open(run_dir) as reader:
        candidates = reader.candidates()
        starts = reader.candidates(proposer="start")
        fitted = {f.candidate.id: f for f in reader.fitted()}
        heldout = [row for row in reader.heldout() if row.kind == "start"]
    # proposed first, in order, on islands in turn, in generation 0
    assert [c.text for c in candidates[:3]] == [HUMAN, OTHER, HUMAN]
    assert [(c.generation, c.island, c.operator) for c in starts] == [
        (0, 0, "start"),
        (0, 1, "start"),
        (0, 0, "start"),
    ]
    first, second, again = starts
    assert again.status == "duplicate" and f"#{first.id}" in (again.reason or "")
    for c in (first, second):  # the full selection fit, never a screen fit
        assert c.status == "fitted" and fitted[c.id].error < float("inf")
        assert "screen" not in fitted[c.id].report
    # the engine's screen did drop others in that generation
    assert any(f.candidate.generation == 0 and "screen" in f.report for f in fitted.values())
    assert {row.candidate_id for row in heldout} == {first.id, second.id}

    entries = report["start_laws"]
    assert [e["text"] for e in entries] == [HUMAN, OTHER, HUMAN]
    assert [e["status"] for e in entries] == ["fitted", "fitted", "duplicate"]
    for e in entries[:2]:
        assert e["heldout"]["test_r2"] is not None and e["validation_r2"] is not None
        assert e["chosen"] == (e["id"] == report["chosen"]["id"])
    assert entries[2]["heldout"] is None
    # the files say the same, and a re-read from the store agrees with what was computed
    assert json.loads((run_dir / REPORT_JSON).read_text())["start_laws"] == entries
    markdown = (run_dir / REPORT_MD).read_text()
    assert "## Start laws" in markdown and "| start 1: `loss = " in markdown
    stored = build_report(read_run(run_dir), load_task("parallel_scaling_law"))
    assert stored["start_laws"] == entries


def test_a_resumed_run_does_not_propose_its_start_laws_again(tmp_path):
    with Run.create(_config(start_laws=[OTHER], generations=1), out=tmp_path / "runs") as run:
        run.search()
        run_dir = run.run_dir
    with Run.open(run_dir, budgets=Budgets(generations=3)) as run:
        run.search()
    with RunReader.open(run_dir) as reader:
        assert [c.text for c in reader.candidates(proposer="start")] == [OTHER]
        assert max(c.generation for c in reader.candidates()) >= 2


@pytest.mark.parametrize(
    ("laws", "words"),
    [
        ([OTHER, "E + A/N**a + B/Q**b"], ["start law 2", "'E + A/N**a + B/Q**b'"]),
        (["E + A/N**"], ["start law 1", "parallel_scaling_law", "syntax"]),
        (["E + A/N**a + B/P**b"], ["start law 1", "too many parameters"]),
    ],
)
def test_a_start_law_the_task_cannot_take_stops_the_run_before_it_exists(tmp_path, laws, words):
    with pytest.raises(ConfigError) as caught:
        Run.create(_config(start_laws=laws), out=tmp_path / "runs")
    message = str(caught.value)
    assert "\n" not in message and all(w in message for w in words), message
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_cli_start_flag_errors_in_one_line_and_reaches_the_run(tmp_path, capsys):
    code = main(
        [
            "discover",
            "parallel_scaling_law",
            "--start",
            "E + A/N**a + B/Q**b",
            "--generations",
            "1",
            "--out",
            str(tmp_path / "runs"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: start law 1") and err.count("\n") == 1
    code = main(
        [
            "discover",
            "parallel_scaling_law",
            "--start",
            OTHER,
            "--generations",
            "1",
            "--islands",
            "1",
            "--per-island",
            "2",
            "--restarts",
            "2",
            "--bootstrap",
            "0",
            "--out",
            str(tmp_path / "runs"),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and f"start 1: {OTHER} (" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    with RunReader.open(run_dir) as reader:
        assert reader.config()["start_laws"] == [OTHER]


def test_reference_stands_for_the_tasks_reference_law_and_the_run_records_the_law(tmp_path):
    task = load_task("parallel_scaling_law")
    with Run.create(_config(start_laws=["reference", OTHER]), out=tmp_path / "runs") as run:
        assert run.config.start_laws == [task.reference_law, OTHER]
        run_dir = run.run_dir
    with RunReader.open(run_dir) as reader:
        assert reader.config()["start_laws"] == [task.reference_law, OTHER]
    own = tmp_path / "sweep.csv"
    own.write_text("N,P,loss,split\n1,1,3,train\n2,1,2.5,train\n4,1,2.2,train\n8,1,2,test\n")
    spec = TaskSpec(source=str(own), inputs=["N", "P"], outputs=["loss"])
    with pytest.raises(ConfigError, match=r"^start law 1 is 'reference', but task sweep has no "):
        Run.create(RunConfig(task=spec, start_laws=["reference"]), out=tmp_path / "runs")
