"""``sld tui``: run a discovery and watch it live, or attach read-only to a headless run.

Threads. The app drives the same run object as ``sld discover``
(:class:`sld.run.Run`) in a thread worker; the run's events (state, progress,
notices) arrive through ``post_message``, which is thread-safe, so fitting never
blocks the interface. Every pane is drawn from the run store through a separate
read-only connection, polled every half second in another thread worker; the
same path watches a run written by another process.

Protocol. Held-out scores come from the reporting path: the run's ``finalize``
after the search, or :func:`sld.scoring.heldout_score` for one law when asked (``h``).
They are displayed and exported, never written where the engine reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive, var
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    RichLog,
    Static,
    TabbedContent,
    TabPane,
)

from sld.config import TaskSpec
from sld.errors import SldError
from sld.run import Run
from sld.store import RunReader
from sld.tui.bench import BenchScreen
from sld.tui.law_actions import LawActions
from sld.tui.laws import LawTable
from sld.tui.navigation import BENCH_BINDING, Navigation
from sld.tui.reading import StoreReading
from sld.tui.running import APP_STATES, PAUSABLE, STARTABLE, AppState, RunControl
from sld.tui.setup import DEFAULT_SETTINGS, START_SEPARATOR, SetupPane
from sld.tui.status import event_line, status_line
from sld.tui.view import RunView, ViewPoller, filter_rows, sort_rows
from sld.tui.widgets import ExtrapolationPlot, LedgerView, ParetoPlot

__all__ = ["APP_STATES", "AppState", "SldApp", "run_app"]

POLL_SECONDS = 0.5


class SldApp(RunControl, LawActions, StoreReading, Navigation, App[int]):
    """Pick a task, run the search, and watch laws, the Pareto front and extrapolation live."""

    CSS_PATH = "app.tcss"
    TITLE = "sld"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?"),
        ("s", "start", "Start"),
        ("p", "toggle_pause", "Pause/resume"),
        ("x", "stop", "Stop"),
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        ("o", "cycle_sort", "Sort"),
        Binding("O", "reverse_sort", "Reverse sort", show=False),
        ("d", "detail", "Detail"),
        ("h", "heldout", "Held-out"),
        Binding("c", "copy_law", "Copy law", show=False),
        ("e", "export_best", "Export best"),
        Binding("g", "next_panel", "Next extrapolation panel", show=False),
        Binding("1", "show_tab('setup')", "Setup tab", show=False),
        Binding("2", "show_tab('laws')", "Laws tab", show=False),
        Binding("3", "show_tab('pareto')", "Pareto tab", show=False),
        Binding("4", "show_tab('extrapolation')", "Extrapolation tab", show=False),
        Binding("5", "show_tab('log')", "Log tab", show=False),
        BENCH_BINDING,
        ("q", "quit", "Quit"),
    ]

    state: reactive[AppState] = reactive("idle")
    selected_id: reactive[int | None] = reactive(None)
    sort_column: reactive[str] = reactive("r2")
    sort_reverse: reactive[bool] = reactive(True)
    filter_text: reactive[str] = reactive("")
    view: var[RunView | None] = var(None, always_update=True)

    def __init__(
        self,
        task: str | TaskSpec | None = None,
        *,
        attach: str | Path | None = None,
        bench: str | Path | None = None,
        out: str | Path = "runs",
        seed: int = 0,
        settings: Mapping[str, Any] | None = None,
        config_overrides: Mapping[str, Any] | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        super().__init__()
        # a TaskSpec carries a data file's options (the data flags of 'sld tui FILE --inputs ...')
        self.opening_task = task
        self.attach_dir = Path(attach) if attach is not None else None
        self.bench_dir = Path(bench) if bench is not None else None
        self.out = Path(out)
        self.settings = {**DEFAULT_SETTINGS, "seed": seed, **(settings or {})}
        self.config_overrides = dict(config_overrides or {})
        self.poll_seconds = poll_seconds
        self.run_dir: Path | None = None
        self.run_task: Any = None
        self.progress: Any = None
        self._run: Run | None = None
        self._reader: ViewPoller | None = None
        self._reading = False
        self._quitting = False
        self._pause_requested = False
        self._follow_chosen = True  # the selection tracks the chosen law until a person picks one
        self._auto_selecting = False
        self._extrapolation_key: tuple[Any, ...] = ()
        self._session_heldout: dict[int, dict[str, Any]] = {}
        self._heldout_pending: set[int] = set()

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Header, status line, the tabbed panes and the footer."""
        yield Header()
        yield Static(id="status")
        with TabbedContent(initial="laws" if self.read_only else "setup", id="tabs"):
            with TabPane("Setup", id="setup"):
                yield SetupPane(task=self.opening_task, settings=self.settings, id="setup-row")
            with TabPane("Laws", id="laws"):
                with Horizontal(id="laws-row"):
                    with Vertical(id="table-column"):
                        yield Input(
                            placeholder="filter laws: words in law, proposer, status, i2, g3",
                            id="filter",
                        )
                        yield LawTable(id="table")
                    with Vertical(id="side-column"):
                        yield ParetoPlot(id="pareto-side", classes="plot")
                        yield ExtrapolationPlot(id="extrapolation-side", classes="plot")
            with TabPane("Pareto", id="pareto"):
                yield ParetoPlot(id="pareto-main", classes="plot")
            with TabPane("Extrapolation", id="extrapolation"):
                yield ExtrapolationPlot(id="extrapolation-main", classes="plot")
            with TabPane("Log", id="log"):
                with Horizontal(id="log-row"):
                    yield RichLog(id="events", max_lines=2000, wrap=False, markup=False)
                    yield LedgerView(id="ledger")
        yield Footer()

    def on_mount(self) -> None:
        """Title the panes, set up the table and start polling."""
        self.query_one("#pareto-side").border_title = "Pareto front"
        self.query_one("#pareto-main").border_title = "Pareto front: complexity vs validation error"
        self.query_one("#extrapolation-side").border_title = "extrapolation"
        self.query_one("#extrapolation-main").border_title = "extrapolation: output against scale"
        self.query_one("#events").border_title = "events"
        self.query_one("#ledger").border_title = "LLM ledger"
        self.query_one(LawTable).build_columns()
        self.set_interval(self.poll_seconds, self.poll_store)
        if self.attach_dir is not None:
            self.sub_title = f"attaching to {self.attach_dir.name}"
            self.attach_run(self.attach_dir)
        self.watch_state(self.state)
        self._focus_in("laws" if self.read_only else "setup")
        if self.bench_dir is not None and self.attach_dir is None:
            self.action_show_bench()

    @property
    def read_only(self) -> bool:
        """Watching runs written elsewhere (``--attach`` or a bench), not running one."""
        return self.attach_dir is not None or self.bench_dir is not None

    # -- reactive state -----------------------------------------------------------------------

    def watch_state(self, state: AppState) -> None:
        """Enable the controls that make sense now and redraw the status line."""
        can_start = not self.read_only and state in STARTABLE
        buttons = {
            "start": can_start,
            "pause": state in ("running", "starting"),
            "resume": state == "paused",
            "stop": state in ("running", "paused"),
        }
        self.query_one(SetupPane).enable(can_start=can_start, buttons=buttons)
        self.refresh_bindings()
        self._show_status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide run controls when attached read-only; dim the ones that do nothing right now."""
        controls = {"start": STARTABLE, "toggle_pause": PAUSABLE, "stop": PAUSABLE}
        if action == "show_bench":
            return self.bench_dir is not None and not isinstance(self.screen, BenchScreen)
        if isinstance(self.screen, BenchScreen) and action not in ("quit", "help"):
            return False  # the run view's keys wait until a run is chosen
        if action in controls:
            if self.read_only:
                return False
            return True if self.state in controls[action] else None
        return True

    def _select_automatically(self, candidate_id: int | None) -> None:
        self._auto_selecting = True
        try:
            self.selected_id = candidate_id
        finally:
            self._auto_selecting = False

    def watch_selected_id(self, candidate_id: int | None) -> None:
        """Highlight the law in the Pareto plots and redraw its extrapolation."""
        if not self._auto_selecting and candidate_id is not None:
            self._follow_chosen = False  # the person picked a law: stop tracking the chosen one
        for plot in self.query(ParetoPlot):
            plot.selected_id = candidate_id
        self._update_extrapolation()

    def watch_sort_column(self) -> None:
        """Re-sort the table."""
        self._fill_table(force=True)

    def watch_sort_reverse(self) -> None:
        """Re-sort the table."""
        self._fill_table(force=True)

    def watch_filter_text(self) -> None:
        """Re-filter the table."""
        self._fill_table(force=True)

    def watch_view(self, view: RunView | None) -> None:
        """Redraw every pane from a fresh read of the store."""
        if view is None:
            return
        if view.rows and (self.selected_id is None or (self._follow_chosen and view.chosen_id)):
            self._select_automatically(view.chosen_id or view.rows[0].id)
        self._fill_table()
        for plot in self.query(ParetoPlot):
            plot.view = view
        log = self.query_one("#events", RichLog)
        for event in view.events:
            log.write(event_line(event))
        self.query_one("#ledger", LedgerView).show_ledger(view.ledger)
        if self.read_only:
            self.state = "finished" if view.finished else "watching"
        self._update_extrapolation()
        self._show_status()

    # -- status line ---------------------------------------------------------------------------

    def _show_status(self) -> None:
        wide = self.size.width >= 120
        line = status_line(self.state, self.view, self.progress, wide=wide)
        self.query_one("#status", Static).update(line)

    # -- the laws table -------------------------------------------------------------------------

    def _fill_table(self, *, force: bool = False) -> None:
        view = self.view
        if view is None:
            return
        table = self.query_one(LawTable)
        table.sort_column, table.sort_reverse = self.sort_column, self.sort_reverse
        rows = sort_rows(
            filter_rows(view.rows, self.filter_text), self.sort_column, reverse=self.sort_reverse
        )
        if not table.show(rows, selected_id=self.selected_id, force=force):
            return
        if rows and self.selected_id not in [r.id for r in rows]:
            self._select_automatically(rows[0].id)

    def on_resize(self) -> None:
        """Give the law column the width that is left."""
        self.call_after_refresh(self._fill_table)

    @on(DataTable.RowHighlighted, "#table")
    def on_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Follow the cursor: the highlighted law is the selected law."""
        if event.row_key.value is not None:
            # rebuilding the table posts no highlights, so this one is the person's choice
            self.selected_id = int(event.row_key.value)

    @on(DataTable.RowSelected, "#table")
    def on_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a second click) opens the law's detail."""
        if event.row_key.value is not None:
            self.selected_id = int(event.row_key.value)
            self.action_detail()

    @on(DataTable.HeaderSelected, "#table")
    def on_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Sort by the clicked column; clicking it again reverses the order."""
        key = str(event.column_key.value)
        if key == "mark":
            return
        if key == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column = key

    @on(Input.Changed, "#filter")
    def on_filter_changed(self, event: Input.Changed) -> None:
        """Filter the table as you type."""
        self.filter_text = event.value

    @on(Input.Submitted, "#filter")
    def on_filter_submitted(self) -> None:
        """Enter in the filter goes back to the table."""
        self.query_one(LawTable).focus()

    @on(Button.Pressed)
    async def on_button_pressed(self, event: Button.Pressed) -> None:
        """Start, pause, resume and stop buttons."""
        actions = {
            "start": "start",
            "pause": "toggle_pause",
            "resume": "toggle_pause",
            "stop": "stop",
        }
        if event.button.id in actions:
            await self.run_action(actions[event.button.id])


def run_app(
    task: str | TaskSpec | None = None,
    *,
    attach: str | Path | None = None,
    bench: str | Path | None = None,
    out: str | Path = "runs",
    seed: int = 0,
    start: Sequence[str] = (),
) -> int:
    """Run the app in the terminal; returns the exit code.

    ``task``: a curated name or a data file (with a card beside it), or a TaskSpec holding a
    data file's options. ``attach`` may also be a bench directory (made by ``sld bench``): it
    then opens as ``bench``. ``start``: start laws to fill the form with (``--start``).
    """
    from sld.bench import is_bench_dir

    if attach is not None and bench is None and is_bench_dir(attach):
        attach, bench = None, attach
    if task is not None and attach is not None:
        raise SldError("give either a TASK or --attach RUN_DIR, not both")
    if bench is not None and (task is not None or attach is not None):
        raise SldError("give a bench directory alone, without a TASK or --attach RUN_DIR")
    if attach is not None and not RunReader.exists(attach):
        raise SldError(
            f"no run store in {attach}; pass a directory made by 'sld discover' "
            "(or a bench directory made by 'sld bench') to --attach"
        )
    if bench is not None and not is_bench_dir(bench):
        raise SldError(f"no bench in {bench}; pass a directory made by 'sld bench' to --bench")
    settings = {"start": f" {START_SEPARATOR} ".join(start)} if start else None
    result = SldApp(task, attach=attach, bench=bench, out=out, seed=seed, settings=settings).run()
    return int(result or 0)
