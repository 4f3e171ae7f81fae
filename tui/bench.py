"""The bench screen: a bench directory's per-task table and its runs; enter attaches to one.

Everything shown is :func:`sld.bench.read_bench` — the same read-only pass over
the run stores that writes ``bench.md`` — polled in a thread worker, so a bench
that is still running fills in as its runs progress. Choosing a run dismisses
the screen with its directory; the app then watches it read-only, as
``sld tui --attach RUN_DIR`` does.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from sld.bench import BenchTable, RunRow, r2_text, read_bench, spread_text
from sld.errors import SldError

TASK_COLUMNS = (
    ("task", "task"),
    ("done", "seeds done"),
    ("human", "human test R²"),
    ("chosen", "chosen test R² median [min, max]"),
    ("law", "chosen law (median seed)"),
    ("fitted", "fitted"),
)
RUN_COLUMNS = (
    ("task", "task"),
    ("seed", "seed"),
    ("state", "state"),
    ("generations", "gen"),
    ("fitted", "fitted"),
    ("val", "val R²"),
    ("test", "test R²"),
    ("law", "chosen law (best so far while searching)"),
)


class BenchRead(Message):
    """A read of the bench directory finished (``table`` None when it failed)."""

    def __init__(self, table: BenchTable | None, error: str = "") -> None:
        super().__init__()
        self.table, self.error = table, error


class BenchScreen(Screen[Path | None]):
    """A bench directory: one row per task, one per run; enter on a run attaches to it."""

    BINDINGS = [
        ("a", "attach", "Attach to run"),
        ("escape", "close", "Back"),
        ("q", "app.quit", "Quit"),
    ]

    def __init__(self, root: str | Path, *, poll_seconds: float = 1.0) -> None:
        super().__init__()
        self.root = Path(root)
        self.poll_seconds = poll_seconds
        self.table: BenchTable | None = None
        self._reading = False

    def compose(self) -> ComposeResult:
        """A summary line, the per-task table, the runs table and the footer."""
        yield Static(id="bench-head")
        yield DataTable(id="bench-tasks", cursor_type="none", zebra_stripes=True)
        yield DataTable(id="bench-runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        """Set up the tables and start polling the bench directory."""
        tasks = self.query_one("#bench-tasks", DataTable)
        tasks.border_title = f"{self.root.name}: per task"
        for key, label in TASK_COLUMNS:
            tasks.add_column(Text(label), key=key)  # not markup: [min, max] is text
        runs = self.query_one("#bench-runs", DataTable)
        runs.border_title = "runs: enter watches one"
        for key, label in RUN_COLUMNS:
            runs.add_column(Text(label), key=key)
        self.query_one("#bench-head", Static).update(f"reading {self.root} …")
        runs.focus()
        self.set_interval(self.poll_seconds, self.poll)
        self.poll()

    def poll(self) -> None:
        """Start a read of the bench unless one is running."""
        if not self._reading:
            self._reading = True
            self.read()

    @work(thread=True, group="bench-read", exit_on_error=False)
    def read(self) -> None:
        """Read every run store off the UI thread."""
        try:
            self.post_message(BenchRead(read_bench(self.root)))
        except SldError as exc:
            self.post_message(BenchRead(None, str(exc)))
        except Exception as exc:  # a store half-written by a running bench must not crash it
            self.post_message(BenchRead(None, f"{type(exc).__name__}: {exc}"))

    def on_bench_read(self, message: BenchRead) -> None:
        """Redraw both tables from a fresh read."""
        self._reading = False
        if message.table is None:
            self.query_one("#bench-head", Static).update(
                f"cannot read {self.root}: {message.error}"
            )
            return
        self.table = message.table
        self.show(message.table)

    def show(self, table: BenchTable) -> None:
        """Fill the tables, keeping the runs table's cursor where it was."""
        counts = table.counts()
        config = table.config
        self.query_one("#bench-head", Static).update(
            f"{len(config.names)} tasks × {config.seeds} seeds: {counts['finished']} finished, "
            f"{counts['unfinished']} unfinished, {counts['pending']} not started"
        )
        tasks = self.query_one("#bench-tasks", DataTable)
        tasks.clear()
        for t in table.tasks:
            tasks.add_row(
                t.task,
                f"{t.finished}/{t.seeds}",
                r2_text(t.human_test_r2),
                spread_text(t),
                t.chosen_law or "—",
                str(t.fitted),
                key=t.task,
            )
        runs = self.query_one("#bench-runs", DataTable)
        cursor = runs.cursor_row
        runs.clear()
        for r in table.runs:
            runs.add_row(
                r.task,
                str(r.seed),
                r.state,
                str(r.generations),
                str(r.fitted),
                r2_text(r.validation_r2),
                r2_text(r.test_r2),
                r.chosen_law or "—",
                key=r.run_dir,
            )
        if table.runs:
            runs.move_cursor(row=min(cursor, len(table.runs) - 1))

    def selected_run(self) -> RunRow | None:
        """The run under the cursor of the runs table."""
        if self.table is None or not self.table.runs:
            return None
        row = self.query_one("#bench-runs", DataTable).cursor_row
        return self.table.runs[row] if 0 <= row < len(self.table.runs) else None

    @on(DataTable.RowSelected, "#bench-runs")
    def on_run_selected(self) -> None:
        """Enter (or a click on the highlighted run) attaches to it."""
        self.action_attach()

    def action_attach(self) -> None:
        """Watch the highlighted run (read-only)."""
        run = self.selected_run()
        if run is None:
            return
        if run.state == "pending":
            self.notify(f"{run.task} seed {run.seed} has not started yet", severity="warning")
            return
        self.dismiss(self.root / run.run_dir)

    def action_close(self) -> None:
        """Back to the run being watched (if any)."""
        self.dismiss(None)
