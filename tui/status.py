"""The status line and the event log's lines: pure functions of what the app knows."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from sld.store import EventRow
from sld.tui.view import RunView, number

# state -> (label, style); a state missing here shows its own name
STATE_MARKS = {
    "idle": ("○ ready", "dim"),
    "starting": ("◌ starting", "yellow"),
    "running": ("● running", "bold green"),
    "paused": ("❚❚ paused", "bold yellow"),
    "stopping": ("◌ stopping", "yellow"),
    "stopped": ("◌ search ended", "yellow"),
    "scoring": ("◌ held-out scoring", "yellow"),
    "finished": ("■ finished", "bold"),
    "failed": ("✗ failed", "bold red"),
    "watching": ("◉ watching (read-only)", "bold cyan"),
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


def status_line(state: str, view: RunView | None, progress: Any, *, wide: bool) -> Text:
    """One line: the state, then (once a run is read) generation, counts, chosen law, time.

    ``progress`` is the run's latest counters (None when watching another process's
    run: the store's figures are shown then); ``wide`` adds the rarer counts.
    """
    label, style = STATE_MARKS.get(state, (state, ""))
    text = Text.assemble((label, style), no_wrap=True, overflow="ellipsis")
    if state == "idle":
        text.append("  pick a task, adjust the settings, press s to start; ? for keys", style="dim")
    if view is None:
        return text
    s = view.summary
    counts = s.by_status
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
    return text


def event_line(event: EventRow) -> Text:
    """One event of the log: generation, candidate, kind, and what happened."""
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
            f"{p.get('outcome')}: {p.get('prompt_tokens', 0)}+{p.get('completion_tokens', 0)} "
            f"tokens, ${p.get('usd', 0):.4f}"
        ),
    }
    gen = "" if event.generation is None else f"g{event.generation}"
    cid = "" if event.candidate_id is None else f"#{event.candidate_id}"
    line = Text(no_wrap=True)
    line.append(f"{gen:>4} {cid:>5} ", style="dim")
    line.append(f"{event.kind:<10}", style=EVENT_STYLES.get(event.kind, ""))
    line.append(" " + str(details.get(event.kind, lambda: "")()))
    return line
