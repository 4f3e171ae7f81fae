"""From a scored candidate to what the search keeps of it: a population member, the notes a
proposer is told, and the parent a proposer sees.

A member carries what selection ranks by: the selection error over every fold (inf when the
law failed), fold 0's validation R², and whether the law failed an extrapolation check
(``demoted``). A stored report is JSON data (a dict); a fresh one is a
:class:`sld.scoring.ScoreReport`; both are read the same way here.
"""

from __future__ import annotations

import math
from typing import Any

from sld.evolve.offline import NAME as OFFLINE
from sld.evolve.population import Member
from sld.proposer import Parent
from sld.scoring import ResidualDiagnostics, ScoreReport
from sld.store import CandidateRow


def member_of(row: CandidateRow, *, r2: float, error: float, demoted: bool = False) -> Member:
    """The member candidate ``row`` becomes with these scores (a non-finite error: inf)."""
    return Member(
        id=row.id,
        key=row.key or "",
        text=row.text,
        complexity=row.complexity or 0,
        n_params=row.n_params or 0,
        error=error if math.isfinite(error) else math.inf,
        r2=r2,
        island=row.island,
        generation=row.generation,
        parents=row.parents,
        proposer=row.proposer,
        demoted=demoted,
    )


def member_from_report(row: CandidateRow, report: ScoreReport) -> Member:
    """The member candidate ``row`` becomes with a fresh score ``report``."""
    error, r2, _, _ = validation_error(report)
    return member_of(row, r2=r2, error=error, demoted=is_demoted(report))


def validation_error(report: ScoreReport) -> tuple[float, float, float, float]:
    """(error, r2, nmse, nmae) for selection: the selection error over every fold, and fold 0's
    validation R², NMSE, NMAE; inf/NaN when unscored."""
    error = report.error
    if report.metrics is None or not math.isfinite(error):
        return math.inf, math.nan, math.nan, math.nan
    m = report.metrics
    return error, m.r2, m.nmse, m.nmae


def stored_score(report: ScoreReport, *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments for :meth:`sld.store.RunStore.record_fit_and_score` (after the
    candidate id) that write a fresh score ``report``: its fit, fold 0's metrics, the
    selection error (:func:`validation_error`) and the report without its fit, with the
    ``extra`` keys added."""
    error, r2, nmse, nmae = validation_error(report)
    return dict(
        fit=report.fit.model_dump(mode="json"),
        train_loss=report.fit.train_loss,
        ok=report.fit.ok and report.metrics is not None,
        seconds=report.seconds["total"],
        reason=report.reason,
        r2=r2,
        nmse=nmse,
        nmae=nmae,
        error=error,
        report={**report.model_dump(mode="json", exclude={"fit"}), **(extra or {})},
    )


def is_demoted(report: dict[str, Any] | ScoreReport) -> bool:
    """Whether a (stored) score report failed an extrapolation check."""
    checks = report.get("checks") if isinstance(report, dict) else report.checks
    if checks is None:
        return False
    return not (checks.get("passed", True) if isinstance(checks, dict) else checks.passed)


def proposer_notes(report: dict[str, Any], row: CandidateRow) -> dict[str, Any]:
    """What a proposer is told about a scored law, from its stored report (JSON data): fold
    NMSEs, failed extrapolation checks, residual diagnostics, and the hypothesis it came with
    (an offline proposal's rationale only names its operator, so it is left out)."""
    checks = report.get("checks") or {}
    rationale = row.rationale if row.proposer != OFFLINE else ""
    return {
        "folds": tuple(f.get("nmse") for f in report.get("folds") or ()),
        "failed_checks": tuple(checks.get("reasons") or ()) if not checks.get("passed") else (),
        "diagnostics": report.get("diagnostics"),
        "rationale": rationale,
    }


def as_parent(member: Member, notes: dict[str, Any] | None) -> Parent:
    """A population member as a proposer sees it (with its notes when the engine has them)."""
    notes = notes or {}
    diagnostics = notes.get("diagnostics")
    return Parent(
        id=member.id,
        text=member.text,
        error=member.error,
        r2=member.r2,
        complexity=member.complexity,
        folds=notes.get("folds", ()),
        failed_checks=notes.get("failed_checks", ()),
        diagnostics=ResidualDiagnostics.model_validate(diagnostics) if diagnostics else None,
        rationale=notes.get("rationale", ""),
    )
