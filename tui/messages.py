"""Messages the app's worker threads post to it (``post_message`` is thread-safe)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textual.message import Message

from sld.plots import ScalePicture
from sld.run import RunEvent
from sld.tui.view import RunView, ViewPoller


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
    """One law's picture against the scale input is computed (None when it cannot be drawn)."""

    def __init__(self, candidate_id: int, picture: ScalePicture | None, note: str) -> None:
        super().__init__()
        self.candidate_id, self.picture, self.note = candidate_id, picture, note


class HeldoutReady(Message):
    """A held-out score asked for with ``h`` arrived (report is a ScoreReport dump)."""

    def __init__(
        self, candidate_id: int, report: Mapping[str, Any] | None, *, error: str = ""
    ) -> None:
        super().__init__()
        self.candidate_id, self.report, self.error = candidate_id, report, error
