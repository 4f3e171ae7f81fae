"""The run object: one discovery run, opened, driven and finalized in one place.

``sld discover``, the TUI and ``sld bench`` all drive :class:`Run`, so they
cannot behave differently. A run directory holds ``run.sqlite`` (the store),
``report.json``, ``report.md`` and ``extrapolation.png``.

Everything a user can get wrong (unknown task, bad CSV, unwritable folder,
missing model, corrupted store) raises a one-line SldError from :meth:`Run.create`
or :meth:`Run.open`, before the search starts.

Proposers: ``offline``; ``llm`` and ``mixed`` ask the configured endpoint. The
one policy when no endpoint is configured (no ``--base-url``, ``OPENAI_BASE_URL``
or ``OPENAI_API_KEY``): the offline proposer, with a notice. A proposer that is
configured but cannot be built (the local model is not installed, the replay
source is missing) is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import platform
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd

from sld.config import Budgets, RunConfig
from sld.corpus import Task
from sld.errors import ConfigError, StoreError
from sld.evolve.engine import Engine, Progress
from sld.evolve.offline import OfflineProposer
from sld.evolve.pick import PickSettings
from sld.llm import ChatTransport, LlmProposer, MixedProposer, transport_for
from sld.proposer import Proposer
from sld.report import build_report, finalize, read_run
from sld.store import RunReader, RunStore

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


def versions() -> dict[str, str]:
    """Versions of everything that can change a run's numbers."""
    import jax
    import numpy
    import sympy

    from sld._version import __version__

    return {
        "sld": __version__,
        "python": sys.version.split()[0],
        "jax": jax.__version__,
        "numpy": numpy.__version__,
        "sympy": sympy.__version__,
        "platform": platform.platform(),
        "jax_backend": jax.default_backend(),
    }


def new_run_dir(out: Path, task_name: str, seed: int) -> Path:
    """A fresh directory under ``out`` named for the task, seed and start time."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(task_name).stem
    candidate = out / f"{base}-s{seed}-{stamp}"
    n = 1
    while candidate.exists():
        n += 1
        candidate = out / f"{base}-s{seed}-{stamp}-{n}"
    return candidate


def replay_config(run_dir: str | Path, budgets: Budgets | None = None) -> RunConfig:
    """The config of the run in ``run_dir``, set to replay its recorded LLM replies (``--replay``)."""
    if not RunReader.exists(run_dir):
        raise ConfigError(
            f"no run store in {run_dir}; pass a directory made by 'sld discover' to --replay"
        )
    with RunReader.open(run_dir) as reader:
        config = RunConfig.model_validate(reader.config())
    config = config.model_copy(update={"replay_from": str(Path(run_dir))})
    return config.extended(budgets) if budgets is not None else config


def make_proposer(
    config: RunConfig, *, task: Task, store: RunStore | None, notice: Callable[[str], None]
) -> Proposer:
    """The proposer ``config`` asks for (see the module docstring for the no-endpoint policy).

    ``store`` records every LLM exchange; ``notice`` receives the offline-fallback note.
    """
    return _proposer(config, _transport(config), task=task, store=store, notice=notice)


def _transport(config: RunConfig) -> ChatTransport | None:
    """The LLM transport ``config`` needs (None: offline, or no endpoint configured)."""
    if config.proposer == "offline":
        return None
    return transport_for(config.llm, replay_from=config.replay_from)


def _proposer(
    config: RunConfig,
    transport: ChatTransport | None,
    *,
    task: Task,
    store: RunStore | None,
    notice: Callable[[str], None],
) -> Proposer:
    if config.proposer == "offline":
        return OfflineProposer()
    if transport is None:
        notice(
            f"no LLM endpoint is configured: --proposer {config.proposer} falls back to the "
            "offline proposer"
        )
        return OfflineProposer()
    llm = LlmProposer(
        transport,
        config.llm,
        store=store,
        group=str(getattr(task.card, "group", "") or ""),
        max_params=config.max_params,
        notice=notice,
    )
    if config.proposer == "mixed":
        return MixedProposer(llm, OfflineProposer(), ratio=config.llm.mixed_ratio)
    return llm


def writable(directory: Path, *, what: str = "output directory") -> None:
    """ConfigError unless ``directory`` can be created and written (``what`` names it).

    The probe is a uniquely named temporary file, so processes that check one
    directory at once (bench workers sharing ``runs/``) never remove each other's.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory, prefix=".sld-write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"cannot write to {what} {directory}: {exc.strerror or exc}; choose another with --out"
        ) from None


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
            self._proposer = _proposer(
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

        Validates everything (task, output folder, proposer) before it writes; a data file's
        path is recorded absolute, so ``--resume`` works from any folder.
        Raises StoreError when ``run_dir`` already holds a store.
        """
        task = config.task.load()
        config = config.model_copy(update={"task": config.task.anchored()})
        if run_dir is None:
            parent = Path(out)
            writable(parent)
            directory = new_run_dir(parent, task.name, config.seed)
        else:
            directory = Path(run_dir)
            writable(directory.parent)
        transport = _transport(config)
        store = RunStore.create(
            directory,
            task=task.name,
            seed=config.seed,
            config=config.model_dump(mode="json"),
            versions=versions(),
        )
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
            transport = _transport(config)
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
