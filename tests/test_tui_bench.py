"""The TUI on a bench directory: the per-task table, the runs, attaching to one, and snapshots.

The bench is written through the store API (tests/bench_stores.py): fixed numbers, no
clock in anything drawn. Pilot tests wait on conditions, never for a fixed time.
Regenerate the snapshots with ``pytest tests/test_tui_bench.py --snapshot-update``.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from bench_stores import FixedRun, write_fixed_bench
from textual.widgets import DataTable
from waiting import pilot_wait_until

from sld.cli import main
from sld.tui.app import SldApp, run_app
from sld.tui.bench import BenchScreen

PARALLEL = "parallel_scaling_law"
SFT = "sft_scaling_law"
LAW_P1 = "loss = E + A/num_params**a"
LAW_P2 = "loss = E + A/(num_params**a*parallel_size**b)"
LAW_S = "sft_loss = E + A/sft_data_size**a"


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory) -> Path:
    """Two tasks × 2 seeds: three runs finished (one below the clip), one never started."""
    root = tmp_path_factory.mktemp("tui-bench") / "bench"
    write_fixed_bench(
        root,
        {
            (PARALLEL, 0): FixedRun(((LAW_P1, 0.99),), test_r2=0.95, human_r2=0.9999),
            (PARALLEL, 1): FixedRun(
                ((LAW_P2, 0.999), (LAW_P1, 0.99)), test_r2=0.9991, human_r2=0.9999
            ),
            (SFT, 0): FixedRun(((LAW_S, 0.97),), test_r2=-3.5, human_r2=0.99, elapsed=75.0),
        },
        seeds=2,
    )
    return root


def _bench_screen(app: SldApp) -> BenchScreen | None:
    screen = app.screen
    return screen if isinstance(screen, BenchScreen) else None


async def _table_loaded(pilot) -> None:
    await pilot_wait_until(
        pilot,
        lambda: (s := _bench_screen(pilot.app)) is not None and s.table is not None,
        what="the bench table",
    )
    await pilot.pause()


def test_bench_screen_shows_tasks_and_runs_and_attaches_to_one(bench_dir):
    async def drive() -> None:
        app = SldApp(bench=bench_dir, poll_seconds=0.2)
        async with app.run_test(size=(160, 48)) as pilot:
            await _table_loaded(pilot)
            screen = _bench_screen(app)
            assert screen is not None
            tasks = screen.query_one("#bench-tasks", DataTable)
            assert tasks.row_count == 2
            assert [str(c) for c in tasks.get_row(PARALLEL)] == [
                PARALLEL,
                "2/2",
                "0.9999",
                "0.9500 [0.9500, 0.9991]",
                LAW_P1,
                "3",
            ]
            runs = screen.query_one("#bench-runs", DataTable)
            assert runs.row_count == 4
            assert [str(c) for c in runs.get_row(f"runs/{SFT}-s1")][:3] == [SFT, "1", "pending"]
            assert app.check_action("start", ()) is False  # read-only: nothing to start here
            # a run that never started cannot be attached to
            await pilot.press("down", "down", "down")
            assert runs.cursor_row == 3
            await pilot.press("a")
            await pilot.pause()
            assert _bench_screen(app) is not None
            # the second run: enter attaches to it in the read-only view
            await pilot.press("up", "up")
            assert runs.cursor_row == 1
            await pilot.press("enter")
            await pilot_wait_until(
                pilot,
                lambda: (
                    app.view is not None and app.run_dir == bench_dir / "runs" / f"{PARALLEL}-s1"
                ),
                what="the attached run's view",
            )
            assert _bench_screen(app) is None
            assert {r.text for r in app.view.rows} == {LAW_P1, LAW_P2}
            assert app.view.chosen_id is not None and app.view.finished
            assert app.state == "finished"
            # b brings the bench back; another run replaces the one watched
            await pilot.press("b")
            await _table_loaded(pilot)
            runs = _bench_screen(app).query_one("#bench-runs", DataTable)
            await pilot.press(*["up"] * runs.cursor_row, "enter")
            await pilot_wait_until(
                pilot,
                lambda: (
                    app.run_dir == bench_dir / "runs" / f"{PARALLEL}-s0"
                    and app.view is not None
                    and {r.text for r in app.view.rows} == {LAW_P1}
                ),
                what="the first run's view",
            )

    asyncio.run(drive())


def test_attach_to_a_bench_directory_opens_its_table(bench_dir, tmp_path, capsys):
    async def drive() -> None:
        app = SldApp(bench=bench_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await _table_loaded(pilot)
            table = _bench_screen(app).table
            assert table is not None and table.counts()["finished"] == 3
            sft = table.tasks[1]
            assert sft.test_r2_median == -3.5 and math.isfinite(sft.human_test_r2)
            await pilot.press("escape")  # back to the (empty) watch view
            await pilot.pause()
            assert _bench_screen(app) is None

    asyncio.run(drive())
    assert main(["tui", "--bench", str(tmp_path)]) == 2
    assert "no bench in" in capsys.readouterr().err
    assert main(["tui", PARALLEL, "--attach", str(bench_dir)]) == 2
    assert "bench directory alone" in capsys.readouterr().err
    with pytest.raises(Exception, match="no bench in"):
        run_app(bench=tmp_path)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_bench_screen_snapshot(snap_compare, bench_dir, size):
    assert snap_compare(SldApp(bench=bench_dir), terminal_size=size, run_before=_table_loaded)
