"""Bring-your-own CSV: good files load, bad files give one-line TaskErrors saying where and how."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sld.corpus import load_task
from sld.corpus.repeats import check_duplicates
from sld.corpus.table import read_table
from sld.errors import TaskError
from sld.scoring import score

GOOD = """model,N,D,loss
a,1e8,1e9,3.1
a,2e8,1e9,3.0
a,4e8,1e9,2.9
a,1e9,1e9,2.8
b,1e8,2e9,3.2
b,2e8,2e9,3.1
b,1e9,2e9,2.7
"""
SWEEP = {"inputs": ["N", "D"], "outputs": ["loss"], "group": "model", "test": "N >= 1e9"}


def _write(tmp_path: Path, text: str, name: str = "sweep.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _fails(path: Path, pattern: str, **options) -> str:
    with pytest.raises(TaskError, match=pattern) as info:
        load_task(str(path), **options)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_good_csv_loads_with_groups_split_and_defaults(tmp_path):
    task = load_task(str(_write(tmp_path, GOOD)), **SWEEP)
    assert task.name == "sweep"
    assert task.inputs == ("N", "D") and task.outputs == ("loss",)
    assert task.groups == ("a", "b")
    assert task.aliases == {"N": "N", "D": "D"}
    assert task.log_scale == {"N": True, "D": True}
    assert task.validation_scale == "N"
    assert task.train().rows_per_group == (3, 2)
    assert task.heldout().rows_per_group == (1, 1)
    assert task.validation().rows_per_group == (1, 1)
    assert np.array_equal(task.heldout().X[0], [[1e9, 1e9]])


def test_without_group_all_rows_form_group_all(tmp_path):
    text = "N,loss\n1,3\n2,2.5\n3,2.2\n4,2.0\n"
    task = load_task(_write(tmp_path, text), inputs=["N"], outputs=["loss"], test="N > 3")
    assert task.groups == ("all",)


def test_split_column_is_used_when_no_rule_given(tmp_path):
    text = "N,loss,split\n1,3,train\n2,2.5,train\n3,2.2,train\n4,2.0,test\n"
    task = load_task(_write(tmp_path, text), inputs=["N"], outputs=["loss"])
    assert task.heldout().n_rows == 1


def test_aliases_and_log_scale_options_apply(tmp_path):
    task = load_task(
        _write(tmp_path, GOOD), **SWEEP, aliases={"params": "N"}, log_scale={"D": False}
    )
    assert task.aliases == {"params": "N", "D": "D"}
    assert task.log_scale == {"N": True, "D": False}


def _with_column(tmp_path: Path, name: str, cell) -> Path:
    """GOOD with one more column, each row's cell ``cell(N, D)``."""
    header, *rows = GOOD.strip().splitlines()
    cells = [cell(*map(float, r.split(",")[1:3])) for r in rows]
    lines = [f"{header},{name}"] + [f"{r},{c}" for r, c in zip(rows, cells, strict=True)]
    return _write(tmp_path, "\n".join(lines) + "\n")


def test_test_rule_may_read_another_numeric_column_of_the_file(tmp_path):
    path = _with_column(tmp_path, "flops", lambda n, d: f"{6 * n * d:g}")
    task = load_task(path, **{**SWEEP, "test": "flops >= 6e18"})
    assert task.inputs == ("N", "D")  # flops is read for the rule only
    test = np.concatenate(task.heldout().X)
    assert sorted((6 * test[:, 0] * test[:, 1]).tolist()) == [6e18, 1.2e19]
    bad = path.read_text().replace("a,2e8,1e9,3.0,1.2e+18", "a,2e8,1e9,3.0,lots")
    _fails(
        _write(tmp_path, bad, "bad.csv"),
        r"line 3, column 'flops': 'lots' is not a number",
        **{**SWEEP, "test": "flops >= 6e18"},
    )


def test_an_output_a_law_cannot_name_is_written_with_underscores(tmp_path):
    path = _write(tmp_path, GOOD.replace("model,N,D,loss", "model,N,D,eval/loss"))
    task = load_task(path, **{**SWEEP, "outputs": ["eval/loss"]})
    assert task.outputs == ("eval_loss",)
    assert any("output 'eval/loss' is written 'eval_loss' in laws" in n for n in task.notes)
    report = score("eval_loss = E + A*N**a", task, split="validation", restarts=4)
    assert report.law == "eval_loss = E + A*N**a"  # parsed against the written name
    bad = path.read_text().replace("a,2e8,1e9,3.0", "a,2e8,1e9,x")
    _fails(
        _write(tmp_path, bad, "bad.csv"),
        r"line 3, column 'eval/loss': 'x' is not a number",
        **{**SWEEP, "outputs": ["eval/loss"]},
    )


