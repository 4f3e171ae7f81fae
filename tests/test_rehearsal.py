"""A task's rehearsal: its validation slice held out as the test rows, the real test rows never read."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sld.cli import main
from sld.cli._args import build_parser
from sld.cli.bench import config_from
from sld.config import RunConfig, TaskSpec
from sld.corpus import list_tasks, load_task
from sld.corpus.task import REHEARSAL_SUFFIX, rehearsal
from sld.errors import TaskError


def _rows(split) -> np.ndarray:
    """Every row of a split, inputs then outputs, sorted, for set-like comparison."""
    rows = np.vstack([np.hstack([x, y]) for x, y in zip(split.X, split.y, strict=True)])
    return rows[np.lexsort(rows.T[::-1])]


@pytest.mark.parametrize("name", list_tasks())
def test_the_rehearsal_tests_on_the_validation_slice_and_searches_the_rows_below(name):
    task = load_task(name)
    staged = load_task(name, rehearse=True)
    assert staged.name == name + REHEARSAL_SUFFIX
    assert staged.groups == task.groups
    np.testing.assert_array_equal(_rows(staged.heldout()), _rows(task.validation()))
    np.testing.assert_array_equal(_rows(staged.train()), _rows(task.search_train()))
    # no fold of the rehearsal fits on or scores a row it holds out
    held = {tuple(r) for r in _rows(staged.heldout())}
    for fold in staged.folds():
        for split in (fold.fit, fold.score):
            assert not held & {tuple(r) for r in _rows(split)}
    assert any("rehearsal" in note for note in staged.notes)


def _sweep(path, *, test_shift: float = 0.0, drop_test: bool = False) -> str:
    """A Chinchilla-like sweep; the test rows (N >= 5e9) shifted by ``test_shift`` or dropped."""
    rng = np.random.default_rng(0)
    N = np.repeat(np.geomspace(1e7, 1e10, 8), 5)
    D = np.tile(np.geomspace(1e9, 1e11, 5), 8)
    loss = 1.7 + 400 / N**0.34 + 410 / D**0.28 + rng.normal(0, 0.003, len(N))
    frame = pd.DataFrame({"N": N, "D": D, "loss": loss})
    test = frame["N"] >= 5e9
    frame.loc[test, "loss"] += test_shift
    if drop_test:  # keep one test row so the file still has a test split
        frame = frame[~test | (frame.index == frame.index[test][0])]
    frame.to_csv(path, index=False)
    return str(path)


def test_the_rehearsal_is_the_same_whatever_the_test_rows_hold(tmp_path):
    options = dict(inputs=["N", "D"], outputs=["loss"], test="N >= 5e9", rehearse=True)
    base = load_task(_sweep(tmp_path / "a.csv"), **options)
    shifted = load_task(_sweep(tmp_path / "b.csv", test_shift=3.0), **options)
    fewer = load_task(_sweep(tmp_path / "c.csv", drop_test=True), **options)
    for other in (shifted, fewer):
        np.testing.assert_array_equal(_rows(other.train()), _rows(base.train()))
        np.testing.assert_array_equal(_rows(other.heldout()), _rows(base.heldout()))
        np.testing.assert_array_equal(_rows(other.validation()), _rows(base.validation()))
        assert other.monotone == base.monotone
        assert len(other.folds()) == len(base.folds())
        for a, b in zip(other.folds(), base.folds(), strict=True):
            np.testing.assert_array_equal(_rows(a.fit), _rows(b.fit))
            np.testing.assert_array_equal(_rows(a.score), _rows(b.score))
    assert (
        base.heldout().n_rows
        == load_task(str(tmp_path / "a.csv"), inputs=["N", "D"], outputs=["loss"], test="N >= 5e9")
        .validation()
        .n_rows
    )


def test_a_loaded_task_rehearses_as_its_load_would():
    staged = rehearsal(load_task("sft_scaling_law"))
    loaded = load_task("sft_scaling_law", rehearse=True)
    assert staged.name == loaded.name and staged.log_scale == loaded.log_scale
    for a, b in zip(staged.folds(), loaded.folds(), strict=True):
        np.testing.assert_array_equal(_rows(a.fit), _rows(b.fit))
        np.testing.assert_array_equal(_rows(a.score), _rows(b.score))
    np.testing.assert_array_equal(_rows(staged.heldout()), _rows(loaded.heldout()))


def test_a_rehearsal_with_nothing_left_below_the_slice_is_a_one_line_error(tmp_path):
    path = tmp_path / "two.csv"
    pd.DataFrame(
        {
            "N": [1e7, 1e7, 1e8, 1e8, 1e9, 1e9],
            "D": [1e9, 1e10] * 3,
            "loss": [3.0, 2.9, 2.8, 2.7, 2.6, 2.5],
        }
    ).to_csv(path, index=False)
    options = dict(inputs=["N", "D"], outputs=["loss"], test="N >= 1e9")
    load_task(str(path), **options)  # the task itself loads: it fits on N = 1e7
    with pytest.raises(TaskError) as caught:
        load_task(str(path), rehearse=True, **options)
    message = str(caught.value)
    assert "\n" not in message and "(rehearsal)" in message and "largest" in message


def test_the_cli_says_in_one_line_when_a_rehearsal_cannot_be_split(capsys, tmp_path):
    path = tmp_path / "two.csv"
    pd.DataFrame(
        {"N": [1e7, 1e8, 1e8, 1e9], "D": [1e9, 1e9, 1e10, 1e9], "loss": [3, 2.8, 2.7, 2.6]}
    ).to_csv(path, index=False)
    argv = ["discover", str(path), "--rehearse", "--inputs", "N,D", "--output", "loss"]
    argv += ["--test", "N >= 1e9", "--generations", "1", "--out", str(tmp_path / "runs")]
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "(rehearsal)" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_run_records_the_rehearsal_and_reloads_it():
    spec = TaskSpec(source="parallel_scaling_law", rehearse=True)
    config = RunConfig.model_validate(json.loads(RunConfig(task=spec).model_dump_json()))
    assert config.task.rehearse and config.task.options() == {}
    assert config.task.load().name == "parallel_scaling_law" + REHEARSAL_SUFFIX
    assert not RunConfig(task=TaskSpec(source="parallel_scaling_law")).task.rehearse


def test_the_rehearse_flag_reaches_every_task_of_a_bench(tmp_path):
    csv = _sweep(tmp_path / "sweep.csv")
    argv = ["bench", "parallel_scaling_law", csv, "--rehearse", "--inputs", "N,D"]
    argv += ["--output", "loss", "--test", "N >= 5e9"]
    config = config_from(build_parser().parse_args(argv))
    assert [t.rehearse for t in config.tasks] == [True, True]
    assert config.names == [f"parallel_scaling_law{REHEARSAL_SUFFIX}", f"sweep{REHEARSAL_SUFFIX}"]
    plain = config_from(build_parser().parse_args(["bench", "parallel_scaling_law"]))
    assert not plain.tasks[0].rehearse and plain.names == ["parallel_scaling_law"]


def test_discover_rehearses_a_curated_task_and_says_so(capsys, tmp_path):
    argv = ["discover", "parallel_scaling_law", "--rehearse", "--generations", "1"]
    argv += ["--islands", "1", "--per-island", "2", "--bootstrap", "0", "--out", str(tmp_path)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "rehearsal: the test rows are the 12 validation rows" in " ".join(captured.err.split())
    (run,) = tmp_path.iterdir()
    assert run.name.startswith("parallel_scaling_law" + REHEARSAL_SUFFIX)
    report = json.loads((run / "report.json").read_text())
    assert report["config"]["task"]["rehearse"] is True
    assert report["task"] == "parallel_scaling_law" + REHEARSAL_SUFFIX
    assert "A rehearsal: the test rows are the validation slice" in (run / "report.md").read_text()
