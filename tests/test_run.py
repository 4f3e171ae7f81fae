"""The run object: states, control from another thread, resume with budgets, one report written
once in strict JSON, and the same run driven from both front ends (CLI and TUI)."""

from __future__ import annotations

import asyncio
import json
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from waiting import HANG, pilot_wait_until, wait_until

from sld.cli import main
from sld.config import Budgets, RunConfig, TaskSpec
from sld.corpus import load_task
from sld.errors import StoreError
from sld.report import REPORT_JSON, REPORT_MD
from sld.run import RUN_STATES, Run, RunEvent, writable
from sld.run._run import PROTOCOL
from sld.scoring import selection_protocol
from sld.store import RunReader, RunStore
from sld.strict_json import dumps
from sld.tui.app import SldApp

TINY = dict(islands=2, proposals_per_island=2, restarts=4, final_restarts=4, bootstrap=0, seed=3)


def _config(**overrides) -> RunConfig:
    return RunConfig(
        task=TaskSpec(source="parallel_scaling_law"), **{"generations": 2, **TINY, **overrides}
    )


def _strict(path: Path) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{path.name} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def _sequence(run_dir: Path) -> list[tuple]:
    with RunReader.open(run_dir) as reader:
        fitted = {f.candidate.id: f for f in reader.fitted()}
        return [
            (
                c.seq,
                c.generation,
                c.island,
                c.text,
                c.status,
                c.key,
                round(fitted[c.id].r2, 9)
                if c.id in fitted and math.isfinite(fitted[c.id].r2)
                else None,
            )
            for c in reader.candidates()
        ]


def test_a_run_paused_before_its_search_fits_nothing_until_resumed_then_reports_once(tmp_path):
    events: list[RunEvent] = []
    run = Run.create(_config(), run_dir=tmp_path / "exact", listener=events.append)
    assert run.run_dir == tmp_path / "exact" and run.state == "idle"
    run.pause()
    assert run.state == "paused"
    searching = threading.Thread(target=run.search)
    searching.start()
    with RunReader.open(run.run_dir) as reader:
        wait_until(lambda: len(reader.candidates()) >= 2, what="the first proposals")
        assert reader.fitted() == [] and run.state == "paused"
        run.resume()
        searching.join(timeout=HANG)
        assert not searching.is_alive()
        assert run.state == "stopped" and "generation budget" in run.stopped_by
        report = run.finalize()
        assert run.state == "finished"
        assert [h.kind for h in reader.heldout()] == ["chosen", "human"]
    run.close()
    states = [e.state for e in events if e.kind == "state"]
    assert states == ["paused", "running", "stopped", "scoring", "finished"]
    assert set(states) <= set(RUN_STATES)
    progress = [e.progress.fitted for e in events if e.kind == "progress"]
    assert progress and progress == sorted(progress)
    steps = [e for e in events if e.kind == "step"]
    assert [e.message.split(":")[0] for e in steps[:2]] == ["final pick", "held-out scores"]
    assert steps[-1].message.startswith("writing the report") and len(steps) == 3
    assert {e.state for e in steps} == {"scoring"}
    written = _strict(run.run_dir / REPORT_JSON)
    assert written == json.loads(dumps(report))
    assert written["stopped_by"] == run.stopped_by and written["chosen"] is not None
    # where the time went after the search: recorded in the store, shown in both report files
    assert written["pick_seconds"] > 0 and written["heldout_seconds"] > 0
    head = (run.run_dir / REPORT_MD).read_text().splitlines()[2]
    assert (
        "s of search, " in head and "s of final pick, " in head and "s of held-out scores" in head
    )


def test_a_run_stopped_before_its_search_ends_at_once_and_resumes_with_a_larger_budget(tmp_path):
    run = Run.create(_config(generations=1), out=tmp_path)
    run.stop()
    assert run.state == "stopping"
    assert run.search().stopped_by == "stop requested" and run.state == "stopped"
    run.close()
    with pytest.raises(StoreError, match="already exists"):
        Run.create(_config(), run_dir=run.run_dir)

    resumed = Run.open(run.run_dir, budgets=Budgets(generations=2))
    assert resumed.config.generations == 2
    report = resumed.execute(report=False)
    assert resumed.state == "stopped" and "generation budget (2)" in report["stopped_by"]
    with RunStore.open(run.run_dir, readonly=True) as store:
        fitted = [f.candidate.id for f in store.fitted()]
        assert fitted and len(fitted) == len(set(fitted))
        assert [e.kind for e in store.events(kind="resumed")] == ["resumed"]
    assert not (run.run_dir / REPORT_JSON).exists()  # report=False writes no files


