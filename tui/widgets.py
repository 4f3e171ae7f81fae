"""The app's own widgets: the Pareto plot, the extrapolation plot, the task card and the LLM ledger."""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from sld.corpus import Task
from sld.plots import ScalePicture
from sld.tui.extrapolation import (
    HUMAN,
    SPLIT_LABELS,
    SPLIT_MARKERS,
    group_style,
    panel_series,
    panels,
)
from sld.tui.plot import Series, scatter
from sld.tui.view import Ledger, RunView, number


class ParetoPlot(Widget):
    """Complexity vs validation error of every scored law, the Pareto front and the selected law."""

    can_focus = True

    view: reactive[RunView | None] = reactive(None, always_update=True)
    selected_id: reactive[int | None] = reactive(None)

    def render(self) -> RenderableType:
        """Draw the scatter to fit the widget."""
        view = self.view
        width, height = self.content_size.width, self.content_size.height
        if view is None or not any(math.isfinite(r.error) for r in view.rows):
            return Text("no scored laws yet", style="dim")
        scored = [r for r in view.rows if math.isfinite(r.error) and r.complexity is not None]
        front = [r for r in scored if r.on_front]
        # keep the front readable: laws far worse than its worst member are counted, not drawn
        cap = 100 * max((r.error for r in front), default=math.inf)
        off_scale = sum(r.error > cap for r in scored)
        scored = [r for r in scored if r.error <= cap]
        chosen = [r for r in scored if r.chosen]
        selected = [r for r in scored if r.id == self.selected_id]
        series = [
            Series("scored", [(r.complexity, r.error) for r in scored], "·", "grey62"),
            Series("Pareto front", [(r.complexity, r.error) for r in front], "◆", "bold cyan"),
            Series("chosen", [(r.complexity, r.error) for r in chosen], "★", "bold yellow"),
            Series("selected", [(r.complexity, r.error) for r in selected], "◉", "bold magenta"),
        ]
        legend = Text.assemble(
            ("· ", "grey62"),
            "scored  ",
            ("◆ ", "bold cyan"),
            "front  ",
            ("★ ", "bold yellow"),
            "chosen  ",
            ("◉ ", "bold magenta"),
            "selected",
            (f"  ({off_scale} off-scale above)" if off_scale else "", "dim"),
            no_wrap=True,
            overflow="ellipsis",
        )
        plot = scatter(
            series,
            width=width,
            height=max(height - 1, 6),
            log_y=all(r.error > 0 for r in scored),
            x_label="complexity",
            y_label="validation NMSE",
        )
        return Group(plot, legend)


class ExtrapolationPlot(Widget):
    """The selected law against the scale input on a log axis, per group (``g``: next panel)."""

    can_focus = True

    picture: reactive[ScalePicture | None] = reactive(None, always_update=True)
    panel: reactive[int] = reactive(0)
    caption: reactive[str] = reactive("select a law to see its extrapolation")
    note: reactive[str] = reactive("")

    def watch_picture(self, old: ScalePicture | None, new: ScalePicture | None) -> None:
        """A new law keeps the panel only when the panels mean the same thing."""
        if old is None or new is None or panels(old) != panels(new):
            self.panel = 0

    def next_panel(self) -> None:
        """Show the next output or group (all groups first, then one at a time)."""
        if self.picture is not None:
            self.panel = (self.panel + 1) % len(panels(self.picture))

    def render(self) -> RenderableType:
        """Draw points and curves of the current panel."""
        width, height = self.content_size.width, self.content_size.height
        head = Text(self.caption, style="bold", no_wrap=True, overflow="ellipsis")
        foot = Text(self.note, style="italic dim", no_wrap=True, overflow="ellipsis")
        picture = self.picture
        if picture is None:
            return Group(head, foot)
        choices = panels(picture)
        panel = choices[self.panel % len(choices)]
        series = panel_series(picture, panel)
        legend = Text(no_wrap=True, overflow="ellipsis")
        legend.append(f"{panel.title(picture)}", style="bold")
        if len(choices) > 1:
            legend.append(" (g: next)", style="dim")
        legend.append("  ")
        for split in dict.fromkeys(p.split for p in picture.points):
            legend.append(f"{SPLIT_MARKERS[split]} {SPLIT_LABELS[split].split(' (')[0]}  ")
        for law in dict.fromkeys(c.law for c in picture.curves):
            legend.append("╌ " if law == HUMAN else "─ ", style="grey70" if law == HUMAN else "")
            legend.append(f"{law} law  ")
        if len(panel.groups) > 1:
            for group in panel.groups:
                legend.append("■ ", style=group_style(picture.groups, group))
                legend.append(f"{group}  ")
        plot = scatter(
            series,
            width=width,
            height=max(height - 3, 6),
            log_x=picture.log_x,
            x_label=picture.x_label,
            y_label=panel.output,
        )
        return Group(head, plot, legend, foot)