def test_test_rule_may_compare_another_text_column_of_the_file(tmp_path):
    path = _with_column(tmp_path, "run", lambda n, d: "big" if n >= 1e9 else "small")
    task = load_task(path, **{**SWEEP, "test": 'run == "big"'})
    assert np.concatenate(task.heldout().X)[:, 0].tolist() == [1e9, 1e9]
    frame = pd.read_csv(path)  # a DataFrame reads the same text column
    same = load_task(frame, **{**SWEEP, "test": "run == 'big' and D > 1e9"})
    assert np.concatenate(same.heldout().X).tolist() == [[1e9, 2e9]]


def test_test_rule_may_use_aliases_and_group(tmp_path):
    options = dict(SWEEP, test='params >= 1e9 or (model == "a" and params > 3e8)')
    task = load_task(_write(tmp_path, GOOD), **options, aliases={"params": "N"})
    assert task.heldout().rows_per_group == (2, 1)


def test_card_beside_csv_supplies_the_task(tmp_path):
    _write(tmp_path, GOOD)
    (tmp_path / "sweep.toml").write_text(
        """
name = "my_sweep"
group_column = "model"
max_params = 3
reference_law = "L = E + A/N**a"
[[inputs]]
name = "N"
alias = "Np"
log_scale = true
[[inputs]]
name = "D"
alias = "Dt"
log_scale = true
[[outputs]]
name = "loss"
alias = "L"
[split]
test = "Np >= 1e9"
"""
    )
    for path in (tmp_path / "sweep.csv", tmp_path / "sweep.toml"):
        task = load_task(str(path))
        assert task.name == "my_sweep" and task.max_params == 3
        assert task.aliases == {"Np": "N", "Dt": "D"}
        assert task.heldout().n_rows == 2


# ---- bad files: each case one line, naming file, line and column where they exist ----


def test_file_not_found(tmp_path):
    _fails(tmp_path / "missing.csv", "missing.csv: file not found", **SWEEP)


def test_unknown_curated_name_lists_tasks():
    with pytest.raises(TaskError, match="no curated task or file named 'nope'.*vocab"):
        load_task("nope")


def test_empty_file(tmp_path):
    _fails(_write(tmp_path, "\n  \n"), "the file is empty", **SWEEP)


def test_header_without_rows(tmp_path):
    _fails(_write(tmp_path, "model,N,D,loss\n"), "no data rows", **SWEEP)


def test_unparsable_csv_wrong_field_count(tmp_path):
    text = GOOD.replace("a,2e8,1e9,3.0", "a,2e8,1e9,3.0,7")
    _fails(_write(tmp_path, text), r"sweep.csv line 3: 5 fields but the header has 4", **SWEEP)


def test_unparsable_csv_bad_quoting(tmp_path):
    text = GOOD.replace("a,2e8,1e9,3.0", 'a,2e8,"1e9"x,3.0')
    _fails(_write(tmp_path, text), r"line 3: cannot parse CSV", **SWEEP)


def test_not_utf8(tmp_path):
    path = tmp_path / "sweep.csv"
    path.write_bytes(b"model,N\xff\xfe,D,loss\n")
    _fails(path, "not UTF-8", **SWEEP)


def test_duplicate_header_column(tmp_path):
    _fails(
        _write(tmp_path, GOOD.replace("model,N,D,loss", "model,N,N,loss")),
        "column 'N' appears twice",
        **SWEEP,
    )


def test_missing_input_column(tmp_path):
    _fails(_write(tmp_path, GOOD), "missing input column 'P'", **dict(SWEEP, inputs=["N", "P"]))


def test_missing_output_column(tmp_path):
    _fails(_write(tmp_path, GOOD), "missing output column 'acc'", **dict(SWEEP, outputs=["acc"]))


def test_missing_group_column(tmp_path):
    _fails(_write(tmp_path, GOOD), "missing group column 'family'", **dict(SWEEP, group="family"))


def test_non_numeric_cell(tmp_path):
    text = GOOD.replace("a,4e8,1e9,2.9", "a,4e8,lots,2.9")
    _fails(_write(tmp_path, text), r"line 4, column 'D': 'lots' is not a number", **SWEEP)


def test_rows_a_crashed_run_left_empty_are_left_out_with_a_note(tmp_path):
    text = GOOD + "a,3e8,1e9,2.95\nb,3e8,2e9,3.05\n"
    text = text.replace("a,4e8,1e9,2.9", "a,4e8,1e9,NaN").replace("b,3e8,2e9", "b,,2e9")
    task = load_task(_write(tmp_path, text), **SWEEP)
    assert task.train().n_rows + task.heldout().n_rows == 7
    (note,) = [n for n in task.notes if "left out" in n]
    assert "left out 2 rows" in note
    assert "line 4: 'loss' is 'NaN'" in note and "line 10: 'N' is empty" in note
    assert 4e8 not in np.concatenate(task.train().X)[:, 0]


