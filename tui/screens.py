"""Screens pushed over the main view: the keyboard help and one law in detail."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

from sld.corpus import direction
from sld.law import Law
from sld.scoring import PickReport, ResidualDiagnostics, diagnostics_headline, diagnostics_words
from sld.tui.extrapolation import HELDOUT_LABEL
from sld.tui.view import LawRow, number

MOUSE_HELP = (
    ("click a column header", "sort by it (click again to reverse)"),
    ("click a law", "select it; click it again for its detail"),
    ("click a tab", "switch pane"),
    ("scroll wheel", "scroll tables, logs and detail"),
)


def _key_label(binding: BindingType) -> tuple[str, str, str]:
    if isinstance(binding, Binding):
        return binding.key_display or binding.key, binding.action, binding.description
    key, action, description = (*binding, "")[:3]
    return key, action, description


def bindings_table(title: str, bindings: Iterable[BindingType]) -> Table:
    """A two-column table of keys and what they do."""
    table = Table(title=title, title_justify="left", box=None, padding=(0, 2), show_header=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    names = {"question_mark": "?", "slash": "/", "escape": "esc", "enter": "enter"}
    for binding in bindings:
        key, _, description = _key_label(binding)
        if description:
            table.add_row(", ".join(names.get(k, k) for k in key.split(",")), description)
    return table


class HelpScreen(ModalScreen[None]):
    """Every key binding and mouse action, generated from the bindings themselves."""

    BINDINGS = [
        ("escape", "dismiss", "Close"),
        ("question_mark", "dismiss", "Close"),
        ("q", "dismiss", "Close"),
    ]

    def __init__(self, sections: Sequence[tuple[str, Iterable[BindingType]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        """A scrollable panel of binding tables."""
        parts: list[RenderableType] = []
        for title, bindings in self.sections:
            parts += [bindings_table(title, bindings), Text("")]
        mouse = Table(
            title="mouse", title_justify="left", box=None, padding=(0, 2), show_header=False
        )
        mouse.add_column(style="bold cyan", no_wrap=True)
        mouse.add_column()
        for action, effect in MOUSE_HELP:
            mouse.add_row(action, effect)
        parts += [
            mouse,
            Text(""),
            Text(
                "Held-out R² is computed after selection (or when you press h) and shown only: "
                "the search never reads it.",
                style="italic",
            ),
        ]
        with VerticalScroll(id="help-panel") as panel:
            panel.border_title = "sld — keys"
            panel.border_subtitle = "esc to close"
            yield Static(Group(*parts))

    def action_dismiss(self, result: Any = None) -> None:  # type: ignore[override]
        """Close the help."""
        self.dismiss(None)


@dataclass(frozen=True)
class LawDetail:
    """What the detail screen shows about one law; plain data gathered by the app."""

    row: LawRow
    law: Law | None
    aliases: Mapping[str, str]  # input name -> alias, for pretty printing
    search_parameters: Mapping[str, Mapping[str, float]]
    validation: Mapping[str, Any] | None  # validation ScoreReport (model_dump) from the store
    heldout: Mapping[str, Any] | None  # held-out ScoreReport (model_dump), after selection only
    heldout_source: str  # 'reporting path (after selection)' or 'requested in this session'
    lineage: Sequence[tuple[int, int, str, str]]  # (level, id, operator, text)
    pick: PickReport | None = None  # the run's final pick, if it has one
    directions: Mapping[str, int] = field(default_factory=dict)  # input -> ±1 the checks used


def pretty_law(law: Law, aliases: Mapping[str, str]) -> str:
    """SymPy's 2-D unicode rendering, one ``output = …`` block per output, inputs by alias."""
    import sympy

    from sld.law import input_symbol

    swap = {input_symbol(name): sympy.Symbol(alias) for name, alias in aliases.items()}
    blocks = []
    for output, expr in zip(law.outputs, law.expressions, strict=True):
        pretty = sympy.pretty(expr.xreplace(swap), use_unicode=True, wrap_line=False)
        lines = pretty.split("\n")
        middle = len(lines) // 2
        lead = f"{output} = "
        blocks.append(
            "\n".join(
                (lead if i == middle else " " * len(lead)) + line for i, line in enumerate(lines)
            )
        )
    return "\n\n".join(blocks)


def parameters_table(title: str, parameters: Mapping[str, Mapping[str, float]]) -> Table:
    """Groups as rows, parameters as columns."""
    names = list(dict.fromkeys(name for values in parameters.values() for name in values))
    table = Table(title=title, title_justify="left", header_style="bold", expand=False)
    table.add_column("group", no_wrap=True)
    for name in names:
        table.add_column(name, justify="right", no_wrap=True)
    for group, values in parameters.items():
        table.add_row(group, *(f"{values[n]:.6g}" if n in values else "—" for n in names))
    return table


