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

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from rich.text import Text
from sld.tui.extrapolation import HELDOUT_LABEL, Points
from sld.tui.screens import HelpScreen, LawDetail, LawDetailScreen
from sld.tui.view import RunView, ViewPoller, filter_rows, number, sort_rows
from sld.tui.widgets import ExtrapolationPlot, LedgerView, ParetoPlot, TaskCard
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive, var
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    OptionList,
    RichLog,
    Select,
    Static,
    TabbedContent,
    TabPane,
)
from textual.widgets.option_list import Option
from textual.widgets.tabbed_content import ContentTabs

from sld.errors import SldError
from sld.run import Run, RunEvent, RunState
from sld.store import EventRow, RunReader, RunStore

AppState = Literal[RunState, "starting", "watching"]
"""The app's state: its own run's :data:`~sld.run.RunState`, ``starting`` before that run
searches, ``watching`` while attached read-only to a run another process writes."""
APP_STATES: tuple[AppState, ...] = get_args(AppState)
STARTABLE: tuple[AppState, ...] = ("idle", "finished", "failed")
PAUSABLE: tuple[AppState, ...] = ("starting", "running", "paused")

POLL_SECONDS = 0.5
PROPOSERS = ("offline", "llm", "mixed", "local")
# (sort key, header label); the table's columns in order after the mark
COLUMNS = (
    ("id", "#"),
    ("law", "law"),
    ("complexity", "cx"),
    ("params", "k"),
    ("r2", "val R²"),
    ("heldout", "held-out"),
    ("proposer", "proposer"),
    ("island", "isl"),
    ("generation", "gen"),
)
FIXED_WIDTHS = {"id": 4, "complexity": 3, "params": 2, "r2": 6, "heldout": 8, "proposer": 8}
FIXED_WIDTHS |= {"island": 3, "generation": 3}
DEFAULT_SETTINGS: dict[str, Any] = {
    "proposer": "offline",
    "model": "",
    "time": "2m",
    "generations": "",
    "seed": 0,
    "islands": 4,
    "per_island": 6,
    "restarts": 8,
    "bootstrap": 30,
}
EVENT_STYLES = {
    "fitted": "green",
    "scored": "green",
    "promoted": "bold cyan",
    "rejected": "red",
    "failed": "red",
    "duplicate": "dim",
    "generation": "bold",
    "stopped": "bold yellow",
    "resumed": "bold yellow",
    "llm_call": "magenta",
    "migrated": "blue",
}


# -- messages from worker threads ---------------------------------------------------------------


class Notice(Message):
    """A notification raised off the UI thread."""

    def __init__(self, text: str, severity: str = "information") -> None:
        super().__init__()
        self.text, self.severity = text, severity


class RunOpened(Message):
    """A run store is ready to be read (a new in-app run, or an attached one)."""

    def __init__(self, run_dir: Path, reader: ViewPoller, task: Any, *, attached: bool) -> None:
        super().__init__()
        self.run_dir, self.reader, self.task, self.attached = run_dir, reader, task, attached


class RunUpdate(Message):
    """The run object reported something (a new state, progress, a notice)."""

    def __init__(self, event: RunEvent) -> None:
        super().__init__()
        self.event = event


class RunFailed(Message):
    """The run could not be opened, or an error ended it (during the search or the scoring)."""

    def __init__(self, error: str, *, scoring: bool = False) -> None:
        super().__init__()
        self.error, self.scoring = error, scoring


class Reported(Message):
    """The run's finalize wrote the held-out scores of the chosen and the human law."""

    def __init__(self, report: Mapping[str, Any]) -> None:
        super().__init__()
        self.report = report


class StoreRead(Message):
    """A poll of the store finished (``view`` is None when nothing changed)."""

    def __init__(self, reader: ViewPoller, view: RunView | None, *, error: str = "") -> None:
        super().__init__()
        self.reader, self.view, self.error = reader, view, error


class ExtrapolationReady(Message):
    """Predicted-vs-actual points of one law are computed."""

    def __init__(self, candidate_id: int, points: tuple[Points, ...], note: str) -> None:
        super().__init__()
        self.candidate_id, self.points, self.note = candidate_id, points, note


class HeldoutReady(Message):
    """A held-out score asked for with ``h`` arrived (report is a ScoreReport dump)."""

    def __init__(
        self, candidate_id: int, report: Mapping[str, Any] | None, *, error: str = ""
    ) -> None:
        super().__init__()
        self.candidate_id, self.report, self.error = candidate_id, report, error


# -- the app ------------------------------------------------------------------------------------