def test_a_file_of_empty_rows_is_one_line_error(tmp_path):
    text = "N,D,loss\n1e8,1e9,\n2e8,1e9,nan\n"
    pattern = r"every row lacks a value \(the first, line 2, in 'loss'"
    _fails(_write(tmp_path, text), pattern, **dict(SWEEP, group=None))


def test_a_curated_reader_refuses_an_empty_cell(tmp_path):
    path = _write(tmp_path, GOOD.replace("a,4e8,1e9,2.9", "a,,1e9,2.9"))
    with pytest.raises(TaskError, match=r"line 4, column 'N': empty cell; fill it in"):
        read_table(path, numeric=["N", "D", "loss"], group_column="model")
    nan = _write(tmp_path, GOOD.replace("a,4e8,1e9,2.9", "a,4e8,1e9,NaN"), "nan.csv")
    with pytest.raises(TaskError, match=r"line 4, column 'loss': missing value 'NaN'"):
        read_table(nan, numeric=["N", "D", "loss"], group_column="model")


def test_sizes_written_with_a_suffix_are_read_with_a_note(tmp_path):
    text = GOOD.replace("1e8,", "100M,").replace("1e9,", "1B,", 1).replace("2e8,1e9", "0.2b,1e9")
    task = load_task(_write(tmp_path, text), **SWEEP)
    plain = load_task(_write(tmp_path, GOOD, "plain.csv"), **SWEEP)
    assert _same(task.train().X, plain.train().X)
    assert _same(task.heldout().X, plain.heldout().X)
    (note,) = [n for n in task.notes if "'N' holds" in n]
    assert "'N' holds numbers with a size suffix (line 2: '100M')" in note


@pytest.mark.parametrize("cell", ["70X", "1.5 MB", "M", "B7"])
def test_a_suffix_the_reader_does_not_know_is_not_a_number(tmp_path, cell):
    text = GOOD.replace("a,4e8,1e9,2.9", f"a,{cell},1e9,2.9")
    _fails(_write(tmp_path, text), rf"line 4, column 'N': '{cell}' is not a number", **SWEEP)


def test_semicolons_and_decimal_commas_read_like_commas(tmp_path):
    text = GOOD.replace(",", ";").replace("3.1", "3,1")
    task = load_task(_write(tmp_path, text), **SWEEP)
    plain = load_task(_write(tmp_path, GOOD, "plain.csv"), **SWEEP)
    assert _same(task.train().y, plain.train().y)


def test_a_tab_separated_file_reads_like_a_csv(tmp_path):
    task = load_task(_write(tmp_path, GOOD.replace(",", "\t"), "sweep.tsv"), **SWEEP)
    plain = load_task(_write(tmp_path, GOOD, "plain.csv"), **SWEEP)
    assert _same(task.train().X, plain.train().X)


def test_a_wrong_field_count_names_the_separator(tmp_path):
    text = GOOD.replace(",", ";").replace("a;4e8;1e9;2.9", "a;4e8;1e9")
    _fails(
        _write(tmp_path, text),
        r"line 4: 3 fields but the header has 4; fix the semicolons",
        **SWEEP,
    )


@pytest.mark.parametrize(
    ("name", "orient", "lines"),
    [("sweep.jsonl", "records", True), ("sweep.json", "records", True)]
    + [("sweep.json", "records", False), ("sweep.json", "columns", False)],
)
def test_json_rows_load_like_the_csv(tmp_path, name, orient, lines):
    frame = _frame()
    frame.to_json(tmp_path / name, orient=orient, lines=lines)
    task = load_task(tmp_path / name, **SWEEP)
    plain = load_task(_write(tmp_path, GOOD, "plain.csv"), **SWEEP)
    assert _same(task.train().y, plain.train().y)
    assert task.groups == plain.groups


def test_json_that_is_not_records_is_one_line_error(tmp_path):
    _fails(_write(tmp_path, "{not json", "sweep.json"), r"sweep.json: not JSON rows", **SWEEP)


def test_inf_cell(tmp_path):
    text = GOOD.replace("a,4e8,1e9,2.9", "a,4e8,inf,2.9")
    _fails(_write(tmp_path, text), r"line 4, column 'D': infinite value", **SWEEP)


def test_non_positive_value_in_log_scale_input(tmp_path):
    text = GOOD.replace("a,4e8,1e9,2.9", "a,4e8,0,2.9")
    _fails(
        _write(tmp_path, text),
        r"line 4, column 'D': value 0.0 is not positive",
        **SWEEP,
        log_scale=True,
    )


