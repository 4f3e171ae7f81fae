"""sld bench: the table from fixed stores, its outputs, the directory's config, resume after a
kill (checked against the stores), a worker that dies (by a signal: resumed once), and bad input.

Real benches here are tiny (two generations of six proposals): what they check is where
each run ends up and what its store holds, compared with an uninterrupted bench of the same
flags, never how long anything took.
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import signal
import sys
from pathlib import Path

import pytest
from bench_stores import (
    FixedRun,
    claim_tiny,
    event_kinds,
    fit_counts,
    kill_after_fits_in_child,
    tiny_bench,
    trace,
    write_fixed_bench,
)

from sld.bench import (
    BENCH_JSON,
    CONFIG_FILE,
    JobEnded,
    JobNotice,
    JobProgress,
    JobStarted,
    LocalExecutor,
    bench_config,
    jobs,
    read_bench,
    run_stage,
    write_outputs,
)
from sld.bench._output import CLIP, plot_bench
from sld.bench._plan import claim
from sld.cli import main
from sld.errors import ConfigError

PARALLEL = "parallel_scaling_law"
SFT = "sft_scaling_law"
LAW_P1 = "loss = E + A/num_params**a"
LAW_P2 = "loss = E + A/(num_params**a*parallel_size**b)"
LAW_S = "sft_loss = E + A/sft_data_size**a"


@pytest.fixture(scope="module")
def fixed_bench(tmp_path_factory) -> Path:
    """Two tasks × 3 seeds: every parallel run finished (one far below the clip); of the SFT
    runs one finished, one was killed mid-search and one never started."""
    root = tmp_path_factory.mktemp("bench") / "fixed"
    write_fixed_bench(
        root,
        {
            (PARALLEL, 0): FixedRun(((LAW_P1, 0.99),), test_r2=0.95, human_r2=0.9999),
            (PARALLEL, 1): FixedRun(
                ((LAW_P2, 0.999), (LAW_P1, 0.99)), test_r2=0.90, human_r2=0.9999
            ),
            (PARALLEL, 2): FixedRun(((LAW_P1, 0.98),), test_r2=-5.0, human_r2=0.9999),
            (SFT, 0): FixedRun(((LAW_S, 0.97),), test_r2=0.8, human_r2=0.99),
            (SFT, 1): FixedRun(((LAW_S, 0.96),), state="unfinished", elapsed=12.0),
        },
        seeds=3,
    )
    return root


# -- the table ------------------------------------------------------------------------------------


def test_table_reads_each_run_from_its_store(fixed_bench):
    table = read_bench(fixed_bench)
    runs = {(r.task, r.seed): r for r in table.runs}
    assert [r.state for r in table.runs] == ["finished"] * 4 + ["unfinished", "pending"]
    assert runs[(PARALLEL, 1)].chosen_law == LAW_P2  # the chosen law: the population's best
    assert runs[(PARALLEL, 1)].fitted == 2 and runs[(PARALLEL, 1)].validation_r2 == 0.999
    assert runs[(PARALLEL, 2)].test_r2 == -5.0 and runs[(PARALLEL, 2)].human_test_r2 == 0.9999
    assert runs[(SFT, 1)].chosen_law == LAW_S and math.isnan(runs[(SFT, 1)].test_r2)
    assert runs[(SFT, 1)].wall_seconds == 12.0
    assert runs[(SFT, 1)].scoring_seconds is None  # stores that never ran a final pick
    assert runs[(SFT, 2)].run_dir == f"runs/{SFT}-s2" and runs[(SFT, 2)].fitted == 0
    assert table.counts() == {"pending": 1, "unfinished": 1, "finished": 4}
    assert not table.complete


def test_median_seed_is_the_lower_middle_run_and_its_law_is_shown(fixed_bench):
    parallel, sft = read_bench(fixed_bench).tasks
    # test R² by seed: 0.95, 0.90, -5.0 -> sorted -5.0 (s2), 0.90 (s1), 0.95 (s0)
    assert parallel.median_seed == 1 and parallel.test_r2_median == 0.90
    assert parallel.chosen_law == LAW_P2
    assert (parallel.test_r2_min, parallel.test_r2_max) == (-5.0, 0.95)
    assert parallel.human_test_r2 == 0.9999 and parallel.finished == 3
    assert parallel.fitted == 4 and parallel.wall_seconds == 90.0
    # only one SFT run finished: it is the median, min and max
    assert (sft.finished, sft.seeds, sft.median_seed) == (1, 3, 0)
    assert sft.test_r2_median == sft.test_r2_min == sft.test_r2_max == 0.8
    assert sft.human_test_r2 == 0.99


def test_unscored_run_ranks_lowest(tmp_path):
    root = tmp_path / "b"
    write_fixed_bench(
        root,
        {
            (PARALLEL, 0): FixedRun(((LAW_P1, 0.99),), test_r2=math.nan),
            (PARALLEL, 1): FixedRun(((LAW_P2, 0.99),), test_r2=0.5),
        },
        seeds=2,
    )
    (task,) = read_bench(root).tasks
    assert task.median_seed == 0 and math.isnan(task.test_r2_median)  # lower of two: the NaN
    assert task.test_r2_min == task.test_r2_max == 0.5


def test_outputs_hold_the_table(fixed_bench, tmp_path):
    table = read_bench(fixed_bench)
    paths = write_outputs(table, tmp_path)
    data = json.loads(
        Path(paths["json"]).read_text(), parse_constant=lambda c: pytest.fail(f"non-strict {c}")
    )
    assert data["counts"] == {"pending": 1, "unfinished": 1, "finished": 4}
    assert [t["median_seed"] for t in data["tasks"]] == [1, 0]
    assert data["runs"][4]["test_r2"] is None and "runs.4.test_r2" in data["non_finite"]
    markdown = Path(paths["markdown"]).read_text()
    assert (
        f"| {PARALLEL} | 0.9999 | 0.9000 [-5.0000, 0.9500] | `{LAW_P2}` (seed 1) | 4 | 1m 30s |"
        in (markdown)
    )
    assert f"| {SFT} | 0.9900 | 0.8000 (1/3 seeds) | `{LAW_S}` (seed 0) |" in markdown
    assert f"| {SFT} | 2 | pending | — |" in markdown and f"`runs/{SFT}-s2`" in markdown
    assert Path(paths["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_marks_values_below_the_clip(fixed_bench, tmp_path):
    clipped = plot_bench(read_bench(fixed_bench), tmp_path / "b.png")
    assert clipped == [(PARALLEL, 2, -5.0)]
    assert CLIP > -5.0


# -- the bench directory --------------------------------------------------------------------------


def test_directory_refuses_a_bench_with_other_settings(tmp_path):
    config, _ = bench_config([{"source": PARALLEL}], seeds=2, run={"generations": 2})
    claim(tmp_path, config)
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["seeds"] == 2
    claim(tmp_path, config)  # the same bench again: fine
    for other, named in (
        (bench_config([{"source": PARALLEL}], seeds=3, run={"generations": 2})[0], "--seeds 2"),
        (bench_config([{"source": PARALLEL}], seeds=2, run={"generations": 3})[0], "--generations"),
        (bench_config([{"source": SFT}], seeds=2, run={"generations": 2})[0], "tasks"),
        (
            bench_config(
                [{"source": PARALLEL}], seeds=2, run={"generations": 2, "screen_width": 2}
            )[0],
            r"--screen-width unset \(the default\) there, 2 here",
        ),
    ):
        with pytest.raises(ConfigError, match=named):
            claim(tmp_path, other)


def test_jobs_have_stable_run_directories():
    config, _ = bench_config([{"source": PARALLEL}, {"source": SFT}], seeds=2, run={})
    assert [j.run_dir for j in jobs(config)] == [
        f"runs/{PARALLEL}-s0",
        f"runs/{PARALLEL}-s1",
        f"runs/{SFT}-s0",
        f"runs/{SFT}-s1",
    ]
    assert [j.config["seed"] for j in jobs(config)] == [0, 1, 0, 1]


# -- real tiny benches: resume and a dying worker -------------------------------------------------


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted tiny bench: what every interrupted one must end up as."""
    out = tmp_path_factory.mktemp("bench") / "reference"
    assert tiny_bench(out) == 0
    return out