class TaskCard(Static):
    """A task's card in brief: what it measures, its columns, groups, rows and the human law."""

    def show_task(self, task: Task | None, *, error: str = "") -> None:
        """Render ``task`` (or the error that kept it from loading)."""
        if task is None:
            self.update(Text(error or "pick a task", style="red" if error else "dim"))
            return
        card = task.card
        alias = {v.name: v.alias or v.name for v in (*card.inputs, *card.outputs)}
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        inputs = ", ".join(
            f"{alias[v.name]} ({v.unit})" if v.unit else alias[v.name] for v in card.inputs
        )
        outputs = ", ".join(alias[v.name] for v in card.outputs)
        table.add_row("task", task.name)
        table.add_row("title", card.title)
        table.add_row("law", f"{inputs} → {outputs}")
        table.add_row("groups", f"{len(task.groups)}: {', '.join(task.groups[:6])}")
        table.add_row(
            "rows",
            f"train {task.train().n_rows} (validation {task.validation().n_rows}), "
            f"held-out {task.heldout().n_rows}",
        )
        table.add_row("params", f"at most {task.max_params}" if task.max_params else "no limit")
        table.add_row("human law", task.reference_law or "—")
        description = Text(" ".join(card.description.split()), style="dim")
        self.update(Group(table, Text(""), description))


class LedgerView(Static):
    """LLM calls, failures, tokens and dollars, with the latest calls."""

    def show_ledger(self, ledger: Ledger) -> None:
        """Render the ledger totals and the most recent calls."""
        totals = Table.grid(padding=(0, 2))
        totals.add_column(style="bold")
        totals.add_column(justify="right")
        totals.add_row("LLM calls", str(ledger.calls))
        totals.add_row("failures", str(ledger.failures))
        totals.add_row("prompt tokens", f"{ledger.prompt_tokens:,}")
        totals.add_row("completion tokens", f"{ledger.completion_tokens:,}")
        totals.add_row("cost (USD)", f"{ledger.usd:.4f}")
        totals.add_row(
            "mean latency",
            "—" if math.isnan(ledger.mean_latency) else f"{ledger.mean_latency:.2f} s",
        )
        parts: list[RenderableType] = [totals]
        if ledger.by_outcome:
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(ledger.by_outcome.items()))
            parts.append(Text(f"outcomes: {outcomes}", style="dim"))
        if ledger.recent:
            recent = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
            for column in ("#", "outcome", "tokens", "USD", "error"):
                recent.add_column(column, no_wrap=column != "error", overflow="ellipsis")
            for call in ledger.recent:
                recent.add_row(
                    str(call.id),
                    call.outcome,
                    str(call.prompt_tokens + call.completion_tokens),
                    number(call.usd, 4),
                    call.error or "",
                )
            parts += [Text(""), recent]
        elif not ledger.calls:
            parts.append(Text("no LLM calls in this run (offline proposer)", style="dim"))
        self.update(Group(*parts))
