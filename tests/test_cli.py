"""The sld command: outputs, and one-line errors with exit code 2 for every user mistake."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from waiting import HANG

from sld.cli import main
from sld.config import parse_duration

EXPECTED = {
    "data_constrained_scaling_law": (161, 21, 1),
    "domain_mixture_scaling_law": (80, 24, 4),
    "easy_question_scaling_law": (389, 127, 9),
    "lr_bsz_scaling_law": (1730, 117, 1),
    "moe_scaling_law": (193, 28, 1),
    "parallel_scaling_law": (36, 12, 2),
    "sft_scaling_law": (504, 42, 42),
    "vocab_scaling_law": (1080, 120, 1),
    "overtraining_scaling_law": (95, 9, 3),
    "compute_optimal_scaling_law": (1577, 168, 15),
}


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    return lines[0]


def test_tasks_json_lists_the_ten_tasks_with_their_counts(capsys):
    assert main(["tasks", "--json"]) == 0
    tasks = {t["name"]: t for t in json.loads(capsys.readouterr().out)["tasks"]}
    assert {n: (t["train_rows"], t["test_rows"], t["groups"]) for n, t in tasks.items()} == EXPECTED
    for t in tasks.values():
        assert 0 < t["validation_rows"] < t["train_rows"]


def test_tasks_table_and_show(capsys):
    assert main(["tasks"]) == 0
    assert "parallel_scaling_law" in capsys.readouterr().out
    assert main(["tasks", "show", "sft_scaling_law", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["card"]["name"] == "sft_scaling_law" and len(shown["groups"]) == 42


def test_unknown_task_is_one_line_exit_2(capsys):
    line = _one_line_error(capsys, ["tasks", "show", "nope"])
    assert "nope" in line


@pytest.mark.parametrize(
    "law",
    [
        "__import__('os').system('touch /tmp/sld_cli_pwned')",
        "().__class__.__bases__",
        "lambda: 1",
        "N.__class__",
        "[x for x in ()]",
        "'a'*10**9",
        "2**2**2**2**2**2",
        "(" * 1000 + "N" + ")" * 1000,
    ],
)
def test_hostile_law_is_rejected_in_one_line(capsys, law):
    line = _one_line_error(capsys, ["score", "parallel_scaling_law", law])
    assert "law" in line
    assert not os.path.exists("/tmp/sld_cli_pwned")


def test_score_with_card_aliases_on_test_split(capsys):
    assert (
        main(
            [
                "score",
                "parallel_scaling_law",
                "E + (A*1e9/(N*(k*log(P)+1)))**alpha",
                "--split",
                "test",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "test" and report["metrics"]["r2"] > 0.999


@pytest.mark.parametrize(
    "argv",
    [
        ["discover", "parallel_scaling_law", "--time", "ten minutes"],
        ["discover", "parallel_scaling_law", "--generations", "0"],
        ["discover", "parallel_scaling_law", "--proposer", "magic"],
        ["discover", "nope_task", "--generations", "1"],
        ["discover"],
        ["discover", "parallel_scaling_law", "--inputs", "N"],
        ["score", "parallel_scaling_law", "E + A/N**a", "--bootstrap", "-1"],
        ["report", "/nonexistent/run"],
        ["frobnicate"],
    ],
)
def test_bad_flags_and_names_are_one_line_exit_2(capsys, argv):
    _one_line_error(capsys, argv)


def test_unwritable_output_directory_is_one_line_exit_2(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    line = _one_line_error(
        capsys,
        ["discover", "parallel_scaling_law", "--generations", "1", "--out", str(blocker / "runs")],
    )
    assert "--out" in line


def test_corrupted_store_on_resume_is_one_line_and_untouched(capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    garbage = b"this is not a sqlite database" * 100
    (run / "run.sqlite").write_bytes(garbage)
    line = _one_line_error(capsys, ["discover", "--resume", str(run)])
    assert str(run) in line
    assert (run / "run.sqlite").read_bytes() == garbage  # nothing lost


def test_durations():
    assert parse_duration("90") == 90.0
    assert parse_duration("2m") == 120.0
    assert parse_duration("1.5h") == 5400.0


def test_installed_console_script_runs_from_another_directory(tmp_path):
    sld = shutil.which("sld", path=str(Path(sys.executable).parent))
    assert sld is not None
    done = subprocess.run(
        [sld, "tasks", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=HANG
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["tasks"]) == len(EXPECTED)
    bad = subprocess.run(
        [sld, "tasks", "show", "nope"], cwd=tmp_path, capture_output=True, text=True, timeout=HANG
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: ")


@pytest.mark.slow
def test_baseline_reaches_the_reference_held_out_scores(capsys):
    assert main(["baseline", "--json"]) == 0
    got = {r["task"]: r for r in json.loads(capsys.readouterr().out)["baseline"]}
    floors = {
        "parallel_scaling_law": 0.999,
        "vocab_scaling_law": 0.97,
        "sft_scaling_law": 0.99,
        "domain_mixture_scaling_law": 0.97,
        "moe_scaling_law": 0.67,
        "data_constrained_scaling_law": 0.86,
    }
    for task, floor in floors.items():
        assert got[task]["test_r2"] >= floor, (task, got[task]["test_r2"])
    easy = got["easy_question_scaling_law"]
    assert (
        easy["test_r2"] < 0 and easy["test_r2_clipped"] == -1.0
    )  # the degree-5 polynomial extrapolates badly
    assert got["lr_bsz_scaling_law"]["reason"] == "no reference law"


def test_fitness_weights_reach_the_run_config_and_bad_ones_are_one_line_errors(capsys):
    from sld.cli._args import build_parser
    from sld.cli.discover import search_settings
    from sld.config import RunConfig, TaskSpec

    args = build_parser().parse_args(
        ["discover", "parallel_scaling_law", "--param-weight", "0.05", "--complexity-weight", "0"]
    )
    config = RunConfig(task=TaskSpec(source="parallel_scaling_law"), **search_settings(args))
    assert (config.param_weight, config.complexity_weight) == (0.05, 0.0)
    default = build_parser().parse_args(["discover", "parallel_scaling_law"])
    assert "param_weight" not in search_settings(default)  # the config's default applies
    for bad in ("-1", "inf", "x"):
        line = _one_line_error(capsys, ["discover", "parallel_scaling_law", "--param-weight", bad])
        assert "--param-weight" in line


def test_fit_windows_reach_the_pick_and_bad_ones_are_one_line_errors(capsys):
    from sld.cli._args import build_parser
    from sld.cli.discover import search_settings
    from sld.config import DEFAULT_FIT_WINDOWS, RunConfig, TaskSpec
    from sld.evolve.pick import PickSettings

    args = build_parser().parse_args(["discover", "parallel_scaling_law", "--fit-windows", "0"])
    config = RunConfig(task=TaskSpec(source="parallel_scaling_law"), **search_settings(args))
    assert PickSettings.from_config(config).windows == (0.0,)
    default = RunConfig(task=TaskSpec(source="parallel_scaling_law"))
    assert PickSettings.from_config(default).windows == DEFAULT_FIT_WINDOWS
    for bad in ("1", "0,x", "-0.25", "0,,0.5"):
        line = _one_line_error(capsys, ["discover", "parallel_scaling_law", "--fit-windows", bad])
        assert "--fit-windows" in line
    assert not PickSettings.from_config(default).consensus
    args = build_parser().parse_args(["bench", "parallel_scaling_law", "--pick-consensus"])
    config = RunConfig(task=TaskSpec(source="parallel_scaling_law"), **search_settings(args))
    assert PickSettings.from_config(config).consensus
    for flag, field in [
        ("--no-pick-steady", "steady"),
        ("--no-pick-supported", "supported"),
        ("--no-pick-prior", "prior"),
        ("--no-pick-frozen", "frozen"),
        ("--no-pick-unfreeze", "unfreeze"),
    ]:
        assert getattr(PickSettings.from_config(default), field), field
        args = build_parser().parse_args(["discover", "parallel_scaling_law", flag])
        config = RunConfig(task=TaskSpec(source="parallel_scaling_law"), **search_settings(args))
        assert not getattr(PickSettings.from_config(config), field), flag


def test_discover_shows_each_step_after_the_search(capsys, tmp_path):
    """The final pick can take minutes on a large task: the terminal names each step."""
    argv = ["discover", "parallel_scaling_law", "--generations", "1", "--islands", "1"]
    argv += ["--per-island", "2", "--bootstrap", "0", "--out", str(tmp_path)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    steps = [
        err.find(s)
        for s in ("best val R²", "final pick:", "held-out scores:", "writing the report")
    ]
    assert -1 not in steps and steps == sorted(steps), captured.err
    assert "chosen" in captured.out


def test_the_held_out_table_shows_the_r2_its_interval_is_about(capsys):
    """A test R² far below −1 is shown as it is, not clipped, beside its bootstrap interval."""
    from sld.cli._render import render_report

    held = {
        "law": "L = E + A/N**a",
        "test_r2": -5.1022,
        "test_r2_clipped": -1.0,
        "bootstrap_95": [-7.3273, -3.3823],
        "test_nmse": 6.1022,
        "test_nmae": 2.9629,
    }
    report = {
        "task": "lr_bsz_scaling_law",
        "candidates": 3,
        "chosen": {"validation_r2": 0.68, "complexity": 9, "text": "L = E + A/N**a"},
        "heldout": {"chosen": held},
        "pareto_front": [],
    }
    render_report(report)
    row = next(
        line for line in capsys.readouterr().out.splitlines() if "chosen" in line and "[" in line
    )
    assert "-5.1022" in row and "[-7.3273, -3.3823]" in row
    assert "-1.0000" not in row


def test_bracketed_text_is_printed_as_it_is_not_read_as_rich_markup(capsys):
    """A reason, path or card text with "[...]" in it reaches the terminal whole (rich would
    read "[prices.m]" or "[nats]" as a style tag and drop it)."""
    from sld.cli._render import render_report

    render_report(
        {
            "task": "my_sweep",
            "candidates": 0,
            "stopped_by": "set [prices.m] in --llm-config",
            "run_dir": "runs/[nats]",
            "chosen": None,
        }
    )
    out = capsys.readouterr().out
    assert "set [prices.m] in --llm-config" in out and "runs/[nats]" in out
    assert "my_sweep:" in out and "no law was scored" in out


def test_final_narrow_reaches_the_pick_and_a_value_no_fit_could_use_is_one_line(capsys):
    from sld.cli._args import build_parser
    from sld.cli.discover import search_settings
    from sld.config import RunConfig, TaskSpec
    from sld.evolve.pick import PickSettings

    def settings(*flags: str) -> PickSettings:
        args = build_parser().parse_args(["discover", "parallel_scaling_law", *flags])
        config = RunConfig(task=TaskSpec(source="parallel_scaling_law"), **search_settings(args))
        return PickSettings.from_config(config)

    assert settings().narrow == 0
    assert settings("--final-narrow", "8").narrow == 8
    line = _one_line_error(capsys, ["discover", "parallel_scaling_law", "--final-narrow", "3"])
    assert "final_narrow=3" in line and "2, 4, 8, 16" in line