def test_non_positive_value_turns_default_log_scale_off(tmp_path):
    text = GOOD.replace("a,4e8,1e9,2.9", "a,4e8,0,2.9")
    task = load_task(_write(tmp_path, text), **SWEEP)
    assert task.log_scale == {"N": True, "D": False}


WIDE = """N,D,loss
1e6,1e9,4.0
1e7,1e9,3.5
1e8,1e9,3.1
-5,1e9,3.0
1e9,1e9,2.8
1e10,1e9,2.6
"""
WIDE_SWEEP = {"inputs": ["N", "D"], "outputs": ["loss"], "test": "N >= 1e10"}


def test_a_wide_input_kept_linear_by_a_non_positive_value_gets_a_note(tmp_path):
    task = load_task(_write(tmp_path, WIDE), **WIDE_SWEEP)
    assert task.log_scale["N"] is False
    (note,) = [n for n in task.notes if "linear scale" in n]
    assert "'N'" in note and "line 5: -5" in note and "1 of its 6 values" in note
    assert "log_scale={'N': False}" in note  # the Python API's words for the fix


def test_no_linear_scale_note_when_asked_for_or_when_the_input_is_narrow(tmp_path):
    asked = load_task(_write(tmp_path, WIDE), **WIDE_SWEEP, log_scale={"N": False})
    narrow = load_task(
        _write(tmp_path, GOOD.replace("a,4e8,1e9,2.9", "a,4e8,0,2.9"), "narrow.csv"), **SWEEP
    )
    for task in (asked, narrow):
        assert not [n for n in task.notes if "linear scale" in n]


def test_empty_train_split(tmp_path):
    _fails(_write(tmp_path, GOOD), "train split is empty", **dict(SWEEP, test="N > 0"))


def test_empty_test_split(tmp_path):
    _fails(_write(tmp_path, GOOD), "test split is empty", **dict(SWEEP, test="N > 1e12"))


def test_repeated_inputs_are_kept_as_seeds_with_a_note(tmp_path):
    text = GOOD.replace("a,2e8,1e9,3.0\n", "a,2e8,1e9,3.0\na,2e8,1e9,3.05\n")
    task = load_task(_write(tmp_path, text), **SWEEP)
    assert task.train().n_rows == 6
    (note,) = [n for n in task.notes if "repeat" in n]
    assert "1 row repeats the group and inputs of an earlier row (first: lines 3 and 4;" in note
    assert "at most 2 rows share one setting" in note
    assert "count twice" not in note


def test_rows_that_differ_in_a_column_not_named_are_one_line_error(tmp_path):
    # a loss curve per run: the step is not an input, so one setting's rows span the curve
    rows = [
        f"{n:g},{d:g},{step},{1.8 + 300 / n**0.3 + 40 / (step + 1) ** 0.5:.6g}"
        for n in (1e8, 2e8, 4e8, 1e9)
        for d in (1e9, 2e9)
        for step in (0, 10, 100, 1000)
    ]
    path = _write(tmp_path, "N,D,step,loss\n" + "\n".join(rows) + "\n")
    options = dict(SWEEP, group=None)
    message = _fails(
        path,
        r"lines 2 and 3: same group and inputs but 'loss' is 42\.99 and 15\.05, and 100%",
        **options,
    )
    assert "of its variation lies among rows with the same inputs" in message
    assert "name the column they differ in (a step, a learning rate) as an input" in message
    task = load_task(path, **dict(options, inputs=["N", "D", "step"]))
    assert not [n for n in task.notes if "repeat" in n]


def test_repeated_rows_that_repeat_the_outputs_too_are_named_as_copies(tmp_path):
    text = GOOD.replace("a,2e8,1e9,3.0\n", "a,2e8,1e9,3.0\na,2e8,1e9,3.0\n")
    (note,) = [n for n in load_task(_write(tmp_path, text), **SWEEP).notes if "repeat" in n]
    assert "1 of them repeats the outputs too (lines 3 and 4) and so counts twice" in note


def test_a_card_that_allows_repeated_inputs_silences_the_note(tmp_path):
    text = GOOD.replace("a,2e8,1e9,3.0\n", "a,2e8,1e9,3.0\na,2e8,1e9,3.05\n")
    _write(tmp_path, text)
    (tmp_path / "sweep.toml").write_text(
        'group_column = "model"\nallow_duplicate_inputs = true\n[[inputs]]\nname = "N"\n'
        '[[inputs]]\nname = "D"\n[[outputs]]\nname = "loss"\n[split]\ntest = "N >= 1e9"\n'
    )
    assert not [n for n in load_task(tmp_path / "sweep.csv").notes if "repeat" in n]


