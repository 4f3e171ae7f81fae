"""The run object (:class:`Run`) and what it tells its listener (:class:`RunEvent`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd

from sld.config import Budgets, RunConfig
from sld.corpus import Task
from sld.errors import StoreError
from sld.evolve.engine import Engine, Progress
from sld.evolve.pick import PickSettings
from sld.evolve.start import start_laws_for
from sld.llm import ChatTransport
from sld.report import build_report, finalize, read_run
from sld.run._setup import new_run_dir, proposer_for, transport_of, versions, writable
from sld.scoring import protocol_change, selection_protocol
from sld.store import RunStore

RunState = Literal[
    "idle", "running", "paused", "stopping", "stopped", "scoring", "finished", "failed"
]
"""Where a run stands (``paused`` also before the search, ``stopped``: no held-out scores yet)::

    idle ──search()──► running ◄──resume()── paused      (pause() from idle or running)
      └──stop()──► stopping ◄──stop()──┘  (the current fit finishes)
    budget spent, or stopping ──► stopped ──finalize()──► scoring ──► finished
    any step that raises ──► failed
"""
RUN_STATES: tuple[RunState, ...] = get_args(RunState)

EventKind = Literal["state", "progress", "notice", "step"]

PROTOCOL = "protocol"  # state key: the selection protocol the run's scores were made under


@dataclasses.dataclass(frozen=True)
class RunEvent:
    """What a run tells its listener.

    ``state``: the run moved to ``state``; ``progress``: another chunk of laws was
    fitted (``progress`` holds the counters); ``notice``: a one-line note for the
    user in ``message`` (e.g. the offline fallback); ``step``: scoring began another
    part of the work after the search (the final pick, held-out scores, the report
    files), described in ``message``, each ending where the next one or the
    ``finished`` state begins. ``state`` and ``progress`` are
    always the run's current ones. Listeners are called from the thread that caused
    the event (the fitting thread for progress) and must not block.
    """

    kind: EventKind
    state: RunState
    progress: Progress
    message: str = ""


Listener = Callable[[RunEvent], None]


class Run:
    """One discovery run: open it with :meth:`create` or :meth:`open`, never directly.

    The constructor takes ownership of ``store`` (closed if building the proposer fails).

    Control (:meth:`pause`, :meth:`resume`, :meth:`stop`) is thread-safe and may be
    called from any thread at any time, also before :meth:`search` starts. The run
    owns its store's writer connection until :meth:`close`.
    """

    def __init__(
        self,
        *,
        run_dir: Path,
        store: RunStore,
        config: RunConfig,
        task: Task,
        transport: ChatTransport | None,
        listener: Listener | None,
    ) -> None:
        self.run_dir = run_dir
        self.config = config
        self.task = task
        self.report: dict[str, Any] | None = None
        self._store = store
        self._listener = listener
        self._lock = threading.Lock()
        self._state: RunState = "idle"
        self._pause_asked = False
        self._stop_asked = False
        self._progress = Progress()
        self._engine: Engine | None = None
        try:
            self._proposer = proposer_for(
                config, transport, task=task, store=store, notice=self._notice
            )
        except BaseException:
            store.close()
            raise

    # -- opening ---------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        config: RunConfig,
        *,
        out: str | Path = "runs",
        run_dir: str | Path | None = None,
        listener: Listener | None = None,
    ) -> Run:
        """A new run: in ``run_dir`` exactly when given, else in a fresh folder under ``out``.

        Validates everything (task, start laws, output folder, proposer) before it writes; a data file's
        path is recorded absolute, so ``--resume`` works from any folder.
        Raises StoreError when ``run_dir`` already holds a store.
        """
        task = config.task.load()
        starts = start_laws_for(config.start_laws, task, max_params=config.max_params)
        config = config.model_copy(update={"task": config.task.anchored(), "start_laws": starts})
        if run_dir is None:
            parent = Path(out)
            writable(parent)
            directory = new_run_dir(parent, task.name, config.seed)
        else:
            directory = Path(run_dir)
            writable(directory.parent)
        transport = transport_of(config)
        store = RunStore.create(
            directory,
            task=task.name,
            seed=config.seed,
            config=config.model_dump(mode="json"),
            versions=versions(),
        )
        store.set_state(PROTOCOL, selection_protocol(task))
        return cls(
            run_dir=directory,
            store=store,
            config=config,
            task=task,
            transport=transport,
            listener=listener,
        )

    @classmethod
    def open(
        cls,
        run_dir: str | Path,
        *,
        budgets: Budgets | None = None,
        listener: Listener | None = None,
    ) -> Run:
        """Resume the run in ``run_dir`` (killed or finished), with ``budgets`` extended.

        Nothing fitted is lost or repeated (see :mod:`sld.evolve.engine`).
        """
        directory = Path(run_dir)
        if not RunStore.exists(directory):
            raise StoreError(
                f"no run store in {directory}; pass a directory made by 'sld discover' to --resume"
            )
        store = RunStore.open(directory)
        try:
            config = RunConfig.model_validate(store.config())
            if budgets is not None:
                config = config.extended(budgets)
            task = config.task.load()
            _same_protocol(store, task, directory=directory)
            transport = transport_of(config)
        except BaseException:
            store.close()
            raise
        return cls(
            run_dir=directory,
            store=store,
            config=config,
            task=task,
            transport=transport,
            listener=listener,
        )

    # -- what it reports -------------------------------------------------------------

    @property
    def state(self) -> RunState:
        """Where the run stands now."""
        return self._state

    @property
    def progress(self) -> Progress:
        """A copy of the search's counters (generation, fitted, best validation R², ...)."""
        return dataclasses.replace(self._progress)

    def to_frame(self) -> pd.DataFrame:
        """The population as it stands, one row per member (see :meth:`RunRecord.to_frame`);
        only while the run is open."""
        return read_run(self._store).to_frame()

    @property
    def stopped_by(self) -> str:
        """Why the search ended ('' while it has not)."""
        return self._progress.stopped_by

    def _emit(self, kind: EventKind, message: str = "") -> None:
        if self._listener is not None:
            self._listener(RunEvent(kind, self._state, self.progress, message))

    def _notice(self, message: str) -> None:
        self._emit("notice", message)

    def _move(self, state: RunState) -> None:
        with self._lock:
            self._state = state
        self._emit("state")

    def _on_progress(self, progress: Progress) -> None:
        self._progress = progress
        self._emit("progress")

    # -- control ---------------------------------------------------------------------

    def pause(self) -> None:
        """Hold fitting before the next law (also before the search starts)."""
        with self._lock:
            if self._state not in ("idle", "running"):
                return
            self._pause_asked = True
            if self._engine is not None:
                self._engine.pause()
            self._state = "paused"
        self._emit("state")

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        with self._lock:
            if self._state != "paused":
                return
            self._pause_asked = False
            if self._engine is not None:
                self._engine.resume()
            self._state = "running" if self._engine is not None else "idle"
        self._emit("state")

    def stop(self) -> None:
        """End the search after the current fit (before it starts: at once); no-op once ended."""
        with self._lock:
            if self._state not in ("idle", "running", "paused"):
                return
            self._stop_asked = True
            if self._engine is not None:
                self._engine.stop()
            self._state = "stopping"
        self._emit("state")

    # -- driving ---------------------------------------------------------------------

    def search(self, *, handle_signals: bool = False) -> Progress:
        """Evolve until a budget is spent or :meth:`stop`; blocks; returns the final counters.

        ``handle_signals`` (main thread only): SIGINT and SIGTERM stop the search
        cleanly instead of killing the process.
        """
        with self._lock:
            if self._engine is not None or self._state not in ("idle", "paused", "stopping"):
                raise RuntimeError(f"search() on a run that is {self._state}")
            engine = Engine(
                task=self.task,
                config=self.config,
                store=self._store,
                proposer=self._proposer,
                on_progress=self._on_progress,
            )
            self._progress = engine.progress
            if self._pause_asked:
                engine.pause()
            if self._stop_asked:
                engine.stop()
            self._engine = engine
            started = self._state == "idle"
            if started:
                self._state = "running"
        if started:
            self._emit("state")
        try:
            progress = asyncio.run(_drive(engine, handle_signals=handle_signals))
        except BaseException:
            self._move("failed")
            raise
        self._move("stopped")
        return progress

    def finalize(self) -> dict[str, Any]:
        """Score the chosen and the human law on held-out rows and write the report files.

        Only after the search (``stopped``), or on a run opened for it (``idle``).
        """
        with self._lock:
            if self._state not in ("idle", "stopped"):
                raise RuntimeError(f"finalize() on a run that is {self._state}")
            self._state = "scoring"
        self._emit("state")
        try:
            report = finalize(
                self._store,
                self.task,
                seed=self.config.seed,
                restarts=self.config.final_restarts,
                bootstrap=self.config.bootstrap,
                pick=PickSettings.from_config(self.config),
                on_step=lambda text: self._emit("step", text),
            )
        except BaseException:
            self._move("failed")
            raise
        self.report = report
        self._move("finished")
        return report

    def execute(self, *, report: bool = True, handle_signals: bool = False) -> dict[str, Any]:
        """:meth:`search`, then :meth:`finalize` (or, with ``report=False``, the report
        without held-out scores and files), then :meth:`close`. Returns the report."""
        try:
            self.search(handle_signals=handle_signals)
            if report:
                return self.finalize()
            return build_report(read_run(self._store), self.task)
        finally:
            self.close()

    def close(self) -> None:
        """Release the store (and its writer lock); safe to call twice."""
        self._store.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _drive(engine: Engine, *, handle_signals: bool) -> Progress:
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, engine.stop)
    return await engine.run()


def _same_protocol(store: RunStore, task: Task, *, directory: Path) -> None:
    """Refuse to resume a run whose stored scores were made under another selection protocol
    (:func:`sld.scoring.selection_protocol`): its old and new scores would rank side by side
    as one measurement. A store from before the protocol was recorded is not checked."""
    stored = store.get_state(PROTOCOL)
    if stored is None:
        return
    change = protocol_change(stored, selection_protocol(task))
    if change is not None:
        raise StoreError(
            f"cannot resume {directory}: {change} changed since its scores were made, so old "
            "and new scores would not compare; it can still be read (sld report, sld tui "
            "--attach); rerun it with --out <new dir>"
        )