@pytest.mark.slow
def test_killed_run_resumes_and_ends_as_the_uninterrupted_bench(reference, tmp_path, capsys):
    out = tmp_path / "killed"
    claim_tiny(out)
    key = f"{PARALLEL}-s0"
    assert kill_after_fits_in_child(out, key, 3) == -9  # SIGKILL right after its 3rd fit
    run_dir = out / "runs" / key
    assert run_stage(run_dir) == "resume"
    before = trace(run_dir)
    assert sum(status == "fitted" for _, _, status in before) >= 3
    capsys.readouterr()
    assert tiny_bench(out, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["complete"] and data["errors"] == {}
    assert all(r["scoring_seconds"] > 0 for r in data["runs"])  # each run's pick, timed
    for seed in (0, 1):
        name = f"{PARALLEL}-s{seed}"
        assert trace(out / "runs" / name) == trace(reference / "runs" / name)
        counts = fit_counts(out / "runs" / name)
        assert counts and set(counts.values()) == {1}  # no candidate fitted twice
        assert counts.keys() == fit_counts(reference / "runs" / name).keys()  # none lost
    after = trace(run_dir)
    assert [c[:2] for c in before] == [c[:2] for c in after[: len(before)]]
    assert "resumed" in event_kinds(run_dir)  # seed 0 was continued, not started again
    reference_runs = json.loads((reference / BENCH_JSON).read_text())["runs"]
    assert [r["chosen_law"] for r in data["runs"]] == [r["chosen_law"] for r in reference_runs]
    assert [r["test_r2"] for r in data["runs"]] == [r["test_r2"] for r in reference_runs]
    # once more: nothing left to run, nothing fitted again
    assert tiny_bench(out) == 0
    assert fit_counts(run_dir) == fit_counts(out / "runs" / key)
    assert event_kinds(run_dir).count("resumed") == 1


@pytest.mark.slow
def test_a_dying_worker_fails_only_its_job(tmp_path):
    tiny = {"generations": 1, "islands": 2, "proposals_per_island": 3, "restarts": 4}
    config, _ = bench_config([{"source": PARALLEL}], seeds=2, run={**tiny, "bootstrap": 0})
    first, second = jobs(config)
    # a config no RunConfig accepts makes the worker raise outside any run: the process dies
    broken = dataclasses.replace(first, config={**first.config, "no_such_setting": 1})
    messages = list(LocalExecutor(1).run([broken, second], tmp_path))
    ended = {m.key: m for m in messages if isinstance(m, JobEnded)}
    assert not ended[broken.key].ok
    assert ended[broken.key].error.startswith("worker process died (exit code 1)")
    assert ended[second.key].ok  # the next job ran on a fresh worker
    assert run_stage(tmp_path / second.run_dir) == "done"
    assert run_stage(tmp_path / broken.run_dir) == "new"


def _kill_the_worker_at_its_first_fits(job, root: Path, *, deaths: int) -> list:
    """Run ``job`` on one local worker, SIGKILLing the worker that runs it as soon as it
    reports a fit, ``deaths`` times; every message the executor gave."""
    messages, killed, armed = [], 0, False
    for message in LocalExecutor(1).run([job], root):
        messages.append(message)
        armed = armed or isinstance(message, JobStarted)
        if armed and killed < deaths and isinstance(message, JobProgress) and message.fitted:
            [worker] = [
                p for p in multiprocessing.active_children() if p.name == "sld-bench-worker"
            ]
            os.kill(worker.pid, signal.SIGKILL)
            worker.join()
            killed, armed = killed + 1, False
    assert killed == deaths
    return messages


@pytest.mark.slow
def test_a_worker_killed_by_a_signal_is_resumed_once(tmp_path):
    slow = {
        "generations": 4,
        "islands": 2,
        "proposals_per_island": 6,
        "restarts": 4,
        "bootstrap": 0,
    }
    config, _ = bench_config([{"source": PARALLEL}], seeds=1, run=slow)
    [job] = jobs(config)
    # once: the job is tried again on a fresh worker, which resumes its store
    messages = _kill_the_worker_at_its_first_fits(job, tmp_path / "once", deaths=1)
    [ended] = [m for m in messages if isinstance(m, JobEnded)]
    assert ended.ok
    [notice] = [m for m in messages if isinstance(m, JobNotice) and "fresh worker" in m.message]
    assert notice.message.startswith("worker process died (signal 9)")
    assert [m.stage for m in messages if isinstance(m, JobStarted)] == ["new", "resume"]
    assert run_stage(tmp_path / "once" / job.run_dir) == "done"
    assert "resumed" in event_kinds(tmp_path / "once" / job.run_dir)
    assert set(fit_counts(tmp_path / "once" / job.run_dir).values()) == {1}  # none fitted twice
    # twice: the second death is the job's failure, and its store is kept for the next bench
    messages = _kill_the_worker_at_its_first_fits(job, tmp_path / "twice", deaths=2)
    [ended] = [m for m in messages if isinstance(m, JobEnded)]
    assert not ended.ok and ended.error == "worker process died (signal 9)"
    assert run_stage(tmp_path / "twice" / job.run_dir) == "resume"


# -- bad input ------------------------------------------------------------------------------------


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    # a good file's load notes may come first (a small sweep's two-row band); one error line
    lines = [line for line in captured.err.strip().splitlines() if not line.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


def test_bad_input_is_one_line(tmp_path, capsys, monkeypatch):
    rows = "N,loss\n" + "".join(f"{n},{1 + 1 / n}\n" for n in range(1, 13))
    good = tmp_path / "good.csv"
    good.write_text(rows)
    data = ["--inputs", "N", "--output", "loss", "--test", "N >= 10", "--validation-scale", "N"]
    bad = tmp_path / "bad.csv"
    bad.write_text("just one column\n1\n")
    out = str(tmp_path / "out")
    assert "nope_task" in _one_line_error(capsys, ["bench", PARALLEL, "nope_task", "--out", out])
    line = _one_line_error(capsys, ["bench", str(good), str(bad), *data, "--out", out])
    assert str(bad) in line and str(good) not in line
    assert "--jobs" in _one_line_error(capsys, ["bench", PARALLEL, "--jobs", "0"])
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert "--out" in _one_line_error(capsys, ["bench", PARALLEL, "--out", str(blocker / "x")])
    assert "curated" in _one_line_error(capsys, ["bench", PARALLEL, "--inputs", "N", "--out", out])
    twin = tmp_path / "twin"
    twin.mkdir()
    (twin / "good.csv").write_text(rows)
    twins = ["bench", str(good), str(twin / "good.csv"), *data, "--out", out]
    assert "both named" in _one_line_error(capsys, twins)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert "pip install" in _one_line_error(capsys, ["bench", PARALLEL, "--ray", "--out", out])
    assert not (tmp_path / "out").exists()  # nothing was written for any of them


def test_a_busy_bench_directory_is_refused(tmp_path, capsys):
    from sld.bench._driver import bench_lock

    config, _ = bench_config([{"source": PARALLEL}], seeds=1, run={"generations": 1})
    claim(tmp_path, config)
    with bench_lock(tmp_path):
        line = _one_line_error(
            capsys,
            ["bench", PARALLEL, "--seeds", "1", "--generations", "1", "--out", str(tmp_path)],
        )
    assert "another sld bench" in line