CURVES = """run,N,D,step,loss
a,1e8,1e9,0,10.8
a,1e8,1e9,1000,3.1
b,2e8,1e9,0,10.8
b,2e8,1e9,1000,3.0
c,4e8,1e9,0,10.8
c,4e8,1e9,1000,2.9
d,1e9,1e9,0,10.8
d,1e9,1e9,1000,2.8
e,2e9,1e9,1000,nan
"""


def test_a_rows_rule_keeps_the_rows_a_task_uses(tmp_path):
    options = {"inputs": ["N", "D"], "outputs": ["loss"], "test": "N >= 1e9"}
    task = load_task(_write(tmp_path, CURVES), **options, rows="step == 1000")
    assert task.train().n_rows == 3 and task.heldout().n_rows == 1
    assert np.array_equal(np.concatenate(task.train().y)[:, 0], [3.1, 3.0, 2.9])
    (note,) = [n for n in task.notes if "rows rule 'step" in n]
    assert "rows rule 'step == 1000' keeps 4 of 8 rows" in note
    (skipped,) = [n for n in task.notes if "left out" in n]  # row e: no loss
    assert skipped.endswith("; counted before the rows rule, which may have left them out anyway")
    assert not [n for n in task.notes if "repeat" in n]
    by_output = load_task(_write(tmp_path, CURVES, "b.csv"), **options, rows="loss < 10")
    assert np.array_equal(np.concatenate(by_output.train().y), np.concatenate(task.train().y))
    text = load_task(_write(tmp_path, CURVES, "c.csv"), **options, rows='run != "z" and step > 0')
    assert text.train().n_rows == 3


def test_a_rows_rule_in_a_card_beside_the_file(tmp_path):
    _write(tmp_path, CURVES)
    (tmp_path / "sweep.toml").write_text(
        'rows = "step == 1000"\n[[inputs]]\nname = "N"\n[[inputs]]\nname = "D"\n'
        '[[outputs]]\nname = "loss"\n[split]\ntest = "N >= 1e9"\n'
    )
    task = load_task(tmp_path / "sweep.csv")
    assert task.train().n_rows == 3
    assert any("rows rule of sweep.toml 'step == 1000' keeps 4" in n for n in task.notes)


@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        ("step == 5", r"rows rule 'step == 5' keeps none of the 8 rows; loosen it"),
        (
            "steps == 5",
            r"rows rule: unknown name 'steps' .* valid names are: D, N, group, loss, run, step",
        ),
        ("step + 1 > 5", r"rows rule: .*"),
        ("  ", r"rows is empty; give a rule such as rows='step == 249000'"),
    ],
)
def test_a_bad_rows_rule_is_one_line_error(tmp_path, rows, pattern):
    options = {"inputs": ["N", "D"], "outputs": ["loss"], "test": "N >= 1e9"}
    _fails(_write(tmp_path, CURVES), pattern, **options, rows=rows)


def test_a_test_rule_may_not_name_an_output(tmp_path):
    options = {"inputs": ["N", "D"], "outputs": ["loss"], "rows": "step > 0"}
    message = _fails(_write(tmp_path, CURVES), r"unknown name 'loss'", **options, test="loss < 3")
    assert message.endswith("valid names are: D, N, group, run, step")


def test_unknown_name_in_test_rule(tmp_path):
    message = _fails(_write(tmp_path, GOOD), "unknown name 'C'", **dict(SWEEP, test="C > 1"))
    assert "valid names are: D, N, group, model" in message


def test_syntax_error_in_test_rule(tmp_path):
    _fails(_write(tmp_path, GOOD), "syntax error in rule", **dict(SWEEP, test="N >= = 1"))


def test_call_in_test_rule(tmp_path):
    _fails(
        _write(tmp_path, GOOD),
        "function call is not allowed",
        **dict(SWEEP, test="__import__('os') > 1"),
    )


def test_invalid_split_values(tmp_path):
    text = "N,loss,split\n1,3,train\n2,2.5,valid\n3,2.2,train\n4,2.0,test\n"
    _fails(
        _write(tmp_path, text),
        r"line 3, column 'split': 'valid' is not 'train' or 'test'",
        inputs=["N"],
        outputs=["loss"],
    )


def test_no_test_rule_and_no_split_column(tmp_path):
    message = _fails(
        _write(tmp_path, GOOD), "no test rule and no 'split' column", **dict(SWEEP, test=None)
    )
    assert "pass test='N >= 1e+09'" in message  # the first input at its largest value


def test_no_inputs_or_outputs_names_the_columns_to_choose_from(tmp_path):
    for options in (dict(outputs=["loss"]), dict(inputs=["N", "D"])):
        message = _fails(_write(tmp_path, GOOD), r"no \w+ given", **options, test="N > 1")
        assert message.endswith("; the columns are: model, N, D, loss")
    frame = pd.read_csv(_write(tmp_path, GOOD))
    with pytest.raises(TaskError, match="the columns are: model, N, D, loss$"):
        load_task(frame, outputs=["loss"])


