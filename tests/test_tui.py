"""The TUI driven by a pilot: a live offline run, attaching to a headless run, and every key.

Live tests never sleep for a fixed time and hope: they wait for a condition on
the app (rows in the table, a state, a screen) with a generous deadline, so a
slow machine makes them slower, not red.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from test_tui_snapshots import demo_run, write_demo_run  # noqa: F401  (fixture)
from textual.widgets import Checkbox, DataTable, Input, RichLog, Static, TabbedContent
from waiting import HANG, pilot_wait_until, wait_until

from sld.cli import main
from sld.config import RunConfig, TaskSpec
from sld.corpus import load_task
from sld.errors import SldError, StoreError
from sld.evolve.engine import Engine
from sld.evolve.offline import OfflineProposer
from sld.scoring import PickEntry, PickReport, parse_for_task
from sld.store import RunReader, RunStore
from sld.tui.app import APP_STATES, AppState, SldApp, run_app
from sld.tui.extrapolation import law_picture, panel_series, panels
from sld.tui.messages import RunOpened
from sld.tui.plot import Y_MARGIN, Series, scatter
from sld.tui.screens import HelpScreen, LawDetailScreen, _selection_notes
from sld.tui.setup import SetupPane
from sld.tui.view import LawRow, ViewPoller, filter_rows, sort_rows
from sld.tui.widgets import ExtrapolationPlot

TINY_SETTINGS = dict(
    time="", generations=2, islands=2, per_island=2, restarts=4, bootstrap=0, seed=3
)
# every state the app can legally be in once a run was resumed (typed: a typo fails the check)
AFTER_RESUME: tuple[AppState, ...] = ("running", "stopping", "stopped", "scoring", "finished")
TINY_OVERRIDES = {"final_restarts": 4}
if "fit_chunk" in RunConfig.model_fields:  # one law per fit call, so pausing lands between fits
    TINY_OVERRIDES["fit_chunk"] = 1


def _fitted(app: SldApp) -> int:
    view = app.view
    return 0 if view is None else sum(r.status == "fitted" for r in view.rows)


def _sequence(store: RunStore) -> list[tuple]:
    """What the engine did, in order: the thing the TUI must never change."""
    fitted = {f.candidate.id: f for f in store.fitted()}
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
        for c in store.candidates()
    ]


# -- a live run inside the app ----------------------------------------------------------------


def test_live_offline_run_pause_resume_detail_and_heldout_leave_the_search_unchanged(tmp_path):
    app = SldApp(
        "parallel_scaling_law",
        out=tmp_path / "tui",
        settings=TINY_SETTINGS,
        config_overrides=TINY_OVERRIDES,
        poll_seconds=0.2,
    )

    assert set(AFTER_RESUME) <= set(APP_STATES)

    async def drive() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            # start and pause in one go (keys could reach the app after the first fit began):
            # proposals get written, but nothing is fitted until we resume
            app.action_start()
            app.action_toggle_pause()
            assert app.state == "paused"
            await pilot_wait_until(
                pilot,
                lambda: app.view is not None and len(app.view.rows) >= 2,
                what="the first generation's proposals",
            )
            # the run paused before its search began, so the engine holds every fit until
            # resumed: check the run's state and the store itself, not a wait for a non-event
            assert app._run is not None and app._run.state == "paused"
            with RunReader.open(app.run_dir) as reader:
                assert reader.fitted() == [], "fitting went on while paused"
            assert _fitted(app) == 0, "fitting went on while paused"
            assert app.query_one("#table", DataTable).row_count >= 2

            await pilot.press("p")
            # a tiny run with a warm compile cache may already be done when we look: every
            # state after a resume is legal here, never 'paused' again (issue 17's race)
            assert app.state in AFTER_RESUME
            assert app._run is None or app._run.state in AFTER_RESUME  # None once it has ended
            await pilot_wait_until(pilot, lambda: _fitted(app) >= 1, what="a fitted law")
            app.selected_id = next(r.id for r in app.view.rows if r.status == "fitted")
            # ask for a held-out score while the search runs: it must not change the search
            await pilot.press("h")
            await pilot_wait_until(
                pilot, lambda: app.state in ("finished", "failed"), what="run end and report"
            )
            assert app.state == "finished"  # a failed run ends the wait at once, not at HANG
            await pilot_wait_until(
                pilot, lambda: not app._heldout_pending, what="the held-out score"
            )
            await pilot_wait_until(
                pilot,
                lambda: app.view is not None and any(h.kind == "chosen" for h in app.view.heldout),
                what="the reporting path's held-out rows",
            )
            view = app.view
            chosen = view.row(view.chosen_id)
            assert chosen is not None and math.isfinite(chosen.heldout_r2)

            app.selected_id = view.chosen_id
            await pilot.press("d")
            await pilot_wait_until(
                pilot, lambda: isinstance(app.screen, LawDetailScreen), what="detail"
            )
            detail = app.screen.detail
            assert detail.row.id == view.chosen_id
            assert detail.heldout is not None and detail.search_parameters
            await pilot.press("escape")
            assert not isinstance(app.screen, LawDetailScreen)

            await pilot.press("e")
            await pilot.pause()
            for name in ("best_law.tex", "best_law.py", "best_law.json"):
                assert (app.run_dir / name).is_file()

    asyncio.run(drive())
    run_dir = app.run_dir
    with RunStore.open(run_dir, readonly=True) as store:
        with_tui = _sequence(store)
        config = RunConfig.model_validate(store.config())
    assert with_tui and any(row[4] == "fitted" for row in with_tui)

    headless = RunStore.create(
        tmp_path / "headless", task="parallel_scaling_law", seed=config.seed,
        config=config.model_dump(mode="json"), versions={},
    )  # fmt: skip
    task = load_task("parallel_scaling_law")
    engine = Engine(task=task, config=config, store=headless, proposer=OfflineProposer())
    asyncio.run(engine.run())
    assert _sequence(headless) == with_tui
    headless.close()


# -- attaching to a run written by another process ------------------------------------------


def _readable_store(out: Path, writer: subprocess.Popen) -> Path | None:
    """The run directory under ``out`` once its store opens (None before); fails if ``writer`` died."""
    assert writer.poll() in (None, 0), writer.stderr.read().decode()
    for path in out.glob("*/run.sqlite"):
        try:
            RunReader.open(path.parent).close()
        except StoreError:
            return None  # created, not yet committed
        return path.parent
    return None


def test_attach_watches_a_headless_run_written_by_another_process(tmp_path):
    out = tmp_path / "runs"
    writer = subprocess.Popen(
        [sys.executable, "-m", "sld.cli", "discover", "parallel_scaling_law",
         "--generations", "3", "--islands", "2", "--per-island", "2", "--restarts", "4",
         "--bootstrap", "0", "--quiet", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        # attach once the store can be read: its file exists a moment before its tables commit
        wait_until(lambda: _readable_store(out, writer) is not None, what="the headless store")
        run_dir = _readable_store(out, writer)
        app = SldApp(attach=run_dir, poll_seconds=0.2)

        async def watch() -> None:
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot_wait_until(pilot, lambda: _fitted(app) >= 1, what="rows")
                assert app.state in ("watching", "finished")
                assert app.query_one("#table", DataTable).row_count >= 1
                await pilot_wait_until(
                    pilot,
                    lambda: app.state == "finished" or writer.poll() not in (None, 0),
                    what="end",
                )
                assert writer.poll() in (None, 0), writer.stderr.read().decode()
                # the writer's finalize lands after 'stopped': held-out rows show up when it does
                await pilot_wait_until(
                    pilot,
                    lambda: (
                        writer.poll() is not None
                        and app.view is not None
                        and any(h.kind == "chosen" for h in app.view.heldout)
                    ),
                    what="the writer's held-out scores",
                )

        asyncio.run(watch())
        assert writer.wait(timeout=HANG) == 0, writer.stderr.read().decode()
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()


# -- keys, mouse and errors on a fixed store ----------------------------------------------------


def test_keys_sort_filter_copy_export_and_help(tmp_path):
    run_dir = write_demo_run(tmp_path / "demo-run")
    app = SldApp(attach=run_dir)

    async def drive() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot_wait_until(pilot, lambda: app.view is not None, what="the store")
            table = app.query_one("#table", DataTable)
            assert app.sort_column == "r2" and app.sort_reverse
            await pilot.press("o")
            assert app.sort_column == "heldout"
            await pilot.press("O")
            assert not app.sort_reverse

            # clicking a header sorts by it; clicking again reverses
            x = sum(c.get_render_width(table) for c in table.ordered_columns[:3]) + 1
            await pilot.click("#table", offset=(x, 0))
            await pilot.pause()
            assert app.sort_column == "complexity"
            first = str(table.coordinate_to_cell_key((0, 0)).row_key.value)
            assert first == str(min(app.view.rows, key=lambda r: r.complexity).id)
            await pilot.click("#table", offset=(x, 0))
            await pilot.pause()
            assert app.sort_reverse

            await pilot.press("slash")
            assert isinstance(app.focused, Input)
            await pilot.press(*"P**")
            assert app.filter_text == "P**"
            await pilot.pause()
            assert table.row_count == 2  # L = E + A/(N**a*P**b) and L = A/P**a
            await pilot.press("enter")
            assert app.focused is table

            await pilot.press("c")
            assert app.clipboard == app.view.row(app.selected_id).text

            await pilot.press("e")
            await pilot.pause()
            record = json.loads((run_dir / "best_law.json").read_text())
            assert record["candidate_id"] == 1 and record["heldout_after_selection"]["r2"] > 0.99
            assert "def law(" in (run_dir / "best_law.py").read_text()

            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

            await pilot.press("s")  # read-only: start is refused, nothing crashes
            assert app.state == "finished"

    asyncio.run(drive())


def test_detail_shows_lineage_and_h_scores_a_law_on_request(demo_run):  # noqa: F811
    app = SldApp(attach=demo_run)

    async def drive() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot_wait_until(pilot, lambda: app.view is not None, what="the store")
            app.selected_id = 6  # L = A/P**a, made from #3
            await pilot.press("d")
            assert isinstance(app.screen, LawDetailScreen)
            assert [cid for _, cid, _, _ in app.screen.detail.lineage] == [6, 3]
            assert app.screen.detail.heldout is None  # never scored: nothing held-out is shown
            await pilot.press("h")  # from the detail screen: the reporting path for this law
            await pilot_wait_until(
                pilot, lambda: app.screen.detail.heldout is not None, what="held-out"
            )
            assert "this session" in app.screen.detail.heldout_source
            await pilot.press("escape")
            await pilot_wait_until(
                pilot,
                lambda: math.isfinite(app.view.row(6).heldout_r2),
                what="the table's held-out column",
            )
            plot = app.query_one("#extrapolation-main", ExtrapolationPlot)
            await pilot_wait_until(
                pilot,
                lambda: plot.picture is not None and plot.picture.heldout,
                what="held-out points",
            )

    asyncio.run(drive())
    with RunStore.open(demo_run, readonly=True) as store:
        assert [h.kind for h in store.heldout()] == ["chosen", "human"]  # nothing written


def test_the_tasks_notes_open_the_events_log(demo_run):  # noqa: F811
    """Guesses made loading the task's data (a validation scale, read directions) are shown
    in the session as `sld discover` prints them, and a task without notes shows none."""
    app = SldApp(attach=demo_run)

    def logged() -> str:
        return "\n".join(strip.text for strip in app.query_one("#events", RichLog).lines)

    async def drive() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot_wait_until(pilot, lambda: app.view is not None, what="the store")
            app.query_one(TabbedContent).active = "log"  # a hidden log defers its lines
            await pilot.pause()
            assert "note:" not in logged()
            noted = replace(app.run_task, notes=("tokens guessed as the validation scale",))
            app.post_message(
                RunOpened(demo_run, ViewPoller(RunReader.open(demo_run)), noted, attached=True)
            )
            await pilot_wait_until(
                pilot, lambda: app.run_task is noted and "note:" in logged(), what="the note"
            )
            assert "note: tokens guessed as the validation scale" in logged()

    asyncio.run(drive())


def test_detail_shows_residual_diagnostics_in_words_and_an_llm_laws_hypothesis(demo_run):  # noqa: F811
    """The chosen law's stored diagnostics read as sentences and one line per input (inputs by
    their aliases); an LLM law shows the hypothesis it came with, an offline law none."""
    app = SldApp(attach=demo_run)

    def scores_text() -> str:
        console = Console(width=160, record=True, file=io.StringIO())
        console.print(app.screen.query_one("#detail-scores", Static).content)
        return console.export_text()

    async def drive() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot_wait_until(pilot, lambda: app.view is not None, what="the store")
            app.selected_id = 1  # L = E + A/N**a, no P term
            await pilot.press("d")
            text = scores_text()
            assert "residuals on the fold bands (24 rows)" in text
            assert "overestimates loss at the largest P (>= 4) by 3.1 %" in text
            assert "residual falls with log P (corr -0.86): a missing P term?" in text
            assert "worst group: stack" in text
            assert (
                "log P: slope -0.184, corr -0.86, top -0.246 std from 4, sign changes near 2"
                in text
            )
            assert "hypothesis" not in text
            # the checks name the card's directions they held the law to, by alias
            detail = app.screen.detail
            assert dict(detail.directions) == {"num_params": -1, "parallel_size": -1}
            checks = {"passed": True, "reasons": [], "probes": 40}
            passed = replace(detail, validation={**(detail.validation or {}), "checks": checks})
            lines = [str(line) for line in _selection_notes(passed)]
            assert (
                "extrapolation checks: passed (40 probes; directions: N decreasing, "
                "P decreasing)" in lines
            )
            # a law the final pick did not resample says so instead of a pessimistic error
            entry = PickEntry(
                id=detail.row.id, law=detail.row.text, complexity=9, n_params=3, folds=[],
                error=0.5, bound=None, samples=0, failed=0, checks=None, fitness=-0.3, rank=2,
            )  # fmt: skip
            winner = entry.model_copy(
                update={"id": entry.id + 100, "bound": 0.2, "samples": 8, "rank": 1}
            )
            pick = PickReport(
                chosen=winner.id, entries=[winner, entry], restarts=4, bootstrap=8,
                quantile=0.8, node_weight=0.005, param_weight=0.01, reason="lowest",
            )  # fmt: skip
            lines = [str(line) for line in _selection_notes(replace(detail, pick=pick))]
            assert (
                "final pick: ranked 2 of 2; not resampled: its penalised point error already lost"
                in lines
            )
            await pilot.press("escape")
            app.selected_id = 5  # an LLM proposal with a hypothesis, no diagnostics stored
            await pilot.press("d")
            text = scores_text()
            assert "hypothesis: parallel copies act like a larger model: log P scales N" in text
            assert "residuals on the fold bands" not in text

    asyncio.run(drive())


def _own_sweep(tmp_path: Path) -> Path:
    """A Chinchilla-shaped grid as a user's CSV: no card, so the data flags describe it."""
    rows = [
        {"N": n, "D": d, "loss": 1.7 + 400 / n**0.34 + 410 / d**0.28}
        for n in (1e8, 2e8, 5e8, 1e9, 2e9)
        for d in (2e9, 5e9, 1e10, 2e10)
    ]
    path = tmp_path / "sweep.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_sld_tui_takes_the_data_flags_of_your_own_file(tmp_path, monkeypatch, capsys):
    path = _own_sweep(tmp_path)
    opened: list = []
    monkeypatch.setattr("sld.tui.run_app", lambda task, **options: opened.append(task) or 0)
    flags = ["--inputs", "N,D", "--output", "loss", "--test", "N >= 1e9"]
    assert main(["tui", str(path), *flags]) == 0
    (spec,) = opened
    assert isinstance(spec, TaskSpec)
    assert (spec.source, spec.inputs, spec.outputs, spec.test) == (
        str(path),
        ["N", "D"],
        ["loss"],
        "N >= 1e9",
    )
    assert "note: the validation slice holds" in capsys.readouterr().err  # a guess, named
    # a bad flag is one line before any screen opens, as for sld discover
    assert main(["tui", str(path), "--inputs", "N,X", "--output", "loss"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'X'" in err and "--inputs" in err
    assert main(["tui", "--attach", str(tmp_path), "--inputs", "N"]) == 2
    assert "data flags" in capsys.readouterr().err
    assert len(opened) == 1


def test_a_session_on_your_own_file_shows_its_card_and_runs_with_its_options(tmp_path):
    spec = TaskSpec(
        source=str(_own_sweep(tmp_path)), inputs=["N", "D"], outputs=["loss"], test="N >= 1e9"
    )
    app = SldApp(spec, out=tmp_path / "runs")

    def card_text() -> str:
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(app.query_one("#card", Static).content)
        return console.export_text()

    async def drive() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert "sweep" in card_text() and "no inputs given" not in card_text()
            assert app.query_one(SetupPane).run_config({}).task == spec
            # another task in the list is the bare name, without this file's options
            assert app.query_one(SetupPane).spec_of("parallel_scaling_law") == TaskSpec(
                source="parallel_scaling_law"
            )

    asyncio.run(drive())


def test_bad_settings_and_bad_attach_become_notifications_not_crashes(tmp_path):
    app = SldApp("parallel_scaling_law", out=tmp_path, settings={"seed": ""})

    async def drive() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("s")
            await pilot.pause()
            assert app.state == "idle"
            assert any(n.severity == "error" for n in app._notifications)

    asyncio.run(drive())

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.sqlite").write_text("not a database")
    broken = SldApp(attach=tmp_path / "broken")

    async def attach() -> None:
        async with broken.run_test(size=(80, 24)) as pilot:
            await pilot_wait_until(
                pilot,
                lambda: any(n.severity == "error" for n in broken._notifications),
                what="an error notification",
            )

    asyncio.run(attach())


def test_sld_tui_refuses_task_with_attach_and_a_missing_run(tmp_path, capsys):
    assert main(["tui", "parallel_scaling_law", "--attach", str(tmp_path)]) == 2
    assert "either a TASK or --attach" in capsys.readouterr().err
    with pytest.raises(SldError, match="no run store"):
        run_app(attach=tmp_path / "nothing-here")


# -- pure pieces ------------------------------------------------------------------------------


def _row(i: int, r2: float, text: str = "L = E + A/N**a") -> LawRow:
    return LawRow(
        id=i, text=text, status="fitted", complexity=9, n_params=3, r2=r2, error=1 - r2,
        heldout_r2=math.nan, proposer="offline", operator="seed", island=i % 2, generation=0,
        parents=(),
    )  # fmt: skip


def test_sort_rows_keeps_missing_scores_last_in_both_directions():
    rows = [_row(1, 0.5), _row(2, math.nan), _row(3, 0.9)]
    assert [r.id for r in sort_rows(rows, "r2")] == [1, 3, 2]
    assert [r.id for r in sort_rows(rows, "r2", reverse=True)] == [3, 1, 2]


def test_filter_rows_matches_every_word_in_law_proposer_island_and_generation():
    rows = [_row(1, 0.5), _row(2, 0.6, "L = A/P**a")]
    assert [r.id for r in filter_rows(rows, "p**a")] == [2]
    assert [r.id for r in filter_rows(rows, "offline i1")] == [1]
    assert [r.id for r in filter_rows(rows, "")] == [1, 2]


def test_scatter_fills_exactly_the_requested_size_and_skips_bad_points():
    text = scatter(
        [Series("a", [(1, 1), (10, 100), (5, math.nan), (-1, 3)], "•")],
        width=40,
        height=12,
        log_x=True,
        log_y=True,
        x_label="x",
        y_label="y",
    )
    lines = text.plain.split("\n")
    assert len(lines) == 12 and max(len(line) for line in lines) <= 40
    assert text.plain.count("•") == 2


def test_lines_draw_braille_under_markers_and_leave_the_y_range_to_the_markers():
    markers = Series("points", [(1, 1.0), (10, 2.0)], "◆")
    runaway = [(x, 1.0 + x / 20) for x in range(1, 101)]  # runs far above the markers
    solid = scatter([Series("curve", runaway, line=True), markers], width=50, height=14, log_x=True)
    alone = scatter([markers], width=50, height=14, log_x=True)
    y_ticks = [line[: Y_MARGIN - 1] for line in solid.plain.split("\n")]
    assert y_ticks == [line[: Y_MARGIN - 1] for line in alone.plain.split("\n")]
    assert solid.plain.count("◆") == 2
    braille = [c for c in solid.plain if 0x2800 < ord(c) <= 0x28FF]
    assert braille  # the part of the curve inside the y range is drawn
    dashed = scatter(
        [Series("curve", runaway, line=True, dashed=True), markers], width=50, height=14, log_x=True
    )
    dots = sum(bin(ord(c) - 0x2800).count("1") for c in braille)
    dashed_dots = sum(
        bin(ord(c) - 0x2800).count("1") for c in dashed.plain if 0x2800 < ord(c) <= 0x28FF
    )
    assert 0 < dashed_dots < dots


def test_a_log_x_axis_marks_round_values_and_keeps_its_caption():
    text = scatter([Series("a", [(1, 1), (1000, 2)])], width=60, height=10, log_x=True,
                   x_label="tokens", y_label="loss")  # fmt: skip
    *_, axis, labels = text.plain.split("\n")
    assert axis.count("┬") == 4
    assert labels.split() == ["1", "10", "tokens", "(log)", "100", "1000"]
    narrow = scatter([Series("a", [(1, 1), (1000, 2)])], width=24, height=10, log_x=True,
                     x_label="a long input name", y_label="loss")  # fmt: skip
    first, *_ = narrow.plain.split("\n")
    assert first.startswith("loss") and "a long input name" not in narrow.plain.split("\n")[-1]


def test_the_pane_shows_heldout_rows_and_the_human_law_only_after_selection():
    task = load_task("parallel_scaling_law")
    law = parse_for_task("L = E + A/N**a", task)
    human = parse_for_task(task.reference_law, task)
    params = {g: {"E": 1.4, "A": 100.0, "a": 0.26} for g in task.groups}
    human_params = {g: {"E": 1.3, "A": 0.15, "k": 0.35, "alpha": 0.21} for g in task.groups}
    before = law_picture(law, task, search_parameters=params, human=(human, human_params))
    assert {p.split for p in before.points} == {"train", "validation"}
    assert {c.law for c in before.curves} == {"selected"}
    after = law_picture(
        law, task, search_parameters=params, heldout_parameters=params, human=(human, human_params)
    )
    assert {p.split for p in after.points} == {"train", "validation", "heldout"}
    assert {c.law for c in after.curves} == {"selected", "human"}
    # two groups share the pane: six num_params values each exceed its curve budget
    assert after.curves_at == "median" and len(after.curves) == 2 * len(task.groups)
    assert [p.title(after) for p in panels(after)] == ["all 2 groups", "group pile", "group stack"]
    series = panel_series(after, panels(after)[1])
    assert {s.label.split()[-1] for s in series} == {"pile"}
    assert [s.dashed for s in series if s.line] == [False, True]


def test_start_laws_come_from_the_flag_fill_the_form_and_a_bad_one_is_a_notification(
    tmp_path, monkeypatch, capsys
):
    opened: list = []
    monkeypatch.setattr("sld.tui.run_app", lambda task, **options: opened.append(options) or 0)
    laws = ["E + A/N**a + B/P", "E + A/(N*P)**a"]
    argv = ["tui", "parallel_scaling_law", "--start", laws[0], "--start", laws[1]]
    assert main(argv) == 0
    assert opened[0]["start"] == laws
    assert main(["tui", "--attach", str(tmp_path), "--start", laws[0]]) == 2
    assert "--start" in capsys.readouterr().err

    app = SldApp("parallel_scaling_law", out=tmp_path, settings={"start": " | ".join(laws)})

    async def drive() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            pane = app.query_one(SetupPane)
            assert pane.run_config({}).start_laws == laws
            app.query_one("#start_laws", Input).value = f"{laws[0]} |  | E + A/Q**a"
            assert pane.run_config({}).start_laws == [laws[0], "E + A/Q**a"]
            await pilot.press("s")  # a law of no input is refused before the run exists
            await pilot.pause()
            assert app.state == "failed"  # startable again, once the form is fixed
            errors = [n.message for n in app._notifications if n.severity == "error"]
            assert any("start law 2 ('E + A/Q**a')" in message for message in errors), errors
            assert not list(tmp_path.iterdir())

    asyncio.run(drive())


def test_the_rehearse_box_runs_the_tasks_rehearsal_and_shows_its_card(tmp_path, monkeypatch):
    opened: list = []
    monkeypatch.setattr("sld.tui.run_app", lambda task, **options: opened.append(task) or 0)
    assert main(["tui", "parallel_scaling_law", "--rehearse"]) == 0
    assert opened[0].rehearse

    def card_text(app: SldApp) -> str:
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(app.query_one("#card", Static).content)
        return console.export_text()

    async def drive(app: SldApp, *, ticked: bool) -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            pane = app.query_one(SetupPane)
            box = app.query_one("#rehearse", Checkbox)
            assert box.value is ticked
            assert pane.run_config({}).task.rehearse is ticked
            assert ("parallel_scaling_law-rehearsal" in card_text(app)) is ticked
            box.toggle()
            await pilot.pause()
            config = pane.run_config({})
            assert config.task.rehearse is not ticked
            assert config.task.source == "parallel_scaling_law"
            assert ("parallel_scaling_law-rehearsal" in card_text(app)) is not ticked
            # an attached run's form shows whether it was a rehearsal
            for rehearse in (True, False):
                task = {"source": "parallel_scaling_law", "rehearse": rehearse}
                pane.show_config("parallel_scaling_law", {"task": task, "seed": 0})
                assert box.value is rehearse

    asyncio.run(drive(SldApp("parallel_scaling_law", out=tmp_path), ticked=False))
    spec = TaskSpec(source="parallel_scaling_law", rehearse=True)
    asyncio.run(drive(SldApp(spec, out=tmp_path), ticked=True))