def test_cli_discover_and_the_tui_drive_the_same_run(tmp_path, capsys):
    flags = ["--generations", "2", "--islands", "2", "--per-island", "2", "--restarts", "4"]
    flags += ["--bootstrap", "0", "--seed", "3", "--quiet", "--json"]
    assert main(["discover", "parallel_scaling_law", *flags, "--out", str(tmp_path / "cli")]) == 0
    cli_report = json.loads(capsys.readouterr().out)
    cli_dir = Path(cli_report["run_dir"])

    settings = dict(time="", generations=2, islands=2, per_island=2, restarts=4, bootstrap=0)
    app = SldApp("parallel_scaling_law", out=tmp_path / "tui", seed=3, settings=settings)

    async def drive() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await pilot_wait_until(
                pilot, lambda: app.state in ("finished", "failed"), what="the TUI run's end"
            )
            assert app.state == "finished"

    asyncio.run(drive())
    tui_dir = app.run_dir
    assert tui_dir is not None and tui_dir.parent == tmp_path / "tui"
    with RunReader.open(cli_dir) as a, RunReader.open(tui_dir) as b:
        assert RunConfig.model_validate(a.config()) == RunConfig.model_validate(b.config())
    assert _sequence(cli_dir) == _sequence(tui_dir) and _sequence(cli_dir)
    cli_json, tui_json = _strict(cli_dir / REPORT_JSON), _strict(tui_dir / REPORT_JSON)
    for key in ("chosen", "pareto_front", "heldout", "stopped_by", "by_status"):
        assert cli_json[key] == tui_json[key], key
    assert cli_json["chosen"] == cli_report["chosen"]


def test_many_processes_may_check_one_output_directory_at_once(tmp_path):
    """Bench workers share ``runs/``: one's write check never removes another's probe."""
    shared = tmp_path / "runs"
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: writable(shared), range(400)))
    assert results == [None] * 400
    assert list(shared.iterdir()) == []


def test_a_run_on_a_relative_data_path_resumes_from_another_folder(tmp_path, monkeypatch):
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    data.mkdir()
    elsewhere.mkdir()
    frame = load_task("parallel_scaling_law").frame()
    frame.to_csv(data / "sweep.csv", index=False)
    spec = TaskSpec(
        source="sweep.csv",
        inputs=["num_params", "parallel_size"],
        outputs=["loss"],
        group="group",
        test="num_params >= 1.5e9",
    )
    monkeypatch.chdir(data)
    run = Run.create(RunConfig(task=spec, generations=1, **TINY), out=tmp_path / "runs")
    run.close()
    assert run.config.task.source == str(data / "sweep.csv")
    monkeypatch.chdir(elsewhere)
    resumed = Run.open(run.run_dir)
    assert resumed.task.name == "sweep"
    assert resumed.config.task.source == str(data / "sweep.csv")
    resumed.close()
    assert TaskSpec(source="parallel_scaling_law").anchored().source == "parallel_scaling_law"


def test_a_run_takes_a_path_object_and_refuses_a_dataframe_with_the_fix():
    assert TaskSpec(source=Path("sweep.csv")).source == "sweep.csv"
    frame = load_task("parallel_scaling_law").frame()
    with pytest.raises(ValueError, match=r"not a DataFrame; save it first \(frame.to_csv"):
        RunConfig(task={"source": frame}, generations=1)


def _sweep_run(tmp_path: Path) -> tuple[Path, Path]:
    """A created (unsearched) run on a bring-your-own copy of parallel's rows, and its CSV."""
    csv = tmp_path / "sweep.csv"
    load_task("parallel_scaling_law").frame().to_csv(csv, index=False)
    spec = TaskSpec(
        source=str(csv),
        inputs=["num_params", "parallel_size"],
        outputs=["loss"],
        group="group",
        test="num_params >= 1.5e9",
    )
    run = Run.create(RunConfig(task=spec, generations=1, **TINY), out=tmp_path / "runs")
    run.close()
    return run.run_dir, csv


def _edit(csv: Path, *, test_rows: bool) -> None:
    frame = pd.read_csv(csv)
    rows = frame["num_params"] >= 1.5e9
    frame.loc[rows if test_rows else ~rows, "loss"] *= 1.01
    frame.to_csv(csv, index=False)


def test_a_run_whose_training_rows_changed_is_not_resumed_and_says_why(tmp_path, capsys):
    run_dir, csv = _sweep_run(tmp_path)
    with RunReader.open(run_dir) as reader:
        stored = reader.get_state(PROTOCOL)
    with Run.open(run_dir) as run:  # recorded at creation, as JSON
        assert stored == json.loads(json.dumps(selection_protocol(run.task)))
    _edit(csv, test_rows=False)
    with pytest.raises(StoreError, match=r"cannot resume .*the fold rows changed"):
        Run.open(run_dir)
    assert main(["discover", "--resume", str(run_dir), "--quiet"]) != 0
    err = capsys.readouterr().err.strip()
    assert "the fold rows changed" in err and "--out" in err and len(err.splitlines()) == 1
    with RunReader.open(run_dir) as reader:  # nothing was lost: the store still reads
        assert reader.get_state(PROTOCOL) == stored


def test_changed_test_labels_do_not_block_a_resume(tmp_path):
    """The protocol reads training rows only (fold fits and bands), never the held-out ones."""
    run_dir, csv = _sweep_run(tmp_path)
    _edit(csv, test_rows=True)
    resumed = Run.open(run_dir)
    resumed.close()


def test_a_store_recorded_before_the_protocol_resumes_unchecked(tmp_path):
    run_dir, csv = _sweep_run(tmp_path)
    with RunStore.open(run_dir) as store:
        with store.transaction():
            store._conn.execute("DELETE FROM state WHERE key = ?", (PROTOCOL,))
    _edit(csv, test_rows=False)
    Run.open(run_dir).close()
