"""Reading the run store into the panes: a read off the UI thread every ``poll_seconds`` (half a
second by default; the same path for the app's own run and for a run another process writes),
and attaching read-only to a run directory.
"""

from __future__ import annotations

import math
from pathlib import Path

from textual import work
from textual.widgets import RichLog

from sld.errors import SldError
from sld.store import RunReader
from sld.tui.messages import Notice, RunOpened, StoreRead
from sld.tui.setup import SetupPane
from sld.tui.view import ViewPoller
from sld.tui.widgets import ExtrapolationPlot


class StoreReading:
    """The :class:`~sld.tui.app.SldApp` handlers that read its run store (a mixin).

    ``_reader`` is the current run's store, ``_reading`` set while a read of it is under way;
    each read sets the app's ``view``.
    """

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
        """Point every pane at the new run store; the task's notes open its events log."""
        if self._reader is not None and self._reader is not message.reader:
            self._reader.store.close()  # a read still under way on it is dropped (on_store_read)
        self._reader, self.run_dir, self.run_task = message.reader, message.run_dir, message.task
        self._reading = False
        self._extrapolation_key = ()
        self._session_heldout.clear()
        self._select_automatically(None)
        self._follow_chosen = True
        events = self.query_one("#events", RichLog).clear()
        for note in getattr(message.task, "notes", ()):  # guesses made loading the task's data
            events.write(f"note: {note}")
            self.notify(note, title="note", timeout=15)
        self.title = f"sld · {message.reader.task}"
        self.sub_title = f"{message.run_dir.name}" + (" (read-only)" if message.attached else "")
        for plot in self.query(ExtrapolationPlot):
            plot.picture = None
        if message.attached:
            self.query_one(SetupPane).show_config(message.reader.task, message.reader.config)
        self.poll_store()

    def on_notice(self, message: Notice) -> None:
        """Show a worker's notice."""
        self.notify(message.text, severity=message.severity, timeout=8)  # type: ignore[arg-type]