def lineage_tree(lineage: Sequence[tuple[int, int, str, str]]) -> Tree | Text:
    """Parents chain as a tree: each law under the law it was made from."""
    if not lineage:
        return Text("no lineage recorded", style="dim")
    nodes: dict[int, Tree] = {}
    root: Tree | None = None
    for level, cid, operator, text in lineage:
        label = Text.assemble((f"#{cid} ", "bold"), (f"[{operator or '?'}] ", "dim"), text)
        if level == 0 or root is None:
            root = Tree(label)
            nodes[0] = root
        else:
            nodes[level] = nodes[level - 1].add(label)
    assert root is not None
    if len(lineage) == 1:
        root.add(Text("no parents: a fresh proposal", style="dim"))
    return root


def residual_lines(report: Mapping[str, Any], aliases: Mapping[str, str]) -> list[Text]:
    """Where the fold fits miss their bands: the diagnostics in words, then one line per
    input trend (slope, correlation, miss at the top of the range, sign changes)."""
    stored = report.get("diagnostics")
    if not stored:
        return []
    diagnostics = ResidualDiagnostics.model_validate(stored)
    lines = [Text(diagnostics_headline(diagnostics))]
    lines += [Text(f"  {w}", style="yellow") for w in diagnostics_words(diagnostics, names=aliases)]
    several = len({t.output for t in diagnostics.trends}) > 1
    for t in diagnostics.trends[:6]:
        name = aliases.get(t.input, t.input)
        top = f", top {number(t.top, 3)} std from {t.top_from:.3g}" if t.top is not None else ""
        crossings = (
            ", sign changes near " + ", ".join(f"{v:.3g}" for v in t.crossings)
            if t.crossings
            else ""
        )
        lines.append(
            Text(
                f"  {'log ' if t.log else ''}{name}"
                + (f" ({t.output})" if several else "")
                + f": slope {number(t.slope, 3)}, corr {number(t.corr, 2)}{top}{crossings}",
                style="dim",
            )
        )
    return lines


def _selection_notes(detail: LawDetail) -> list[RenderableType]:
    """Selection error, extrapolation checks, residual diagnostics, the hypothesis the law was
    proposed with and its place in the final pick, as lines."""
    report = detail.validation or {}
    notes: list[RenderableType] = []
    if detail.row.rationale and detail.row.proposer != "offline":
        notes.append(Text(f"hypothesis: {detail.row.rationale}", style="italic"))
    error = report.get("selection_error")
    if error is not None:
        notes.append(Text(f"selection error (geometric mean of fold NMSEs): {number(error, 5)}"))
    checks = report.get("checks")
    if checks is not None:
        if checks.get("passed"):
            held = ", ".join(
                f"{detail.aliases.get(k, k)} {direction(v)}" for k, v in detail.directions.items()
            )
            notes.append(
                Text(
                    f"extrapolation checks: passed ({checks.get('probes', 0)} probes"
                    + (f"; directions: {held})" if held else ")")
                )
            )
        else:
            reasons = "; ".join(checks.get("reasons") or []) or "failed"
            notes.append(Text(f"extrapolation checks: demoted: {reasons}", style="yellow"))
    notes += residual_lines(report, detail.aliases)
    pick = detail.pick
    entry = next((e for e in pick.entries if e.id == detail.row.id), None) if pick else None
    if pick is not None and entry is not None:
        verdict = "★ picked" if pick.chosen == entry.id else f"ranked {entry.rank}"
        notes.append(
            Text(
                f"final pick: {verdict} of {len(pick.entries)}; "
                + (
                    f"pessimistic error {number(entry.bound, 5)} over {entry.samples} resamples"
                    if entry.bound is not None
                    else "not resampled: its penalised point error already lost"
                )
                + (f"; {pick.reason}" if pick.chosen == entry.id else "")
            )
        )
    return notes


def _metric_cells(report: Mapping[str, Any] | None) -> tuple[str, str, str, str]:
    metrics = (report or {}).get("metrics") or {}
    return (
        number(metrics.get("r2")),
        number(metrics.get("nmse"), 5),
        number(metrics.get("nmae"), 5),
        str(metrics.get("rows", "—")),
    )


