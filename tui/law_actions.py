"""What the app does with the selected law: detail, extrapolation, held-out score, copy, export.

Held-out scores asked for here (``h``) come from the reporting path
(:func:`sld.scoring.heldout_score`); they are shown for this session only and
never written where the engine reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual import work

from sld.errors import SldError
from sld.tui.messages import ExtrapolationReady, HeldoutReady
from sld.tui.screens import LawDetail, LawDetailScreen
from sld.tui.view import number
from sld.tui.widgets import ExtrapolationPlot


class LawActions:
    """The :class:`~sld.tui.app.SldApp` actions on its selected law (a mixin)."""

    def _heldout_report(self, candidate_id: int) -> tuple[dict[str, Any] | None, str]:
        """A held-out report for the law and where it came from; None before any held-out scoring."""
        view = self.view
        stored = view.heldout_for(candidate_id) if view is not None else None
        if stored is not None:
            return dict(stored.report), f"reporting path after selection ({stored.kind})"
        if candidate_id in self._session_heldout:
            return self._session_heldout[
                candidate_id
            ], "requested in this session (h); not used by selection"
        return None, ""

    def _update_extrapolation(self) -> None:
        view, cid = self.view, self.selected_id
        if view is None or cid is None or self.run_task is None:
            return
        row = view.row(cid)
        if row is None:
            return
        fit = view.fits.get(cid)
        heldout, _ = self._heldout_report(cid)
        key = (cid, fit is not None and fit.ok, heldout is not None)
        if key == self._extrapolation_key:
            return
        self._extrapolation_key = key
        caption = f"#{cid}  {row.text}"
        for plot in self.query(ExtrapolationPlot):
            plot.caption = caption
        if fit is None or not fit.ok:
            for plot in self.query(ExtrapolationPlot):
                plot.picture, plot.note = (
                    None,
                    "not fitted yet" if fit is None else (fit.report.get("reason") or "fit failed"),
                )
            return
        human = next((h for h in view.heldout if h.kind == "human"), None)
        self.compute_extrapolation(
            cid,
            row.text,
            fit.fit.get("parameters") or {},
            (heldout or {}).get("parameters"),
            (human.text, human.report.get("parameters") or {}) if human is not None else None,
        )

    @work(thread=True, exclusive=True, group="extrapolation", exit_on_error=False)
    def compute_extrapolation(
        self,
        candidate_id: int,
        text: str,
        search: Mapping[str, Any],
        heldout: Mapping[str, Any] | None,
        human: tuple[str, Mapping[str, Any]] | None,
    ) -> None:
        """Compute one law's picture against the scale input off the UI thread."""
        from sld.scoring import parse_for_task
        from sld.tui.extrapolation import law_picture, short_note

        try:
            task = self.run_task
            law = parse_for_task(text, task)
            reference = (parse_for_task(human[0], task), human[1]) if human and human[1] else None
            picture = law_picture(
                law,
                task,
                search_parameters=search,
                heldout_parameters=heldout,
                human=reference,
            )
        except Exception as exc:
            self.post_message(
                ExtrapolationReady(candidate_id, None, f"cannot draw this law: {exc}")
            )
            return
        self.post_message(ExtrapolationReady(candidate_id, picture, short_note(picture)))

    def on_extrapolation_ready(self, message: ExtrapolationReady) -> None:
        """Draw the picture if the law is still the selected one."""
        if message.candidate_id != self.selected_id:
            return
        for plot in self.query(ExtrapolationPlot):
            plot.picture, plot.note = message.picture, message.note

    def action_next_panel(self) -> None:
        """Show the extrapolation's next output or group."""
        for plot in self.query(ExtrapolationPlot):
            plot.next_panel()

    def _detail(self, candidate_id: int) -> LawDetail | None:
        from sld.scoring import parse_for_task

        view = self.view
        row = view.row(candidate_id) if view is not None else None
        if row is None:
            return None
        law = None
        if self.run_task is not None:
            try:
                law = parse_for_task(row.text, self.run_task)
            except SldError:
                law = None
        fit = view.fits.get(candidate_id) if view is not None else None
        heldout, source = self._heldout_report(candidate_id)
        lineage: list[tuple[int, int, str, str]] = []
        if self._reader is not None:
            try:
                lineage = self._reader.lineage(candidate_id)
            except SldError as exc:
                self.notify(f"lineage: {exc}", severity="error")
        aliases = {
            name: alias for alias, name in (self.run_task.aliases.items() if self.run_task else ())
        }
        return LawDetail(
            row=row,
            law=law,
            aliases=aliases,
            search_parameters=(fit.fit.get("parameters") or {}) if fit else {},
            validation=fit.report if fit else None,
            heldout=heldout,
            heldout_source=source,
            lineage=lineage,
            pick=view.pick if view is not None else None,
            directions=self.run_task.monotone if self.run_task else {},
        )

    def action_detail(self) -> None:
        """Open the selected law's detail screen."""
        if self.selected_id is None:
            self.notify("no law selected", severity="warning")
            return
        detail = self._detail(self.selected_id)
        if detail is not None:
            self.push_screen(LawDetailScreen(detail))

    def action_heldout(self) -> None:
        """Score the selected law on held-out rows (reporting path; shown only, never used by selection)."""
        cid = self.selected_id
        view = self.view
        if cid is None or view is None or self.run_task is None:
            self.notify("select a law first", severity="warning")
            return
        if self._heldout_report(cid)[0] is not None:
            self.notify(f"#{cid} already has a held-out score")
            return
        if cid in self._heldout_pending:
            return
        row = view.row(cid)
        if row is None or row.status != "fitted":
            self.notify("only fitted laws can be scored on held-out rows", severity="warning")
            return
        self._heldout_pending.add(cid)
        self.notify(f"scoring #{cid} on held-out rows (not used by selection)…")
        config = view.config
        self.score_heldout(
            cid, row.text, int(config.get("seed", 0)), int(config.get("final_restarts", 32))
        )

    @work(thread=True, group="heldout", exit_on_error=False)
    def score_heldout(self, candidate_id: int, text: str, seed: int, restarts: int) -> None:
        """Fit on all training rows and score on held-out rows, off the UI thread."""
        from sld.scoring import heldout_score, parse_for_task

        try:
            law = parse_for_task(text, self.run_task)
            report = heldout_score(law, self.run_task, seed=seed, restarts=restarts)
            self.post_message(HeldoutReady(candidate_id, report.model_dump(mode="json")))
        except Exception as exc:
            self.post_message(HeldoutReady(candidate_id, None, error=str(exc)))

    def on_heldout_ready(self, message: HeldoutReady) -> None:
        """Keep the session's held-out score and redraw the panes that show it."""
        self._heldout_pending.discard(message.candidate_id)
        if message.error or message.report is None:
            self.notify(
                f"held-out scoring of #{message.candidate_id} failed: {message.error}",
                severity="error",
            )
            return
        self._session_heldout[message.candidate_id] = message.report
        r2 = (message.report.get("metrics") or {}).get("r2")
        self.notify(
            f"#{message.candidate_id}: held-out R² {number(r2)} (shown only; not used by selection)"
        )
        if self._reader is not None:
            self._reader.invalidate()
        self._extrapolation_key = ()
        self._update_extrapolation()
        self.poll_store()
        screen = self.screen
        if isinstance(screen, LawDetailScreen) and screen.detail.row.id == message.candidate_id:
            detail = self._detail(message.candidate_id)
            if detail is not None:
                screen.show(detail)

    def action_copy_law(self) -> None:
        """Copy the selected law to the clipboard."""
        row = self.view.row(self.selected_id) if self.view is not None else None
        if row is None:
            self.notify("no law selected", severity="warning")
            return
        self.copy_to_clipboard(row.text)
        self.notify(f"copied #{row.id}: {row.text}")

    def action_export_best(self) -> None:
        """Write best_law.tex, best_law.py and best_law.json for the chosen law next to the run."""
        from sld.scoring import parse_for_task
        from sld.tui.export import export_law

        view = self.view
        if view is None or view.chosen_id is None or self.run_dir is None or self.run_task is None:
            self.notify("nothing to export yet: no law has been scored", severity="warning")
            return
        fit = view.fits.get(view.chosen_id)
        row = view.row(view.chosen_id)
        if fit is None or row is None:
            self.notify("the chosen law has no fit yet", severity="warning")
            return
        heldout, _ = self._heldout_report(view.chosen_id)
        try:
            paths = export_law(
                self.run_dir,
                law=parse_for_task(row.text, self.run_task),
                candidate_id=row.id,
                task=view.task,
                validation=fit.report,
                parameters=fit.fit.get("parameters") or {},
                heldout=heldout,
            )
        except (OSError, SldError) as exc:
            self.notify(f"export failed: {exc}", severity="error", timeout=8)
            return
        self.notify(f"exported #{row.id} to {', '.join(p.name for p in paths)} in {self.run_dir}")
