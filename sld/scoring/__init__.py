"""The evaluation protocol: selection on training rows only, held-out scores for reports only.

Two separate paths, on purpose:

* the selection path (:func:`selection_scores`, :func:`validation_score`,
  :func:`extrapolation_checks`, :func:`final_pick`) reads only training rows: the
  task's selection folds (:meth:`sld.corpus.Task.folds`) and, for the checks, the
  training inputs. It is all that search and the final pick may use.
* :func:`screen_scores` and :func:`screen_promoted` rank new candidates by a cheap fit on
  fold 0 so that search fully fits only the promising ones (training rows only, too).
* :func:`heldout_score` fits on all of ``task.train()`` and scores on
  ``task.heldout()``. It is called for reporting, after selection.

:func:`score` is the public entry point that dispatches on ``split``.
"""

from ._checks import MONOTONE_TOLERANCE as MONOTONE_TOLERANCE
from ._checks import extrapolation_checks as extrapolation_checks
from ._diagnostic_words import diagnostics_headline as diagnostics_headline
from ._diagnostic_words import diagnostics_words as diagnostics_words
from ._diagnostics import GroupResidual as GroupResidual
from ._diagnostics import InputTrend as InputTrend
from ._diagnostics import ResidualDiagnostics as ResidualDiagnostics
from ._diagnostics import diagnose as diagnose
from ._diagnostics import residual_diagnostics as residual_diagnostics
from ._evaluate import evaluate as evaluate
from ._pick import final_pick as final_pick
from ._protocol import protocol_change as protocol_change
from ._protocol import selection_protocol as selection_protocol
from ._reports import BootstrapInterval as BootstrapInterval
from ._reports import CheckReport as CheckReport
from ._reports import FoldScore as FoldScore
from ._reports import MetricsReport as MetricsReport
from ._reports import PickEntry as PickEntry
from ._reports import PickReport as PickReport
from ._reports import ScoreReport as ScoreReport
from ._reports import Split as Split
from ._rows import parse_for_task as parse_for_task
from ._rows import predict_rows as predict_rows
from ._rows import resolve_task as resolve_task
from ._score import INTERVAL_RESTARTS as INTERVAL_RESTARTS
from ._score import heldout_score as heldout_score
from ._score import score as score
from ._score import validation_score as validation_score
from ._screen import screen_promoted as screen_promoted
from ._screen import screen_scores as screen_scores
from ._selection import DEMOTION as DEMOTION
from ._selection import fitness as fitness
from ._selection import fold_rows as fold_rows
from ._selection import selection_error as selection_error
from ._selection import selection_scores as selection_scores
from ._support import information_criterion as information_criterion
from ._window import WindowScore as WindowScore

__all__ = [
    "DEMOTION",
    "INTERVAL_RESTARTS",
    "MONOTONE_TOLERANCE",
    "BootstrapInterval",
    "CheckReport",
    "FoldScore",
    "GroupResidual",
    "InputTrend",
    "MetricsReport",
    "PickEntry",
    "PickReport",
    "ResidualDiagnostics",
    "ScoreReport",
    "Split",
    "WindowScore",
    "diagnose",
    "diagnostics_headline",
    "diagnostics_words",
    "evaluate",
    "extrapolation_checks",
    "final_pick",
    "fitness",
    "fold_rows",
    "heldout_score",
    "information_criterion",
    "parse_for_task",
    "residual_diagnostics",
    "predict_rows",
    "protocol_change",
    "resolve_task",
    "score",
    "screen_promoted",
    "screen_scores",
    "selection_error",
    "selection_protocol",
    "selection_scores",
    "validation_score",
]