class SldApp(App[int]):
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
        Binding("1", "show_tab('setup')", "Setup tab", show=False),
        Binding("2", "show_tab('laws')", "Laws tab", show=False),
        Binding("3", "show_tab('pareto')", "Pareto tab", show=False),
        Binding("4", "show_tab('extrapolation')", "Extrapolation tab", show=False),
        Binding("5", "show_tab('log')", "Log tab", show=False),
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
        task: str | None = None,
        *,
        attach: str | Path | None = None,
        out: str | Path = "runs",
        seed: int = 0,
        settings: Mapping[str, Any] | None = None,
        config_overrides: Mapping[str, Any] | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        super().__init__()
        self.task_source = task
        self.attach_dir = Path(attach) if attach is not None else None
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
        self._rows_signature: tuple[Any, ...] = ()
        self._built_law_width = 0
        self._extrapolation_key: tuple[Any, ...] = ()
        self._session_heldout: dict[int, dict[str, Any]] = {}
        self._heldout_pending: set[int] = set()
        self._events_seen = 0

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Header, status line, the tabbed panes and the footer."""
        yield Header()
        yield Static(id="status")
        with TabbedContent(initial="laws" if self.attach_dir else "setup", id="tabs"):
            with TabPane("Setup", id="setup"):
                with Horizontal(id="setup-row"):
                    with Vertical(id="task-column"):
                        yield OptionList(id="tasks")
                        yield TaskCard(id="card")
                    with Vertical(id="settings"):
                        yield from self._settings_form()
                        with Horizontal(id="controls"):
                            yield Button("Start", id="start", variant="success", compact=True)
                            yield Button("Pause", id="pause", compact=True)
                            yield Button("Resume", id="resume", compact=True)
                            yield Button("Stop", id="stop", variant="error", compact=True)
            with TabPane("Laws", id="laws"):
                with Horizontal(id="laws-row"):
                    with Vertical(id="table-column"):
                        yield Input(
                            placeholder="filter laws: words in law, proposer, status, i2, g3",
                            id="filter",
                        )
                        yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
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

    def _settings_form(self) -> ComposeResult:
        s = self.settings
        rows: list[tuple[str, Any]] = [
            (
                "proposer",
                Select(
                    [(p, p) for p in PROPOSERS],
                    value=s["proposer"],
                    allow_blank=False,
                    id="proposer",
                    compact=True,
                ),
            ),
            (
                "model",
                Input(str(s["model"]), placeholder="LLM model name", id="model", compact=True),
            ),
            (
                "time budget",
                Input(str(s["time"]), placeholder="e.g. 90s, 10m", id="time", compact=True),
            ),
            (
                "generations",
                Input(
                    str(s["generations"]),
                    placeholder="no limit",
                    id="generations",
                    type="integer",
                    compact=True,
                ),
            ),
            ("seed", Input(str(s["seed"]), id="seed", type="integer", compact=True)),
            ("islands", Input(str(s["islands"]), id="islands", type="integer", compact=True)),
            (
                "per island",
                Input(str(s["per_island"]), id="per_island", type="integer", compact=True),
            ),
            ("restarts", Input(str(s["restarts"]), id="restarts", type="integer", compact=True)),
            ("bootstrap", Input(str(s["bootstrap"]), id="bootstrap", type="integer", compact=True)),
        ]
        for label, widget in rows:
            with Horizontal(classes="field"):
                yield Label(label, classes="field-label")
                yield widget

    def on_mount(self) -> None:
        """Fill the task list, set up the table and start polling."""
        self.query_one("#settings").border_title = "run settings"
        self.query_one("#tasks").border_title = "task"
        self.query_one("#pareto-side").border_title = "Pareto front"
        self.query_one("#pareto-main").border_title = "Pareto front: complexity vs validation error"
        self.query_one("#extrapolation-side").border_title = "extrapolation"
        self.query_one("#extrapolation-main").border_title = "extrapolation: predicted vs actual"
        self.query_one("#events").border_title = "events"
        self.query_one("#ledger").border_title = "LLM ledger"
        self._build_columns()
        self._fill_tasks()
        self.set_interval(self.poll_seconds, self.poll_store)
        if self.attach_dir is not None:
            self.sub_title = f"attaching to {self.attach_dir.name}"
            self.attach_run(self.attach_dir)
        self.watch_state(self.state)
        self._focus_in("laws" if self.attach_dir else "setup")

    def _fill_tasks(self) -> None:
        from sld.corpus import list_tasks

        tasks = self.query_one("#tasks", OptionList)
        names = list_tasks()
        extra = [self.task_source] if self.task_source and self.task_source not in names else []
        tasks.add_options([Option(name, id=name) for name in (*extra, *names)])
        wanted = self.task_source or names[0]
        tasks.highlighted = [*extra, *names].index(wanted)
        self._show_card(wanted)

    def _show_card(self, source: str) -> None:
        from sld.corpus import load_task

        card = self.query_one("#card", TaskCard)
        try:
            card.show_task(load_task(source))
        except SldError as exc:
            card.show_task(None, error=str(exc))

    # -- reactive state -----------------------------------------------------------------------

    def watch_state(self, state: AppState) -> None:
        """Enable the controls that make sense now and redraw the status line."""
        attached = self.attach_dir is not None
        can_start = not attached and state in STARTABLE
        enabled = {
            "start": can_start,
            "pause": state in ("running", "starting"),
            "resume": state == "paused",
            "stop": state in ("running", "paused"),
        }
        for button_id, on_ in enabled.items():
            self.query_one(f"#{button_id}", Button).disabled = not on_
        for widget in self.query("#settings Input, #settings Select, #tasks"):
            widget.disabled = not can_start
        self.refresh_bindings()
        self._show_status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide run controls when attached read-only; dim the ones that do nothing right now."""
        controls = {"start": STARTABLE, "toggle_pause": PAUSABLE, "stop": PAUSABLE}
        if action in controls:
            if self.attach_dir is not None:
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
            log.write(self._event_line(event))
        self.query_one("#ledger", LedgerView).show_ledger(view.ledger)
        if self.attach_dir is not None:
            self.state = "finished" if view.finished else "watching"
        self._update_extrapolation()
        self._show_status()

    # -- status line ----------------------------------------------------------------------------

    def _show_status(self) -> None:
        view, progress = self.view, self.progress
        marks = {
            "idle": ("○ ready", "dim"),
            "starting": ("◌ starting", "yellow"),
            "running": ("● running", "bold green"),
            "paused": ("❚❚ paused", "bold yellow"),
            "stopping": ("◌ stopping", "yellow"),
            "scoring": ("◌ held-out scoring", "yellow"),
            "finished": ("■ finished", "bold"),
            "failed": ("✗ failed", "bold red"),
            "watching": ("◉ watching (read-only)", "bold cyan"),
        }
        label, style = marks.get(self.state, (self.state, ""))
        text = Text.assemble((label, style), no_wrap=True, overflow="ellipsis")
        if self.state == "idle":
            text.append(
                "  pick a task, adjust the settings, press s to start; ? for keys", style="dim"
            )
        if view is not None:
            s = view.summary
            counts = s.by_status
            wide = self.size.width >= 120
            gen = progress.generation if progress is not None else (s.generation or 0) + 1
            text.append(f"  gen {gen} · {counts.get('fitted', 0)} fitted")
            if wide:
                text.append(
                    f", {counts.get('failed', 0)} failed, {counts.get('rejected', 0)} rejected, "
                    f"{counts.get('duplicate', 0)} duplicate"
                )
            chosen = view.row(view.chosen_id)
            if chosen is not None:
                text.append(f" · chosen #{chosen.id} val R² {number(chosen.r2)}")
            held = {h.kind: h.r2 for h in view.heldout}
            if "chosen" in held:
                text.append(
                    f" · held-out R² {number(held['chosen'])}"
                    + (f" (human {number(held['human'])})" if "human" in held else ""),
                    style="italic",
                )
            elapsed = progress.elapsed if progress is not None else view.elapsed
            text.append(f" · {elapsed:.0f} s", style="dim")
            if view.stopped_by and wide:
                text.append(f" · stopped by {view.stopped_by}", style="dim")
        self.query_one("#status", Static).update(text)

    @staticmethod
    def _event_line(event: EventRow) -> Text:
        p = event.payload
        details = {
            "proposed": lambda: p.get("text", ""),
            "rejected": lambda: f"{p.get('text', '')}: {p.get('reason', '')}",
            "duplicate": lambda: f"{p.get('text', '')}: {p.get('reason', '')}",
            "failed": lambda: p.get("reason", ""),
            "fitted": lambda: f"train loss {number(p.get('train_loss'), 5)}",
            "scored": lambda: f"val R² {number(p.get('r2'))}",
            "promoted": lambda: f"island {p.get('island')}, NMSE {number(p.get('error'), 5)}",
            "migrated": lambda: f"island {p.get('from')} → {p.get('to')}",
            "generation": lambda: (
                f"done; best val R² {number(p.get('best_r2'))}, {p.get('fitted')} fitted"
            ),
            "stopped": lambda: p.get("reason", ""),
            "llm_call": lambda: (
                f"{p.get('outcome')}: {p.get('prompt_tokens', 0)}+{p.get('completion_tokens', 0)} tokens, "
                f"${p.get('usd', 0):.4f}"
            ),
        }
        gen = "" if event.generation is None else f"g{event.generation}"
        cid = "" if event.candidate_id is None else f"#{event.candidate_id}"
        line = Text(no_wrap=True)
        line.append(f"{gen:>4} {cid:>5} ", style="dim")
        line.append(f"{event.kind:<10}", style=EVENT_STYLES.get(event.kind, ""))
        line.append(" " + str(details.get(event.kind, lambda: "")()))
        return line

    # -- population table ---------------------------------------------------------------------

    def _law_width(self) -> int:
        table = self.query_one("#table", DataTable)
        available = table.size.width or self.size.width
        others = sum(
            max(FIXED_WIDTHS[key], len(self._header(key, label)))
            for key, label in COLUMNS
            if key != "law"
        )
        return max(16, available - others - 1 - 2 * (len(COLUMNS) + 1) - 2)  # mark, padding, bar

    def _header(self, key: str, label: str) -> str:
        """A column label, with an arrow on the sort column."""
        if key != self.sort_column:
            return label
        return label + (" ▼" if self.sort_reverse else " ▲")

    def _build_columns(self) -> None:
        table = self.query_one("#table", DataTable)
        self._built_law_width = law_width = self._law_width()
        table.clear(columns=True)
        table.add_column(" ", key="mark", width=1)
        for key, label in COLUMNS:
            shown = self._header(key, label)
            width = law_width if key == "law" else max(FIXED_WIDTHS[key], len(shown))
            table.add_column(shown, key=key, width=width)

    def _fill_table(self, *, force: bool = False) -> None:
        view = self.view
        table = self.query_one("#table", DataTable)
        if view is None:
            return
        rows = sort_rows(
            filter_rows(view.rows, self.filter_text), self.sort_column, reverse=self.sort_reverse
        )
        signature = (
            tuple(dataclasses.astuple(r) for r in rows),
            self.sort_column,
            self.sort_reverse,
            self._law_width(),
        )
        if signature == self._rows_signature and not force:
            return
        self._rows_signature = signature
        law_width = self._law_width()
        with table.prevent(DataTable.RowHighlighted):
            if force or law_width != self._built_law_width:
                self._build_columns()
            else:
                table.clear()
            for r in rows:
                text = r.text if len(r.text) <= law_width else r.text[: law_width - 1] + "…"
                table.add_row(
                    Text(r.mark, style="bold yellow" if r.chosen else "cyan"),
                    str(r.id),
                    text,
                    "" if r.complexity is None else str(r.complexity),
                    "" if r.n_params is None else str(r.n_params),
                    Text(number(r.r2), justify="right"),
                    Text(number(r.heldout_r2), justify="right", style="italic"),
                    r.proposer,
                    str(r.island),
                    str(r.generation),
                    key=str(r.id),
                )
            ids = [r.id for r in rows]
            if self.selected_id in ids:
                table.move_cursor(row=ids.index(self.selected_id), scroll=True)
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
        self.query_one("#table", DataTable).focus()

    @on(OptionList.OptionHighlighted, "#tasks")
    def on_task_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Show the card of the highlighted task."""
        if event.option.id is not None:
            self._show_card(event.option.id)

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

    # -- polling the store --------------------------------------------------------------------

    def poll_store(self) -> None:
        """Start a read of the store unless one is still running."""
        if self._reader is not None and not self._reading:
            self._reading = True
            self.read_store(self._reader)

    @work(thread=True, group="read", exit_on_error=False)
    def read_store(self, reader: ViewPoller) -> None:
        """Read the store off the UI thread."""
        extra = {
            cid: float(r.get("metrics", {}).get("r2", math.nan))
            for cid, r in self._session_heldout.items()
            if r.get("metrics")
        }
        try:
            self.post_message(StoreRead(reader, reader.read(extra_heldout=extra)))
        except SldError as exc:
            self.post_message(StoreRead(reader, None, error=str(exc)))
        except Exception as exc:  # a half-written store must not crash the viewer
            self.post_message(StoreRead(reader, None, error=f"{type(exc).__name__}: {exc}"))

    def on_store_read(self, message: StoreRead) -> None:
        """Apply a read of the current store; reads of an older run are dropped."""
        if message.reader is not self._reader:
            return
        self._reading = False
        if message.error:
            self.notify(f"store: {message.error}", severity="error", timeout=6)
        if message.view is not None:
            self.view = message.view

    # -- attaching ----------------------------------------------------------------------------

    @work(thread=True, group="open", exit_on_error=False)
    def attach_run(self, run_dir: Path) -> None:
        """Open a run directory read-only and load its task."""
        from sld.config import RunConfig

        try:
            reader = ViewPoller(RunReader.open(run_dir))
            task = RunConfig.model_validate(reader.config).task.load()
        except SldError as exc:
            self.post_message(Notice(str(exc), "error"))
            return
        except Exception as exc:
            self.post_message(Notice(f"cannot attach to {run_dir}: {exc}", "error"))
            return
        self.post_message(RunOpened(run_dir, reader, task, attached=True))

    def on_run_opened(self, message: RunOpened) -> None:
        """Point every pane at the new run store."""
        if (
            self._reader is not None
            and self._reader is not message.reader
            and self.attach_dir is None
        ):
            self._reader.store.close()
        self._reader, self.run_dir, self.run_task = message.reader, message.run_dir, message.task
        self._reading = False
        self._rows_signature, self._extrapolation_key = (), ()
        self._session_heldout.clear()
        self._select_automatically(None)
        self._follow_chosen = True
        self.query_one("#events", RichLog).clear()
        self.title = f"sld · {message.reader.task}"
        self.sub_title = f"{message.run_dir.name}" + (" (read-only)" if message.attached else "")
        for plot in self.query(ExtrapolationPlot):
            plot.groups = tuple(message.task.groups)
        if message.attached:
            self._show_config(message.reader.task, message.reader.config)
        self.poll_store()

    def _show_config(self, task_name: str, config: Mapping[str, Any]) -> None:
        """Fill the (disabled) Setup tab with an attached run's task and settings."""
        tasks = self.query_one("#tasks", OptionList)
        source = str((config.get("task") or {}).get("source", task_name))
        if source not in self._task_ids():
            tasks.add_option(Option(source, id=source))
        tasks.highlighted = tasks.get_option_index(source)
        llm = config.get("llm") or {}
        time_limit = config.get("time_limit")
        values = {
            "model": llm.get("model") or "",
            "time": f"{time_limit:g}s" if time_limit else "",
            "generations": config.get("generations") or "",
            "seed": config.get("seed", 0),
            "islands": config.get("islands", ""),
            "per_island": config.get("proposals_per_island", ""),
            "restarts": config.get("restarts", ""),
            "bootstrap": config.get("bootstrap", ""),
        }
        for widget_id, value in values.items():
            self.query_one(f"#{widget_id}", Input).value = str(value)
        proposer = "local" if llm.get("provider") == "local" else config.get("proposer", "offline")
        self.query_one("#proposer", Select).value = proposer if proposer in PROPOSERS else "offline"

    def _task_ids(self) -> list[str]:
        tasks = self.query_one("#tasks", OptionList)
        return [tasks.get_option_at_index(i).id or "" for i in range(tasks.option_count)]

    def on_notice(self, message: Notice) -> None:
        """Show a worker's notice."""
        self.notify(message.text, severity=message.severity, timeout=8)  # type: ignore[arg-type]

    # -- running discovery in the app ----------------------------------------------------------

    def _config(self) -> Any:
        """The run config from the settings form; raises ConfigError with a one-line message."""
        from sld.config import RunConfig, TaskSpec, validated
        from sld.errors import ConfigError

        def text(widget_id: str) -> str:
            return self.query_one(f"#{widget_id}", Input).value.strip()

        def integer(widget_id: str, *, optional: bool = False) -> int | None:
            value = text(widget_id)
            if not value and optional:
                return None
            try:
                return int(value)
            except ValueError:
                raise ConfigError(
                    f"{widget_id.replace('_', ' ')} must be a whole number, got {value!r}"
                ) from None

        tasks = self.query_one("#tasks", OptionList)
        option = (
            tasks.get_option_at_index(tasks.highlighted) if tasks.highlighted is not None else None
        )
        if option is None or option.id is None:
            raise ConfigError("pick a task first")
        proposer = str(self.query_one("#proposer", Select).value)
        model = text("model") or None
        # 'local' is the LLM proposer on an in-process model (as 'sld discover --provider local')
        llm = {"provider": "local" if proposer == "local" else "openai", "model": model}
        values: dict[str, Any] = dict(
            task=TaskSpec(source=option.id),
            seed=integer("seed"),
            generations=integer("generations", optional=True),
            time_limit=text("time") or None,  # a Duration: '90s', '10m', '1h'
            proposer="llm" if proposer == "local" else proposer,
            islands=integer("islands"),
            proposals_per_island=integer("per_island"),
            restarts=integer("restarts"),
            bootstrap=integer("bootstrap"),
            llm=llm,
        )
        values.update(self.config_overrides)
        return validated(RunConfig, values)

    def action_start(self) -> None:
        """Start a discovery run with the settings on the Setup tab."""
        if self.attach_dir is not None:
            self.notify("attached read-only: start runs with 'sld tui TASK'", severity="warning")
            return
        if self.state not in STARTABLE:
            return
        try:
            config = self._config()
        except SldError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.state = "starting"
        self.progress = None
        self._pause_requested = False
        self.action_show_tab("laws")
        self.run_discovery(config, self.out)

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def run_discovery(self, config: Any, out: Path) -> None:
        """Open a run like ``sld discover`` does, evolve to the budget, then score held-out rows."""
        try:
            run = Run.create(config, out=out, listener=lambda e: self.post_message(RunUpdate(e)))
        except Exception as exc:  # a bad task or folder must not take the app down
            self.post_message(RunFailed(_describe(exc)))
            return
        self._run = run
        searched = False
        try:
            # flag first, run second: action_toggle_pause sets the flag before it reads the run
            if self._pause_requested:
                run.pause()
            reader = ViewPoller(RunReader.open(run.run_dir))
            self.post_message(RunOpened(run.run_dir, reader, run.task, attached=False))
            run.search()
            searched = True
            if not self._quitting:
                self.post_message(Reported(run.finalize()))
        except Exception as exc:  # the engine failing must not take the app down
            self.post_message(RunFailed(_describe(exc), scoring=searched))
        finally:
            self._run = None
            run.close()

    def on_run_update(self, message: RunUpdate) -> None:
        """Mirror the run's state, show its progress and notices, and read the store now."""
        event = message.event
        if event.kind == "notice":
            self.notify(event.message, severity="warning", timeout=8)
            return
        if event.kind == "progress":
            self.progress = event.progress
        else:
            # a run not yet searching is still starting, as far as the controls go
            self.state = "starting" if event.state == "idle" else event.state
            if event.state == "stopped" and not self._quitting:
                self.notify(
                    f"search ended ({event.progress.stopped_by}); "
                    "scoring held-out rows of the chosen law"
                )
        self._show_status()
        self.poll_store()

    def on_run_failed(self, message: RunFailed) -> None:
        """Say why the run ended."""
        self.state = "failed"
        what = "held-out scoring" if message.scoring else "run"
        self.notify(f"{what} failed: {message.error}", severity="error", timeout=10)
        self.poll_store()

    def on_reported(self, message: Reported) -> None:
        """Held-out scores are in the store; show them."""
        held = message.report.get("heldout") or {}
        chosen, human = held.get("chosen") or {}, held.get("human") or {}
        self.notify(
            f"held-out R² (after selection): chosen {number(chosen.get('test_r2'))}, "
            f"human {number(human.get('test_r2'))}",
            timeout=10,
        )
        self.poll_store()

    def action_toggle_pause(self) -> None:
        """Pause fitting before the next law (also right at the start), or resume it."""
        if self.state not in PAUSABLE:
            return
        # flag first, run second: the worker reads the flag after publishing the run
        self._pause_requested = self.state != "paused"
        run = self._run
        if run is not None and self._pause_requested:
            run.pause()
        elif run is not None:
            run.resume()
        self.state = "paused" if self._pause_requested else "running" if run else "starting"

    def action_stop(self) -> None:
        """End the run after the current fit; held-out scoring follows."""
        if self._run is not None and self.state in PAUSABLE:
            self._run.stop()
            self.state = "stopping"

    def on_unmount(self) -> None:
        """However the app ends, let a running search finish its current fit and stop."""
        self._quitting = True
        if self._run is not None:
            self._run.stop()

    async def action_quit(self) -> None:
        """Stop any run and leave."""
        self._quitting = True
        if self._run is not None:
            self._run.stop()
        self.exit(0)

    # -- the selected law -----------------------------------------------------------------------

    def _heldout_report(self, candidate_id: int) -> tuple[dict[str, Any] | None, str]:
        """A held-out report for the law and where it came from; None before any held-out scoring."""
        view = self.view
        stored = view.heldout_for(candidate_id) if view is not None else None
        if stored is not None:
            return dict(stored.report), f"reporting path after selection ({stored.kind})"
        if candidate_id in self._session_heldout:
            return self._session_heldout[
                candidate_id
            ], "requested in this session (h); not used by selection"
        return None, ""

    def _update_extrapolation(self) -> None:
        view, cid = self.view, self.selected_id
        if view is None or cid is None or self.run_task is None:
            return
        row = view.row(cid)
        if row is None:
            return
        fit = view.fits.get(cid)
        heldout, _ = self._heldout_report(cid)
        key = (cid, fit is not None and fit.ok, heldout is not None)
        if key == self._extrapolation_key:
            return
        self._extrapolation_key = key
        caption = f"#{cid}  {row.text}"
        for plot in self.query(ExtrapolationPlot):
            plot.caption = caption
        if fit is None or not fit.ok:
            for plot in self.query(ExtrapolationPlot):
                plot.points, plot.note = (
                    (),
                    "not fitted yet" if fit is None else (fit.report.get("reason") or "fit failed"),
                )
            return
        self.compute_extrapolation(
            cid, row.text, fit.fit.get("parameters") or {}, (heldout or {}).get("parameters")
        )

    @work(thread=True, exclusive=True, group="extrapolation", exit_on_error=False)
    def compute_extrapolation(
        self,
        candidate_id: int,
        text: str,
        search: Mapping[str, Any],
        heldout: Mapping[str, Any] | None,
    ) -> None:
        """Predict every split's rows for one law off the UI thread."""
        from sld.tui.extrapolation import extrapolation_points

        from sld.scoring import parse_for_task

        try:
            law = parse_for_task(text, self.run_task)
            points = extrapolation_points(
                law, self.run_task, search_parameters=search, heldout_parameters=heldout
            )
        except Exception as exc:
            self.post_message(ExtrapolationReady(candidate_id, (), f"cannot draw this law: {exc}"))
            return
        note = (
            f"◆ {HELDOUT_LABEL}: refit on all training rows, scored after selection"
            if heldout
            else "held-out points appear after the run's held-out scoring, or press h"
        )
        self.post_message(ExtrapolationReady(candidate_id, tuple(points), note))

    def on_extrapolation_ready(self, message: ExtrapolationReady) -> None:
        """Draw the points if the law is still the selected one."""
        if message.candidate_id != self.selected_id:
            return
        for plot in self.query(ExtrapolationPlot):
            plot.points, plot.note = message.points, message.note

    def _detail(self, candidate_id: int) -> LawDetail | None:
        from sld.scoring import parse_for_task

        view = self.view
        row = view.row(candidate_id) if view is not None else None
        if row is None:
            return None
        law = None
        if self.run_task is not None:
            try:
                law = parse_for_task(row.text, self.run_task)
            except SldError:
                law = None
        fit = view.fits.get(candidate_id) if view is not None else None
        heldout, source = self._heldout_report(candidate_id)
        lineage: list[tuple[int, int, str, str]] = []
        if self._reader is not None:
            try:
                lineage = self._reader.lineage(candidate_id)
            except SldError as exc:
                self.notify(f"lineage: {exc}", severity="error")
        aliases = {
            name: alias for alias, name in (self.run_task.aliases.items() if self.run_task else ())
        }
        return LawDetail(
            row=row,
            law=law,
            aliases=aliases,
            search_parameters=(fit.fit.get("parameters") or {}) if fit else {},
            validation=fit.report if fit else None,
            heldout=heldout,
            heldout_source=source,
            lineage=lineage,
        )

    def action_detail(self) -> None:
        """Open the selected law's detail screen."""
        if self.selected_id is None:
            self.notify("no law selected", severity="warning")
            return
        detail = self._detail(self.selected_id)
        if detail is not None:
            self.push_screen(LawDetailScreen(detail))

    def action_heldout(self) -> None:
        """Score the selected law on held-out rows (reporting path; shown only, never used by selection)."""
        cid = self.selected_id
        view = self.view
        if cid is None or view is None or self.run_task is None:
            self.notify("select a law first", severity="warning")
            return
        if self._heldout_report(cid)[0] is not None:
            self.notify(f"#{cid} already has a held-out score")
            return
        if cid in self._heldout_pending:
            return
        row = view.row(cid)
        if row is None or row.status != "fitted":
            self.notify("only fitted laws can be scored on held-out rows", severity="warning")
            return
        self._heldout_pending.add(cid)
        self.notify(f"scoring #{cid} on held-out rows (not used by selection)…")
        config = view.config
        self.score_heldout(
            cid, row.text, int(config.get("seed", 0)), int(config.get("final_restarts", 32))
        )

    @work(thread=True, group="heldout", exit_on_error=False)
    def score_heldout(self, candidate_id: int, text: str, seed: int, restarts: int) -> None:
        """Fit on all training rows and score on held-out rows, off the UI thread."""
        from sld.scoring import heldout_score, parse_for_task

        try:
            law = parse_for_task(text, self.run_task)
            report = heldout_score(law, self.run_task, seed=seed, restarts=restarts)
            self.post_message(HeldoutReady(candidate_id, report.model_dump(mode="json")))
        except Exception as exc:
            self.post_message(HeldoutReady(candidate_id, None, error=str(exc)))

    def on_heldout_ready(self, message: HeldoutReady) -> None:
        """Keep the session's held-out score and redraw the panes that show it."""
        self._heldout_pending.discard(message.candidate_id)
        if message.error or message.report is None:
            self.notify(
                f"held-out scoring of #{message.candidate_id} failed: {message.error}",
                severity="error",
            )
            return
        self._session_heldout[message.candidate_id] = message.report
        r2 = (message.report.get("metrics") or {}).get("r2")
        self.notify(
            f"#{message.candidate_id}: held-out R² {number(r2)} (shown only; not used by selection)"
        )
        if self._reader is not None:
            self._reader.invalidate()
        self._extrapolation_key = ()
        self._update_extrapolation()
        self.poll_store()
        screen = self.screen
        if isinstance(screen, LawDetailScreen) and screen.detail.row.id == message.candidate_id:
            detail = self._detail(message.candidate_id)
            if detail is not None:
                screen.show(detail)

    def action_copy_law(self) -> None:
        """Copy the selected law to the clipboard."""
        row = self.view.row(self.selected_id) if self.view is not None else None
        if row is None:
            self.notify("no law selected", severity="warning")
            return
        self.copy_to_clipboard(row.text)
        self.notify(f"copied #{row.id}: {row.text}")

    def action_export_best(self) -> None:
        """Write best_law.tex, best_law.py and best_law.json for the chosen law next to the run."""
        from sld.tui.export import export_law

        from sld.scoring import parse_for_task

        view = self.view
        if view is None or view.chosen_id is None or self.run_dir is None or self.run_task is None:
            self.notify("nothing to export yet: no law has been scored", severity="warning")
            return
        fit = view.fits.get(view.chosen_id)
        row = view.row(view.chosen_id)
        if fit is None or row is None:
            self.notify("the chosen law has no fit yet", severity="warning")
            return
        heldout, _ = self._heldout_report(view.chosen_id)
        try:
            paths = export_law(
                self.run_dir,
                law=parse_for_task(row.text, self.run_task),
                candidate_id=row.id,
                task=view.task,
                validation=fit.report,
                parameters=fit.fit.get("parameters") or {},
                heldout=heldout,
            )
        except (OSError, SldError) as exc:
            self.notify(f"export failed: {exc}", severity="error", timeout=8)
            return
        self.notify(f"exported #{row.id} to {', '.join(p.name for p in paths)} in {self.run_dir}")

    # -- navigation -----------------------------------------------------------------------------

    def action_help(self) -> None:
        """Show every key binding."""
        self.push_screen(
            HelpScreen([("main view", self.BINDINGS), ("law detail", LawDetailScreen.BINDINGS)])
        )

    def action_focus_filter(self) -> None:
        """Jump to the filter box on the Laws tab."""
        self.query_one(TabbedContent).active = "laws"
        self.query_one("#filter", Input).focus()

    def action_cycle_sort(self) -> None:
        """Sort by the next column."""
        keys = [key for key, _ in COLUMNS]
        self.sort_column = keys[(keys.index(self.sort_column) + 1) % len(keys)]

    def action_reverse_sort(self) -> None:
        """Reverse the sort order."""
        self.sort_reverse = not self.sort_reverse

    def action_show_tab(self, tab: str) -> None:
        """Switch to a tab and focus its first focusable widget."""
        self.query_one(TabbedContent).active = tab
        self._focus_in(tab)

    def _focus_in(self, tab: str) -> None:
        # focus must move into the shown pane, or Textual's focus-follows-pane switches back
        pane = self.query_one(f"TabPane#{tab}")
        preferred = {"laws": "#table", "setup": "#tasks"}
        target = pane.query(preferred[tab]) if tab in preferred else pane.query("*")
        focusable = [w for w in target if w.focusable] or [
            w for w in pane.query("*") if w.focusable
        ]
        if focusable:
            focusable[0].focus()
        else:
            self.query_one(ContentTabs).focus()


def run_app(
    task: str | None = None,
    *,
    attach: str | Path | None = None,
    out: str | Path = "runs",
    seed: int = 0,
) -> int:
    """Run the app in the terminal; returns the exit code."""
    if task is not None and attach is not None:
        raise SldError("give either a TASK or --attach RUN_DIR, not both")
    if attach is not None and not RunStore.exists(attach):
        raise SldError(
            f"no run store in {attach}; pass a directory made by 'sld discover' to --attach"
        )
    result = SldApp(task, attach=attach, out=out, seed=seed).run()
    return int(result or 0)


def _describe(exc: Exception) -> str:
    """One line for a notification: an SldError's own message, else the exception's type too."""
    return str(exc) if isinstance(exc, SldError) else f"{type(exc).__name__}: {exc}"
