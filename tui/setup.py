"""The Setup tab: the task list and its card, the run settings form and the run controls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select
from textual.widgets.option_list import Option

from sld.config import RunConfig, TaskSpec, validated
from sld.errors import ConfigError, SldError
from sld.tui.widgets import TaskCard

PROPOSERS = ("offline", "llm", "mixed", "local")
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
    "start": "",
    "rehearse": False,
}
START_SEPARATOR = "|"  # between start laws in the form: no law can contain it
REHEARSAL_TIP = (
    "search the task's rehearsal: its validation slice is held out as the test rows and the "
    "real test rows are never loaded (as 'sld discover --rehearse')"
)


class SetupPane(Horizontal):
    """Pick a task (its card shows beside the list), adjust the settings, start and control a run.

    ``settings`` fill the form (keys of :data:`DEFAULT_SETTINGS`); ``task`` is
    highlighted first (a data file's path is added to the curated names; a TaskSpec brings
    the file's options: inputs, outputs, test rule...). The *rehearse* box runs any task
    as its rehearsal (:attr:`sld.config.TaskSpec.rehearse`), and the card shows that task.
    """

    def __init__(
        self, *, task: str | TaskSpec | None, settings: Mapping[str, Any], id: str
    ) -> None:
        super().__init__(id=id)
        self.task_spec = task if isinstance(task, TaskSpec) else None
        self.task_source = task.source if isinstance(task, TaskSpec) else task
        self.settings = dict(settings)

    def spec_of(self, source: str) -> TaskSpec:
        """The task spec a run on ``source`` uses: the given one (with its data options) for
        the task the session opened on, the bare name or path for any other; a rehearsal
        when the form's box is ticked."""
        if self.task_spec is not None and source == self.task_spec.source:
            spec = self.task_spec
        else:
            spec = TaskSpec(source=source)
        boxes = self.query("#rehearse").results(Checkbox)
        return spec.model_copy(update={"rehearse": any(box.value for box in boxes)})

    def compose(self) -> ComposeResult:
        """The task column and the settings column with the run controls."""
        with Vertical(id="task-column"):
            yield OptionList(id="tasks")
            yield TaskCard(id="card")
        with Vertical(id="settings"):
            yield from self._form()
            with Horizontal(id="controls"):
                yield Button("Start", id="start", variant="success", compact=True)
                yield Button("Pause", id="pause", compact=True)
                yield Button("Resume", id="resume", compact=True)
                yield Button("Stop", id="stop", variant="error", compact=True)

    def _form(self) -> ComposeResult:
        s = self.settings

        def number(key: str, **options: Any) -> Input:
            return Input(str(s[key]), id=key, type="integer", compact=True, **options)

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
            ("generations", number("generations", placeholder="no limit")),
            ("seed", number("seed")),
            ("islands", number("islands")),
            ("per island", number("per_island")),
            ("restarts", number("restarts")),
            ("bootstrap", number("bootstrap")),
            (
                "rehearse",
                Checkbox(
                    "validation as test",
                    value=bool(s["rehearse"])
                    or (self.task_spec is not None and self.task_spec.rehearse),
                    id="rehearse",
                    compact=True,
                    tooltip=REHEARSAL_TIP,
                ),
            ),
            (
                "start laws",
                Input(
                    str(s["start"]),
                    placeholder="optional: your law(s), | between",
                    id="start_laws",
                    compact=True,
                ),
            ),
        ]
        for label, widget in rows:
            with Horizontal(classes="field"):
                yield Label(label, classes="field-label")
                yield widget

    def on_mount(self) -> None:
        """Title the boxes and fill the task list."""
        self.query_one("#settings").border_title = "run settings"
        self.query_one("#tasks").border_title = "task"
        from sld.corpus import list_tasks

        tasks = self.query_one("#tasks", OptionList)
        names = list_tasks()
        extra = [self.task_source] if self.task_source and self.task_source not in names else []
        tasks.add_options([Option(name, id=name) for name in (*extra, *names)])
        wanted = self.task_source or names[0]
        tasks.highlighted = [*extra, *names].index(wanted)
        self.show_card(wanted)

    def show_card(self, source: str) -> None:
        """Show the card of task ``source`` (or why it cannot be loaded)."""
        card = self.query_one("#card", TaskCard)
        try:
            card.show_task(self.spec_of(source).load())
        except SldError as exc:
            card.show_task(None, error=str(exc))

    @on(Checkbox.Changed, "#rehearse")
    def on_rehearse_changed(self) -> None:
        """Show the card of the task the run would search: its rehearsal or the task."""
        tasks = self.query_one("#tasks", OptionList)
        if tasks.highlighted is not None:
            option = tasks.get_option_at_index(tasks.highlighted)
            if option.id is not None:
                self.show_card(option.id)

    @on(OptionList.OptionHighlighted, "#tasks")
    def on_task_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Show the card of the highlighted task."""
        if event.option.id is not None:
            self.show_card(event.option.id)

    def enable(self, *, can_start: bool, buttons: Mapping[str, bool]) -> None:
        """The form and task list take input only when a run can start; ``buttons`` by id."""
        for button_id, on_ in buttons.items():
            self.query_one(f"#{button_id}", Button).disabled = not on_
        for widget in self.query("#settings Input, #settings Select, #settings Checkbox, #tasks"):
            widget.disabled = not can_start

    def run_config(self, overrides: Mapping[str, Any]) -> RunConfig:
        """The run config the form describes, then ``overrides``; one-line ConfigError if bad."""

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
        # 'local' is the LLM proposer on an in-process model (as 'sld discover --provider local')
        llm = {
            "provider": "local" if proposer == "local" else "openai",
            "model": text("model") or None,
        }
        values: dict[str, Any] = dict(
            task=self.spec_of(option.id),
            seed=integer("seed"),
            generations=integer("generations", optional=True),
            time_limit=text("time") or None,  # a Duration: '90s', '10m', '1h'
            proposer="llm" if proposer == "local" else proposer,
            islands=integer("islands"),
            proposals_per_island=integer("per_island"),
            restarts=integer("restarts"),
            bootstrap=integer("bootstrap"),
            start_laws=[
                law.strip() for law in text("start_laws").split(START_SEPARATOR) if law.strip()
            ],
            llm=llm,
        )
        values.update(overrides)
        return validated(RunConfig, values)

    def show_config(self, task_name: str, config: Mapping[str, Any]) -> None:
        """Fill the (disabled) form with an attached run's task and settings."""
        tasks = self.query_one("#tasks", OptionList)
        source = str((config.get("task") or {}).get("source", task_name))
        known = [tasks.get_option_at_index(i).id or "" for i in range(tasks.option_count)]
        if source not in known:
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
            "start_laws": f" {START_SEPARATOR} ".join(config.get("start_laws") or []),
        }
        for widget_id, value in values.items():
            self.query_one(f"#{widget_id}", Input).value = str(value)
        self.query_one("#rehearse", Checkbox).value = bool(
            (config.get("task") or {}).get("rehearse")
        )
        proposer = "local" if llm.get("provider") == "local" else config.get("proposer", "offline")
        self.query_one("#proposer", Select).value = proposer if proposer in PROPOSERS else "offline"