def test_column_both_input_and_output(tmp_path):
    _fails(
        _write(tmp_path, GOOD),
        "'loss' is both an input and an output",
        **dict(SWEEP, inputs=["N", "loss"]),
    )


def test_no_inputs_given(tmp_path):
    _fails(_write(tmp_path, GOOD), "no inputs given", outputs=["loss"], test="N > 1")


def test_no_outputs_given(tmp_path):
    _fails(_write(tmp_path, GOOD), "outputs is empty", **dict(SWEEP, outputs=[]))


def test_group_with_fewer_than_two_training_rows(tmp_path):
    text = GOOD + "c,1e8,3e9,3.3\nc,1e9,3e9,2.6\n"
    _fails(_write(tmp_path, text), "group 'c' has 1 training row", **SWEEP)


def test_bad_card_toml(tmp_path):
    _write(tmp_path, GOOD)
    (tmp_path / "sweep.toml").write_text("name = \n[[inputs]\n")
    _fails(tmp_path / "sweep.csv", "sweep.toml: not valid TOML")


def test_card_failing_validation(tmp_path):
    _write(tmp_path, GOOD)
    (tmp_path / "sweep.toml").write_text('name = "x"\ninputs = []\n[[outputs]]\nname = "loss"\n')
    _fails(tmp_path / "sweep.csv", r"sweep.toml: invalid card field 'inputs'")


def test_card_with_unknown_field(tmp_path):
    _write(tmp_path, GOOD)
    (tmp_path / "sweep.toml").write_text(
        'name = "x"\ncolour = "red"\n[[inputs]]\nname = "N"\n[[outputs]]\nname = "loss"\n'
    )
    _fails(tmp_path / "sweep.csv", r"invalid card field 'colour'")


def test_alias_clashing_with_a_column(tmp_path):
    _fails(
        _write(tmp_path, GOOD),
        "alias 'D' of 'N' clashes with a column name",
        **SWEEP,
        aliases={"D": "N"},
    )


def test_alias_that_is_not_an_identifier(tmp_path):
    _fails(
        _write(tmp_path, GOOD),
        "alias '1N' of 'N' is not a valid identifier",
        **SWEEP,
        aliases={"1N": "N"},
    )


def test_alias_pointing_to_a_non_input(tmp_path):
    _fails(
        _write(tmp_path, GOOD),
        "aliases gives alias 'L' to 'loss', which is not an input",
        **SWEEP,
        aliases={"L": "loss"},
    )


def test_unknown_validation_scale(tmp_path):
    _fails(
        _write(tmp_path, GOOD),
        "validation.scale 'T': 'T' is not an input",
        **SWEEP,
        validation_scale="T",
    )


def test_validation_scale_with_all_rows_tied(tmp_path):
    text = "N,D,loss\n1,5,3\n2,5,2.5\n3,5,2.2\n4,5,2.0\n"
    _fails(
        _write(tmp_path, text),
        "every training row has the largest 'D'",
        inputs=["N", "D"],
        outputs=["loss"],
        test="N > 3",
        validation_scale="D",
    )


# ---- Parquet files and DataFrames: the same checks, rows named by position ----


