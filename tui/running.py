"""Driving the run object from the app: start, pause, resume, stop, and what the run reports.

The app runs :class:`sld.run.Run` (the same object ``sld discover`` drives) in a
thread worker; the run's events arrive as :class:`~sld.tui.messages.RunUpdate`
messages, and the app's state mirrors the run's (:data:`AppState`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from textual import work

from sld.errors import SldError
from sld.run import Run, RunState
from sld.store import RunReader
from sld.tui.messages import Reported, RunFailed, RunOpened, RunUpdate
from sld.tui.setup import SetupPane
from sld.tui.view import ViewPoller, number

AppState = Literal[RunState, "starting", "watching"]
"""The app's state: its own run's :data:`~sld.run.RunState`, ``starting`` until that run
searches, ``watching`` while attached read-only to a run another process writes."""
APP_STATES: tuple[AppState, ...] = get_args(AppState)
STARTABLE: tuple[AppState, ...] = ("idle", "finished", "failed")
PAUSABLE: tuple[AppState, ...] = ("starting", "running", "paused")


class RunControl:
    """The :class:`~sld.tui.app.SldApp` actions and handlers that drive its run (a mixin).

    Reads and sets the app's ``state`` and ``progress``; ``_run`` is the run while a
    worker drives it, ``_pause_requested`` a pause asked before the run existed,
    ``_quitting`` set once the app is leaving (no held-out scoring then).
    """

    def action_start(self) -> None:
        """Start a discovery run with the settings on the Setup tab."""
        if self.attach_dir is not None:
            self.notify("attached read-only: start runs with 'sld tui TASK'", severity="warning")
            return
        if self.state not in STARTABLE:
            return
        try:
            config = self.query_one(SetupPane).run_config(self.config_overrides)
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
        if event.kind == "step":  # a part of the scoring after the search began
            self.notify(event.message, timeout=8)
        elif event.kind == "progress":
            self.progress = event.progress
        else:
            # a run not yet searching is still starting, as far as the controls go
            self.state = "starting" if event.state == "idle" else event.state
            if event.state == "stopped" and not self._quitting:
                self.notify(
                    f"search ended ({event.progress.stopped_by}); "
                    "the final pick and held-out scoring follow"
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


def _describe(exc: Exception) -> str:
    """One line for a notification: an SldError's own message, else the exception's type too."""
    return str(exc) if isinstance(exc, SldError) else f"{type(exc).__name__}: {exc}"
