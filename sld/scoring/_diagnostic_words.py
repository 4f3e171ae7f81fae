"""Residual diagnostics in words: short sentences for the report, the TUI and the LLM prompt.

The numbers come from :mod:`sld.scoring._diagnostics`; this module only chooses which
of them are worth a line and says them (``underestimates L at the largest N (>= 3.2e+09)
by 3.1 %``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ._diagnostics import InputTrend, ResidualDiagnostics

WORDS_TOP = 0.05  # std: a miss at the top of a range smaller than this is not worth a line
WORDS_CORR = 0.3  # a trend weaker than this correlation is noise


def _amount(trend: InputTrend) -> str:
    if trend.top_relative is not None:
        return f"{abs(trend.top_relative) * 100:.2g} %"
    return f"{abs(trend.top or 0.0):.2g} std"


def _std(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "—"


def diagnostics_headline(diagnostics: ResidualDiagnostics) -> str:
    """One line on the residuals' size and sign, e.g. ``residuals on the fold bands (40 rows):
    rms 0.120 std, mean 0.030 std (positive: the law underestimates)``."""
    return (
        f"residuals on the fold bands ({diagnostics.rows} rows): rms {_std(diagnostics.rms)} "
        f"std, mean {_std(diagnostics.bias)} std (positive: the law underestimates)"
    )


def diagnostics_words(
    diagnostics: ResidualDiagnostics, *, names: Mapping[str, str] | None = None, limit: int = 5
) -> list[str]:
    """Up to ``limit`` short sentences on where a law misses, largest miss first, e.g.
    ``underestimates L at the largest N (>= 3.2e+09) by 3.1 %``. ``names`` maps an input
    name to the name to print (an alias)."""
    alias = dict(names or {})

    def called(name: str) -> str:
        return alias.get(name, name)

    several = len({t.output for t in diagnostics.trends}) > 1
    lines: list[str] = []
    tops = sorted(
        (t for t in diagnostics.trends if t.top is not None and abs(t.top) >= WORDS_TOP),
        key=lambda t: (-abs(t.top or 0.0), t.output, t.input),
    )
    if tops:
        t = tops[0]
        verb = "underestimates" if (t.top or 0.0) > 0 else "overestimates"
        lines.append(
            f"{verb} {t.output} at the largest {called(t.input)} "
            f"(>= {t.top_from:.3g}) by {_amount(t)}"
        )
    strong = [t for t in diagnostics.trends if abs(t.corr) >= WORDS_CORR]
    if strong:
        t = strong[0]
        axis = f"log {called(t.input)}" if t.log else called(t.input)
        where = f" ({t.output})" if several else ""
        line = (
            f"residual{where} {'rises' if t.slope > 0 else 'falls'} with {axis} "
            f"(corr {t.corr:.2f}): a missing {called(t.input)} term?"
        )
        if t.varies_with and t.slope_change is not None and abs(t.slope_change) > abs(t.slope):
            line += f"; the trend changes with {called(t.varies_with)}"
        lines.append(line)
    bent = [
        t
        for t in diagnostics.trends
        if t.bend is not None and abs(t.bend) >= WORDS_TOP and abs(t.bend) > abs(t.slope) / 2
    ]
    if bent:
        t = max(bent, key=lambda t: abs(t.bend or 0.0))
        side = "above" if (t.bend or 0.0) > 0 else "below"
        lines.append(
            f"at the top of the {called(t.input)} range the data bend {side} the law's trend "
            f"by {abs(t.bend or 0.0):.2g} std (a floor or saturation?)"
        )
    crossing = next((t for t in diagnostics.trends if t.crossings), None)
    if crossing is not None:
        where = ", ".join(f"{v:.3g}" for v in crossing.crossings)
        lines.append(f"residual changes sign along {called(crossing.input)} near {where}")
    if diagnostics.groups:
        g = diagnostics.groups[0]
        side = "under" if g.mean > 0 else "over"
        lines.append(f"worst group: {g.group} (rms {g.rms:.2g} std, mostly {side}estimated)")
    if not lines:
        lines.append(f"no clear pattern in the residuals (rms {diagnostics.rms:.2g} std)")
    return lines[:limit]
