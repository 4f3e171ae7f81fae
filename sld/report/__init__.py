"""The final report of a discovery run: chosen law, Pareto front, held-out scores, plot.

This is the only place a run's held-out (test) rows are used, and only after
selection is over: the chosen law is the population's best by *validation*
error (penalised by complexity), read from the store. Held-out scores are
written to the store's ``heldout`` table, which no engine path reads.

A report is built from one read of the run (:func:`read_run`: one store
snapshot, the population restored once, and the stored score rows of the laws it
shows); :func:`finalize` writes ``report.json`` (strict JSON), ``report.md`` and the
plot once each. Each law shown with its notes carries where its fold fits miss (the
residual diagnostics in words, :func:`sld.scoring.diagnostics_words`) and, for a law an
LLM proposed, the one-line hypothesis it came with.
"""

from sld.report._content import HELDOUT_SECONDS as HELDOUT_SECONDS
from sld.report._content import PICK_SECONDS as PICK_SECONDS
from sld.report._content import build_report as build_report
from sld.report._content import chosen_candidate as chosen_candidate
from sld.report._content import law_notes as law_notes
from sld.report._finalize import PLOT_PNG as PLOT_PNG
from sld.report._finalize import REPORT_JSON as REPORT_JSON
from sld.report._finalize import REPORT_MD as REPORT_MD
from sld.report._finalize import finalize as finalize
from sld.report._finalize import write_atomically as write_atomically
from sld.report._finalize import write_report as write_report
from sld.report._markdown import RUNNERS_UP as RUNNERS_UP
from sld.report._markdown import render_markdown as render_markdown
from sld.report._markdown import start_standing as start_standing
from sld.report._record import RunRecord as RunRecord
from sld.report._record import read_run as read_run

__all__ = [
    "HELDOUT_SECONDS",
    "PICK_SECONDS",
    "PLOT_PNG",
    "REPORT_JSON",
    "REPORT_MD",
    "RUNNERS_UP",
    "RunRecord",
    "build_report",
    "chosen_candidate",
    "finalize",
    "law_notes",
    "read_run",
    "render_markdown",
    "start_standing",
    "write_atomically",
    "write_report",
]
