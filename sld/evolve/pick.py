"""The end of a search: hand the population's best few laws to the final pick.

The pick (:func:`sld.scoring.final_pick`) chooses the fit window (how many of the
smallest-scale rows to leave out of every fit), re-fits ``candidates`` laws on every selection
fold with full restarts, bootstraps them, ranks them by a pessimistic quantile of the
resampled errors, and takes the fewest parameters among the laws whose error is within
the leader's bound. Training rows only: the held-out path runs after this, on the law
picked here.

Which laws: :mod:`sld.evolve.pool` (the walk by search fitness, the simpler front, the
supported and prior routes). Last, frozen terms (:attr:`sld.law.Law.frozen_terms`: numbers the
search set on the fold bands). A pool law that holds them gives way to its unfrozen variant,
their numbers fitted (:func:`sld.evolve.unfrozen.unfrozen_pool`), and, where the task or run
limits parameters, a law whose parameters and frozen terms exceed the limit leaves the pool
(:func:`sld.evolve.unfrozen.within_limit`); ``bench/selection_sweep.md``, "Frozen terms
unfrozen".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sld.config import RunConfig
from sld.corpus import Task
from sld.evolve._fidelity import CONFIRMED_KEY
from sld.evolve._resume import member_from_fitted
from sld.evolve.pool import fit_support, pool_and_routes
from sld.evolve.population import Population
from sld.evolve.unfrozen import PROPOSER as UNFROZEN_PROPOSER
from sld.evolve.unfrozen import Register, unfrozen_pool, within_limit
from sld.law import Law
from sld.scoring import PickReport, ScoreReport, final_pick
from sld.store import FittedRow

PICK_STATE = "pick"  # run store state key holding the last PickReport
UNFROZEN_REASON = (
    "; it is law {parent} with its frozen terms' coefficients fitted (unfrozen), in that "
    "law's place in the pool"
)
PRIOR_REASON = (
    "; it joined the pool as the best law of generation 0 (proposed before any fold score), "
    "not by its search rank"
)
SUPPORTED_REASON = (
    "; it joined the pool as the law its fit rows support best (the lowest information "
    "criterion of its fold-0 fit), not by its search rank"
)
ROUTE_REASONS = {"supported": SUPPORTED_REASON, "prior": PRIOR_REASON}  # route -> its words


@dataclass(frozen=True)
class PickSettings:
    """How the final pick runs (from a run config: :meth:`from_config`)."""

    seed: int = 0
    candidates: int = 10
    per_shape: int = 2
    restarts: int = 32
    bootstrap: int = 8
    bootstrap_restarts: int = 8
    window_restarts: int = 8
    polish: int = 0
    narrow: int = 0
    quantile: float = 0.8
    node_weight: float = 0.01
    param_weight: float = 0.02
    parsimony: bool = True
    consensus: bool = False
    steady: bool = True
    windows: tuple[float, ...] = (0.0,)
    max_params: int | None = None
    simpler: bool = True
    supported: bool = True
    prior: bool = True
    frozen: bool = True
    unfreeze: bool = True

    @classmethod
    def from_config(cls, config: RunConfig) -> PickSettings:
        return cls(
            seed=config.seed,
            candidates=config.pick_candidates,
            per_shape=config.pick_per_shape,
            restarts=config.final_restarts,
            narrow=config.final_narrow,
            bootstrap=config.pick_bootstrap,
            bootstrap_restarts=config.restarts,
            window_restarts=config.restarts,
            quantile=config.pick_quantile,
            node_weight=config.complexity_weight,
            param_weight=config.param_weight,
            parsimony=config.pick_parsimony,
            consensus=config.pick_consensus,
            steady=config.pick_steady,
            supported=config.pick_supported,
            prior=config.pick_prior,
            frozen=config.pick_frozen,
            unfreeze=config.pick_unfreeze,
            windows=tuple(config.fit_windows),
            max_params=config.max_params,
        )


def pick_law(
    population: Population,
    task: Task,
    settings: PickSettings,
    *,
    fitted: Sequence[FittedRow] = (),
    extra: Sequence[tuple[int, Law]] = (),
    register: Register | None = None,
) -> PickReport:
    """The final pick among the laws :func:`pick_pool` chooses from ``population`` and the
    run's stored fits ``fitted`` (every fully scored law, as its ``archive``), and the (id, law)
    pairs ``extra`` after them (laws the search did not bring, for ``bench/repick.py --add``;
    their ids must be new to the run). With ``settings.unfreeze`` the pool's laws with frozen
    terms give way to their unfrozen variants (:func:`unfrozen_pool`; ``register``: as there);
    with ``settings.frozen`` a law whose parameters and frozen terms exceed the parameter
    limit then leaves the pool (:func:`within_limit`).

    A law the search confirmed at the pick's restarts (:func:`confirmed_reports`) keeps
    that score instead of being re-fitted on the folds (confirmations ran at the run's
    seed: pass ``fitted`` only when ``settings.seed`` is it, as
    :meth:`PickSettings.from_config` makes it).
    """
    # the pick's own variants, which an earlier pick of this run recorded, are not search
    # candidates: unfrozen_pool makes them again from their parents, so a pick run again (a
    # resumed run, bench/repick.py) walks the same pool as the first
    searched = [r for r in fitted if r.candidate.proposer != UNFROZEN_PROPOSER]
    archive = [m for m in map(member_from_fitted, searched) if m is not None]

    pool, routes = pool_and_routes(
        population,
        task,
        archive=archive,
        candidates=settings.candidates,
        per_shape=settings.per_shape,
        max_params=settings.max_params,
        simpler=settings.simpler,
        support=fit_support(fitted, task) if settings.supported else None,
        prior=settings.prior,
    )
    known = confirmed_reports(
        fitted, restarts=settings.restarts, polish=settings.polish, narrow=settings.narrow
    )
    parents: dict[int, int] = {}
    if settings.unfreeze:
        pool, parents = unfrozen_pool(
            pool,
            task,
            seed=settings.seed,
            restarts=settings.restarts,
            polish=settings.polish,
            narrow=settings.narrow,
            max_params=settings.max_params,
            known=known,
            register=register,
        )
    if settings.frozen:
        pool = within_limit(pool, task, max_params=settings.max_params)
    report = pick_among([*pool, *extra], task, settings, known=known)
    route = routes.get(report.chosen) if report.chosen is not None else None
    if route is not None:
        report = report.model_copy(update={"reason": report.reason + ROUTE_REASONS[route]})
    report = report.model_copy(
        update={"unfreeze": settings.unfreeze, "unfrozen": parents, "routes": routes}
    )
    if report.chosen in parents:
        reason = UNFROZEN_REASON.format(parent=parents[report.chosen])
        report = report.model_copy(update={"reason": report.reason + reason})
    return report


def pick_among(
    pool: Sequence[tuple[int, Law]],
    task: Task,
    settings: PickSettings,
    *,
    known: Mapping[int, ScoreReport] | None = None,
) -> PickReport:
    """:func:`sld.scoring.final_pick` of the (id, law) ``pool`` with ``settings``
    (``known``: as there)."""
    return final_pick(
        pool,
        task,
        seed=settings.seed,
        restarts=settings.restarts,
        bootstrap=settings.bootstrap,
        bootstrap_restarts=settings.bootstrap_restarts,
        quantile=settings.quantile,
        node_weight=settings.node_weight,
        param_weight=settings.param_weight,
        parsimony=settings.parsimony,
        consensus=settings.consensus,
        steady=settings.steady,
        known=known,
        windows=settings.windows,
        window_restarts=settings.window_restarts,
        polish=settings.polish,
        narrow=settings.narrow,
        frozen=settings.frozen,
    )


def confirmed_reports(
    fitted: Sequence[FittedRow], *, restarts: int, polish: int = 0, narrow: int = 0
) -> dict[int, ScoreReport]:
    """Candidate id → its stored score, for every law the search confirmed at ``restarts``,
    ``polish`` and ``narrow`` (the search's confirmations do not polish: a report without
    the key is polish 0, so a pick that polishes re-fits every law; likewise a confirmation
    stored before narrowing existed is narrow 0).

    A confirmation is :func:`sld.scoring.selection_scores` at the run's seed and
    ``final_restarts`` (:mod:`sld.evolve._fidelity`), which is what the final pick's
    fold re-fit computes for the same law, so the pick can take it as it stands.
    """
    out = {}
    for record in fitted:
        confirmed = record.report.get(CONFIRMED_KEY)
        if (
            isinstance(confirmed, dict)
            and confirmed.get("restarts") == restarts
            and confirmed.get("polish", 0) == polish
            and confirmed.get("narrow", 0) == narrow
        ):
            out[record.candidate.id] = ScoreReport.model_validate(
                {**record.report, "fit": record.fit}  # the store keeps the fit beside the report
            )
    return out