def _same(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> bool:
    """Per-group arrays of two splits are equal, group by group."""
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _frame() -> pd.DataFrame:
    return pd.read_csv(io.StringIO(GOOD))


def test_parquet_missing_value_names_the_row(tmp_path):
    frame = _frame()
    frame.loc[2, "loss"] = np.nan
    frame.to_parquet(tmp_path / "sweep.parquet")
    task = load_task(tmp_path / "sweep.parquet", **SWEEP)
    (note,) = [n for n in task.notes if "left out" in n]
    assert "left out 1 row that holds no value (row 2: 'loss' is empty)" in note


def test_unreadable_parquet(tmp_path):
    (tmp_path / "sweep.parquet").write_bytes(b"not parquet at all")
    _fails(tmp_path / "sweep.parquet", "sweep.parquet: not a readable Parquet file", **SWEEP)


def test_card_beside_a_parquet_file(tmp_path):
    _frame().to_parquet(tmp_path / "sweep.parquet")
    (tmp_path / "sweep.toml").write_text(
        'group_column = "model"\n[[inputs]]\nname = "N"\n[[outputs]]\nname = "loss"\n'
        '[split]\ntest = "N >= 1e9"\n'
    )
    for path in (tmp_path / "sweep.parquet", tmp_path / "sweep.toml"):
        task = load_task(path)
        assert task.name == "sweep" and task.heldout().n_rows == 2


def test_dataframe_bad_cell_names_the_row(tmp_path):
    frame = _frame().astype({"D": object})
    frame.loc[3, "D"] = "lots"
    with pytest.raises(TaskError, match=r"DataFrame row 3, column 'D': 'lots' is not a number"):
        load_task(frame, **SWEEP)


def test_dataframe_duplicate_rows_name_positions():
    frame = pd.concat([_frame(), _frame().iloc[[1]]], ignore_index=True)
    (note,) = [n for n in load_task(frame, **SWEEP).notes if "repeat" in n]
    assert "(first: rows 1 and 7;" in note and "(rows 1 and 7) and so counts twice" in note


def test_a_curated_reader_refuses_repeated_inputs(tmp_path):
    text = GOOD.replace("a,2e8,1e9,3.0\n", "a,2e8,1e9,3.0\na,2e8,1e9,3.05\n")
    table = read_table(_write(tmp_path, text), numeric=["N", "D", "loss"], group_column="model")
    X = np.column_stack([table.values["N"], table.values["D"]])
    with pytest.raises(TaskError, match="lines 3 and 4: same group and inputs twice"):
        check_duplicates(table, X, "sweep.csv")


def test_dataframe_with_a_split_column_and_numeric_group_names():
    frame = _frame().assign(split=lambda f: np.where(f["N"] >= 1e9, "test", "train"))
    frame["model"] = frame["model"].map({"a": 1, "b": 2})
    task = load_task(frame, inputs=["N"], outputs=["loss"], group="model", name="mine")
    assert task.name == "mine" and task.groups == ("1", "2")
    assert task.heldout().rows_per_group == (1, 1)


# ---- monotone directions: card key and keyword, by name or alias ----


def test_monotone_keyword_takes_names_aliases_and_shorthands(tmp_path):
    task = load_task(
        _write(tmp_path, GOOD), **SWEEP, aliases={"P": "N"}, monotone={"P": "dec", "D": -1}
    )
    assert task.monotone == {"N": -1, "D": -1}
    assert task.card.monotone == {"P": "decreasing", "D": "decreasing"}


def test_monotone_card_key(tmp_path):
    _write(tmp_path, GOOD)
    (tmp_path / "sweep.toml").write_text(
        'group_column = "model"\n[[inputs]]\nname = "N"\nalias = "Np"\n[[outputs]]\nname = "loss"\n'
        '[split]\ntest = "Np >= 1e9"\n[monotone]\nNp = "increasing"\n'
    )
    assert load_task(tmp_path / "sweep.csv").monotone == {"N": 1}


def test_monotone_bad_direction_and_twice_named_input(tmp_path):
    path = _write(tmp_path, GOOD)
    _fails(path, "monotone for 'N': 'up' is not a direction", **SWEEP, monotone={"N": "up"})
    _fails(
        path,
        "monotone names input 'N' twice",
        **SWEEP,
        aliases={"P": "N"},
        monotone={"P": "dec", "N": "dec"},
    )


def test_guessed_validation_scale_is_noted_with_the_keyword(tmp_path):
    def guesses(task) -> list[str]:  # leave out the note on how many folds three sizes allow
        return [n for n in task.notes if "folds asked" not in n]

    task = load_task(_write(tmp_path, GOOD), **SWEEP)
    assert len(guesses(task)) == 1 and "'N' is a guess" in guesses(task)[0]
    assert "validation_scale=INPUT" in guesses(task)[0]
    assert guesses(load_task(_write(tmp_path, GOOD), **SWEEP, validation_scale="N")) == []


def test_the_guessed_validation_scale_is_the_input_the_test_rule_compares(tmp_path):
    """The held-out rows lie along the input the rule compares, so the folds cut along it,
    whatever the order of the inputs; a rule on several inputs leaves the first input."""
    n, d = (a.ravel() for a in np.meshgrid([1e8, 2e8, 4e8, 1e9, 2e9], [1e9, 2e9, 4e9, 8e9]))
    frame = pd.DataFrame({"model": "a", "N": n, "D": d, "loss": 2 + 60 / n**0.3 + 90 / d**0.3})
    path = tmp_path / "grid.csv"
    frame.to_csv(path, index=False)
    options = {**SWEEP, "inputs": ["D", "N"]}
    task = load_task(path, **options)
    assert task.validation_scale == "N"
    assert any("'N' is a guess (the one input the test rule compares)" in n for n in task.notes)
    both = load_task(path, **{**options, "test": "N >= 1e9 and D >= 8e9"})
    assert both.validation_scale == "D"
    assert any("'D' is a guess (the first input)" in n for n in both.notes)
    grouped = load_task(path, **{**options, "test": 'model == "a" and N > 5e8'})
    assert grouped.validation_scale == "N"


ODD_COLUMNS = """data mix,model size,train-tokens,val loss
web,1e8,1e9,3.1
web,2e8,1e9,3.0
web,4e8,1e9,2.9
web,1e9,1e9,2.8
code,1e8,2e9,3.2
code,2e8,2e9,3.1
code,4e8,2e9,3.0
code,1e9,2e9,2.9
"""


def test_columns_a_law_cannot_name_get_aliases_and_an_output_is_written_with_underscores(tmp_path):
    options = dict(inputs=["model size", "train-tokens"], group="data mix", test="x1 >= 1e9")
    spaced = load_task(str(_write(tmp_path, ODD_COLUMNS)), outputs=["val loss"], **options)
    assert spaced.outputs == ("val_loss",)
    path = _write(tmp_path, ODD_COLUMNS.replace("val loss", "val_loss"))
    task = load_task(str(path), outputs=["val_loss"], **options)
    assert task.aliases == {"x1": "model size", "x2": "train-tokens"}  # given for you
    # a rule names what it can write: the aliases, not the columns with a space or a dash
    _fails(
        path,
        r"valid names are: group, x1, x2$",
        outputs=["val_loss"],
        **options | {"test": "N > 1"},
    )
    named = load_task(
        str(path),
        outputs=["val_loss"],
        **{**options, "test": "N >= 1e9"},
        aliases={"N": "model size", "D": "train-tokens"},
    )
    report = score("E + A/N**a + B/D**b", named, split="test")
    assert report.ok and report.law == "val_loss = E + A/N**a + B/D**b"


def test_an_input_with_one_training_value_gets_a_note(tmp_path):
    text = "N,D,loss\n1e8,1e9,3.1\n2e8,1e9,3.0\n4e8,1e9,2.9\n8e8,1e9,2.85\n1e9,2e9,2.8\n"
    task = load_task(_write(tmp_path, text), inputs=["N", "D"], outputs=["loss"], test="N >= 1e9")
    (note,) = [n for n in task.notes if "one value" in n]
    assert note.startswith("'D' takes one value (1e+09) on every training row")
    assert "the test rows move it" in note and note.endswith("drop it from inputs")
    assert not [
        n for n in load_task(_write(tmp_path, GOOD, "g.csv"), **SWEEP).notes if "one value" in n
    ]


def test_a_group_with_more_training_rows_than_the_cap_is_thinned_along_the_scale(
    tmp_path, monkeypatch
):
    from sld.corpus import _rows

    rng = np.random.default_rng(0)
    n = np.round(10 ** rng.uniform(7, 10, 300))
    frame = pd.DataFrame({"N": n, "D": 20 * n, "loss": 2 + 400 / n**0.3})
    frame.to_csv(tmp_path / "big.csv", index=False)
    options = {"inputs": ["N", "D"], "outputs": ["loss"], "test": "N >= 3e9"}
    whole = load_task(tmp_path / "big.csv", **options)
    cap = 100
    monkeypatch.setattr(_rows, "MAX_TRAIN_ROWS", cap)
    thin = load_task(tmp_path / "big.csv", **options)
    assert whole.train().n_rows > cap and thin.train().n_rows == cap
    assert _same(thin.heldout().X, whole.heldout().X)  # every test row stays
    kept = np.sort(np.concatenate(thin.train().X)[:, 0])
    every = np.sort(np.concatenate(whole.train().X)[:, 0])
    assert kept[0] == every[0] and kept[-1] == every[-1]  # both ends of the scale stay
    assert set(kept) <= set(every)
    # evenly spaced in rank: each tenth of the scale keeps about a tenth of the rows
    deciles = np.searchsorted(kept, np.quantile(every, np.linspace(0, 1, 11)[1:-1]))
    assert np.all(np.abs(np.diff([0, *deciles, cap]) - cap / 10) <= 2)
    (note,) = [m for m in thin.notes if "laws are fitted on" in m]
    assert f"has {whole.train().n_rows} training rows; laws are fitted on {cap} of them" in note
    assert "evenly spaced along N" in note and "rows='step == 249000'" not in note
    assert not [m for m in whole.notes if "laws are fitted on" in m]


def test_a_missing_file_is_said_before_any_missing_option(tmp_path):
    _fails(tmp_path / "sweep.csv", r"sweep.csv: file not found; check the path")


def test_comment_lines_are_skipped_and_lines_keep_their_numbers(tmp_path):
    text = "# made by sweep.py\n" + GOOD.replace(
        "a,4e8,1e9,2.9\n", "# a,4e8 diverged\na,4e8,lots,2.9\n"
    )
    _fails(_write(tmp_path, text), r"line 6, column 'D': 'lots' is not a number", **SWEEP)
    plain = load_task(_write(tmp_path, GOOD, "plain.csv"), **SWEEP)
    task = load_task(_write(tmp_path, "# made by sweep.py\n" + GOOD, "commented.csv"), **SWEEP)
    assert _same(task.train().X, plain.train().X)
