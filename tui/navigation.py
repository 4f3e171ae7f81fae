"""Moving around the app: tabs and focus, the filter box, the sort order, the help screen and
the bench's table.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, TabbedContent
from textual.widgets.tabbed_content import ContentTabs

from sld.tui.bench import BenchScreen
from sld.tui.laws import COLUMNS
from sld.tui.screens import HelpScreen, LawDetailScreen

BENCH_BINDING = ("b", "show_bench", "Bench")


class Navigation:
    """The :class:`~sld.tui.app.SldApp` actions that move between its tabs and screens (a mixin)."""

    def action_show_bench(self) -> None:
        """Show the bench's table; choosing a run there attaches to it."""
        if self.bench_dir is not None:
            self.push_screen(BenchScreen(self.bench_dir), callback=self._attach_from_bench)

    def _attach_from_bench(self, run_dir: Path | None) -> None:
        if run_dir is None or run_dir == self.run_dir:
            return
        self.attach_dir = run_dir
        self.sub_title = f"attaching to {run_dir.name}"
        self.action_show_tab("laws")
        self.attach_run(run_dir)

    def action_help(self) -> None:
        """Show every key binding (the bench keys only when a bench is open)."""
        main = [b for b in self.BINDINGS if self.bench_dir is not None or b != BENCH_BINDING]
        sections = [("main view", main), ("law detail", LawDetailScreen.BINDINGS)]
        if self.bench_dir is not None:
            sections.append(("bench", BenchScreen.BINDINGS))
        self.push_screen(HelpScreen(sections))

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
