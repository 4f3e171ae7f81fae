"""Bring-your-own data on the command line: the shared data flags, their card keys, their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sld.cli import build_parser, main
from sld.cli._data import DATA_FLAGS, task_spec
from sld.corpus import DATA_OPTIONS, load_task

SWEEP = """model,params,tokens,loss
a,1e8,1e9,3.1
a,2e8,1e9,3.0
a,4e8,1e9,2.9
a,8e8,1e9,2.85
a,1e9,1e9,2.8
b,1e8,2e9,3.2
b,2e8,2e9,3.1
b,4e8,2e9,3.0
b,8e8,2e9,2.9
b,1e9,2e9,2.7
"""
LAW = "E + A/N**a"
# every data flag, and the card beside the CSV that says the same thing
FLAGS = [
    "--inputs=params,tokens",
    "--output=loss",
    "--group=model",
    "--rows=loss < 10",
    "--test=N >= 1e9",
    "--validation-scale=N",
    "--log-scale=tokens:no",
    "--aliases=N=params,D=tokens",
    "--max-params=3",
    "--monotone=N:dec,D:dec",
]
CARD = """
group_column = "model"
rows = "loss < 10"
max_params = 3
[[inputs]]
name = "params"
alias = "N"
[[inputs]]
name = "tokens"
alias = "D"
log_scale = false
[[outputs]]
name = "loss"
[split]
test = "N >= 1e9"
[validation]
scale = "N"
[monotone]
N = "decreasing"
D = "decreasing"
"""
TIMINGS = ("seconds", "compile_seconds")


def _data(tmp_path: Path, name: str = "sweep.csv") -> Path:
    path = tmp_path / name
    path.write_text(SWEEP)
    return path


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def _score_json(capsys, argv: list[str]) -> dict:
    assert main(["score", *argv, "--json", "--restarts", "4"]) == 0
    report = json.loads(capsys.readouterr().out)
    # wall-clock timings are measurements of this call, not results: drop them
    for holder in (report, report["fit"]):
        for key in TIMINGS:
            holder.pop(key, None)
    return report


def test_every_data_option_has_a_flag_and_a_card_key():
    assert set(DATA_FLAGS) == set(DATA_OPTIONS)
    for field, flag in DATA_FLAGS.items():
        assert DATA_OPTIONS[field].flag == flag and DATA_OPTIONS[field].card_key
    for command in (["score", "x.csv", "L"], ["discover", "x.csv"]):
        args = build_parser().parse_args(command)
        for flag in DATA_FLAGS.values():
            assert hasattr(args, flag.removeprefix("--").replace("-", "_"))


def test_flags_and_card_give_identical_json(capsys, tmp_path):
    csv = _data(tmp_path)
    by_flags = _score_json(capsys, [str(csv), LAW, *FLAGS, "--split", "test"])
    (tmp_path / "sweep.toml").write_text(CARD)
    by_card = _score_json(capsys, [str(csv), LAW, "--split", "test"])
    assert by_flags == by_card
    assert by_flags["ok"] and by_flags["metrics"]["rows"] == 2
    assert set(by_flags["parameters"]) == {"a", "b"}
    # the same rows from Parquet give the same JSON again
    frame = pd.read_csv(csv)
    frame.to_parquet(tmp_path / "other.parquet")
    by_parquet = _score_json(
        capsys, [str(tmp_path / "other.parquet"), LAW, *FLAGS, "--split", "test"]
    )
    assert by_parquet == {**by_flags, "task": "other"}


def test_flags_reach_the_task(tmp_path):
    args = build_parser().parse_args(["score", str(_data(tmp_path)), LAW, *FLAGS])
    task = task_spec(args.task, args).load(named_as="flags")
    assert task.inputs == ("params", "tokens") and task.aliases == {"N": "params", "D": "tokens"}
    assert task.log_scale == {"params": True, "tokens": False}
    assert task.validation_scale == "params" and task.max_params == 3
    assert task.monotone == {"params": -1, "tokens": -1}
    # nothing was guessed; one note says that four sizes leave fewer folds than asked, and
    # one how many rows the rows rule kept (all of them)
    assert [n for n in task.notes if "folds asked" not in n] == [
        f"{tmp_path / 'sweep.csv'}: --rows rule 'loss < 10' keeps 10 of 10 rows"
    ]


def test_a_guessed_validation_scale_is_said_with_the_flag_to_change_it(capsys, tmp_path):
    csv = _data(tmp_path)
    argv = ["score", str(csv), "E + A/params**a", "--inputs", "params,tokens", "--output", "loss"]
    assert main([*argv, "--group", "model", "--test", "params >= 1e9", "--restarts", "2"]) == 0
    err = capsys.readouterr().err
    assert "note: the validation slice holds each group's largest-params training rows" in err
    assert "'params' is a guess (the one input the test rule compares)" in err
    assert "--validation-scale INPUT (one of params, tokens)" in err


def test_discover_records_every_data_flag_so_resume_reloads_the_same_task(tmp_path):
    from sld.cli.discover import run_config
    from sld.config import RunConfig

    args = build_parser().parse_args(["discover", str(_data(tmp_path)), *FLAGS, "--time", "5s"])
    config = run_config(args)
    again = RunConfig.model_validate(json.loads(config.model_dump_json()))
    assert again.task == config.task
    assert again.task.options() == {
        "inputs": ["params", "tokens"],
        "outputs": ["loss"],
        "group": "model",
        "rows": "loss < 10",
        "test": "N >= 1e9",
        "validation_scale": "N",
        "log_scale": {"tokens": False},
        "aliases": {"N": "params", "D": "tokens"},
        "max_params": 3,
        "monotone": {"N": "decreasing", "D": "decreasing"},
    }
    first, second = config.task.load(), again.task.load()
    assert (first.aliases, first.monotone, first.log_scale) == (
        second.aliases,
        second.monotone,
        second.log_scale,
    )
    assert first.validation().rows_per_group == second.validation().rows_per_group


# ---- every data flag: a bad value is one line, names the flag, exits 2 ----

BASE = ["--inputs", "params,tokens", "--output", "loss", "--group", "model", "--test", "N >= 1e9"]
BASE_ALIASED = [*BASE, "--aliases", "N=params,D=tokens"]


@pytest.mark.parametrize(
    ("flags", "flag", "says"),
    [
        (["--inputs", "params,,tokens"], "--inputs", "column names separated by commas"),
        (
            ["--inputs", "params,size", "--output", "loss"],
            "--inputs",
            "missing input column 'size'",
        ),
        ([*BASE[:2], "--output", "acc"], "--output", "missing output column 'acc'"),
        ([*BASE[:4], "--group", "family"], "--group", "missing group column 'family'"),
        ([*BASE[:2], "--output", "loss", "--test", "N >= = 1"], "--test", "syntax error in rule"),
        ([*BASE, "--rows", "loss >= = 1"], "--rows", "syntax error in rule"),
        ([*BASE, "--rows", "loss > 99"], "--rows", "keeps none of the 10 rows"),
        ([*BASE_ALIASED, "--validation-scale", "T"], "--validation-scale", "'T' is not an input"),
        ([*BASE_ALIASED, "--log-scale", "N:maybe"], "--log-scale", "expected yes, no"),
        ([*BASE_ALIASED, "--log-scale", "T:no"], "--log-scale", "names 'T', which is not an input"),
        ([*BASE, "--aliases", "N"], "--aliases", "ALIAS=COLUMN pairs"),
        ([*BASE, "--aliases", "L=loss"], "--aliases", "'loss', which is not an input"),
        ([*BASE_ALIASED, "--max-params", "0"], "--max-params", "expected a positive integer"),
        ([*BASE_ALIASED, "--monotone", "N:down"], "--monotone", "'down' is not a direction"),
        ([*BASE_ALIASED, "--monotone", "X:dec"], "--monotone", "names 'X', which is not an input"),
    ],
)
def test_bad_data_flag_is_one_line_naming_the_flag(capsys, tmp_path, flags, flag, says):
    line = _one_line_error(capsys, ["score", str(_data(tmp_path)), LAW, *flags])
    assert flag in line and says in line
    assert "=[" not in line and "_scale=" not in line  # never a Python keyword


def test_no_inputs_and_no_card_hints_the_flag_and_the_card(capsys, tmp_path):
    line = _one_line_error(capsys, ["score", str(_data(tmp_path)), LAW, "--output", "loss"])
    assert "no inputs given; pass --inputs N,D" in line
    assert "[[inputs]] name in a card sweep.toml beside the data" in line
    assert "inputs=[" not in line
    assert line.endswith("; the columns are: model, params, tokens, loss")


def test_non_positive_value_on_log_scale_names_the_flag_that_turns_it_off(capsys, tmp_path):
    path = tmp_path / "sweep.csv"
    path.write_text(SWEEP.replace("a,4e8,1e9,2.9", "a,4e8,0,2.9"))
    line = _one_line_error(capsys, ["score", str(path), LAW, *BASE_ALIASED, "--log-scale", "yes"])
    assert "line 4, column 'tokens'" in line and "pass --log-scale tokens:no" in line


def test_card_errors_name_the_card_key(capsys, tmp_path):
    csv = _data(tmp_path)
    (tmp_path / "sweep.toml").write_text(CARD.replace('D = "decreasing"', 'X = "decreasing"'))
    line = _one_line_error(capsys, ["score", str(csv), LAW])
    assert "sweep.toml: invalid card field: monotone key 'X' is not an input" in line
    (tmp_path / "sweep.toml").write_text(CARD.replace('test = "N >= 1e9"', 'test = "C > 1"'))
    line = _one_line_error(capsys, ["score", str(csv), LAW])
    assert "split.test rule of sweep.toml: unknown name 'C'" in line


def test_data_flags_on_a_curated_task_are_refused(capsys):
    line = _one_line_error(
        capsys, ["score", "parallel_scaling_law", LAW, "--monotone", "N:dec", "--max-params", "3"]
    )
    assert "--max-params, --monotone describe your own data file" in line


def test_discover_checks_the_data_before_it_creates_a_run(capsys, tmp_path):
    line = _one_line_error(
        capsys,
        [
            "discover",
            str(_data(tmp_path)),
            *BASE_ALIASED,
            "--monotone",
            "X:inc",
            "--out",
            str(tmp_path),
        ],
    )
    assert "--monotone names 'X'" in line
    assert not any(p.is_dir() for p in tmp_path.iterdir())


def test_load_task_reads_the_same_rows_from_csv_parquet_and_a_dataframe(tmp_path):
    csv = _data(tmp_path)
    frame = pd.read_csv(csv)
    frame.to_parquet(tmp_path / "sweep.parquet")
    options = dict(
        inputs=["params", "tokens"], outputs=["loss"], group="model", test="params >= 1e9"
    )
    tasks = [
        load_task(csv, **options),
        load_task(tmp_path / "sweep.parquet", **options),
        load_task(frame, **options),
    ]
    for task in tasks[1:]:
        assert task.groups == tasks[0].groups
        for a, b in zip(
            task.train().X + task.heldout().y,
            tasks[0].train().X + tasks[0].heldout().y,
            strict=True,
        ):
            assert (a == b).all()
    assert tasks[2].name == "frame"


def test_score_says_when_a_law_has_more_parameters_than_the_fold_can_rank(tmp_path, capsys):
    N = [1e6, 3e6, 1e7, 3e7, 1e8, 3e8, 1e9, 3e9]  # six training rows: fold 0 fits four
    csv = tmp_path / "tiny.csv"
    pd.DataFrame({"N": N, "loss": [2.6 + 40 / n**0.25 for n in N]}).to_csv(csv, index=False)
    flags = ["--inputs", "N", "--output", "loss", "--test", "N >= 1e9", "--restarts", "4"]
    assert main(["score", str(csv), "E + A/N**a + B*N**b", *flags]) == 0
    assert "note: the law has 5 parameters, more than the 3" in capsys.readouterr().err
    assert main(["score", str(csv), "E + A/N**a", *flags]) == 0
    assert "more than the" not in capsys.readouterr().err


def test_tasks_show_says_how_a_data_file_is_read_before_any_run(capsys, tmp_path):
    csv = _data(tmp_path)
    argv = ["tasks", "show", str(csv), "--inputs", "params,tokens", "--output", "loss"]
    assert main([*argv, "--group", "model", "--test", "params >= 1e9", "--json"]) == 0
    out, err = capsys.readouterr()
    shown = json.loads(out)
    assert shown["summary"]["train_rows"] == 8 and shown["summary"]["test_rows"] == 2
    assert [(f["fit_rows"], f["score_rows"]) for f in shown["summary"]["folds"]] == [(6, 2)]
    assert [g["group"] for g in shown["groups"]] == ["a", "b"]
    assert "note: the validation slice holds each group's largest-params training rows" in err
    assert main([*argv, "--group", "model", "--test", "params >= 1e9"]) == 0
    text = capsys.readouterr().out
    assert "selection folds (along params), fit rows → scored rows: 6 → 2\n" in text
    assert "parameter limit: none set" in text


def test_data_flags_without_a_file_to_show_are_refused(capsys):
    assert main(["tasks", "--inputs", "N"]) == 2
    assert "'sld tasks show FILE'" in capsys.readouterr().err