class LawDetailScreen(Screen[None]):
    """One law: pretty form, LaTeX, scores (with residual diagnostics and hypothesis), parameters
    per group, bootstrap, lineage."""

    BINDINGS = [
        ("escape", "close", "Back"),
        ("c", "copy_law", "Copy law"),
        ("l", "copy_latex", "Copy LaTeX"),
        ("h", "heldout", "Held-out score"),
    ]

    def __init__(self, detail: LawDetail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        """The sections, top to bottom, in one scroll."""
        with VerticalScroll(id="detail"):
            yield Static(id="detail-head")
            with Vertical(id="detail-law", classes="section"):
                yield Static(id="detail-pretty")
            yield Static(id="detail-latex", classes="section")
            yield Static(id="detail-scores", classes="section")
            yield Static(id="detail-parameters", classes="section")
            yield Static(id="detail-lineage", classes="section")
        yield Footer()

    def on_mount(self) -> None:
        """Fill the sections."""
        self.query_one("#detail-law").border_title = "law"
        self.query_one("#detail-latex").border_title = "LaTeX"
        self.query_one("#detail-scores").border_title = "scores"
        self.query_one("#detail-parameters").border_title = "parameters per group"
        self.query_one("#detail-lineage").border_title = "lineage"
        self.show(self.detail)

    def show(self, detail: LawDetail) -> None:
        """Render ``detail`` (called again when a held-out score arrives)."""
        self.detail = detail
        row, law = detail.row, detail.law
        head = Text.assemble(
            (f"#{row.id} ", "bold"),
            (row.text, "bold cyan"),
            "\n",
            (
                f"complexity {row.complexity}  ·  {row.n_params} parameters  ·  "
                f"{row.proposer or '?'} / {row.operator or '?'}  ·  island {row.island}  ·  "
                f"generation {row.generation}  ·  {row.status}"
                + ("  ·  ★ chosen" if row.chosen else "")
                + ("  ·  ◆ Pareto front" if row.on_front else ""),
                "dim",
            ),
        )
        self.query_one("#detail-head", Static).update(head)
        pretty = pretty_law(law, detail.aliases) if law is not None else row.text
        self.query_one("#detail-pretty", Static).update(Text(pretty, no_wrap=True))
        self.query_one("#detail-latex", Static).update(
            Text(law.latex() if law is not None else "—", no_wrap=False)
        )
        scores = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
        for column in ("", "R²", "NMSE", "NMAE", "rows"):
            scores.add_column(column, justify="left" if not column else "right", no_wrap=True)
        scores.add_row("validation (selection)", *_metric_cells(detail.validation))
        for fold in (detail.validation or {}).get("folds") or []:
            scores.add_row(
                f"  fold {fold['index']} ({fold['fit_rows']} → {fold['rows']} rows)",
                number(fold.get("r2")),
                number(fold.get("nmse"), 5),
                "—",
                str(fold["rows"]),
                style="dim",
            )
        notes: list[RenderableType] = _selection_notes(detail)
        if detail.heldout is not None:
            scores.add_row(HELDOUT_LABEL, *_metric_cells(detail.heldout), style="italic")
            notes.append(Text(f"held-out: {detail.heldout_source}", style="dim"))
            boot = detail.heldout.get("bootstrap")
            notes.append(
                Text(
                    f"bootstrap 95 % of held-out R²: [{number(boot['low'])}, {number(boot['high'])}]"
                    f", median {number(boot['median'])} ({boot['samples']} refits)"
                )
                if boot
                else Text("bootstrap interval: not computed for this law", style="dim")
            )
        else:
            notes.append(Text(f"{HELDOUT_LABEL}: not computed; press h to score it", style="dim"))
        scores = Group(scores, *notes)
        self.query_one("#detail-scores", Static).update(scores)
        tables: list[RenderableType] = []
        if detail.search_parameters:
            tables.append(
                parameters_table("search fit (train minus validation)", detail.search_parameters)
            )
        if detail.heldout is not None and detail.heldout.get("parameters"):
            tables.append(
                parameters_table(
                    "refit on all training rows (held-out scoring)", detail.heldout["parameters"]
                )
            )
        self.query_one("#detail-parameters", Static).update(
            Group(*tables) if tables else Text("not fitted yet", style="dim")
        )
        self.query_one("#detail-lineage", Static).update(lineage_tree(detail.lineage))

    def action_close(self) -> None:
        """Back to the main view."""
        self.dismiss(None)

    def action_copy_law(self) -> None:
        """Copy the law text to the clipboard."""
        self.app.copy_to_clipboard(self.detail.row.text)
        self.notify("law copied to the clipboard")

    def action_copy_latex(self) -> None:
        """Copy the LaTeX form to the clipboard."""
        if self.detail.law is not None:
            self.app.copy_to_clipboard(self.detail.law.latex())
            self.notify("LaTeX copied to the clipboard")

    async def action_heldout(self) -> None:
        """Ask the app to score this law on held-out rows."""
        await self.app.run_action("heldout")
