"""The end of a search: hand the population's best few laws to the final pick.

The pick (:func:`sld.scoring.final_pick`) re-fits the ``candidates`` best members by
search fitness on every selection fold with full restarts, bootstraps them, and
chooses by a pessimistic quantile of the resampled errors. Training rows only: the
held-out path runs after this, on the law picked here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sld.config import RunConfig
from sld.corpus import Task
from sld.evolve.population import Population
from sld.scoring import PickReport, final_pick, parse_for_task

PICK_STATE = "pick"  # run store state key holding the last PickReport


@dataclass(frozen=True)
class PickSettings:
    """How the final pick runs (from a run config: :meth:`from_config`)."""

    seed: int = 0
    candidates: int = 10
    restarts: int = 32
    bootstrap: int = 8
    bootstrap_restarts: int = 8
    quantile: float = 0.8
    node_weight: float = 0.01
    param_weight: float = 0.02
    max_params: int | None = None

    @classmethod
    def from_config(cls, config: RunConfig) -> PickSettings:
        return cls(
            seed=config.seed,
            candidates=config.pick_candidates,
            restarts=config.final_restarts,
            bootstrap=config.pick_bootstrap,
            bootstrap_restarts=config.restarts,
            quantile=config.pick_quantile,
            node_weight=config.complexity_weight,
            param_weight=config.param_weight,
            max_params=config.max_params,
        )


def pick_law(population: Population, task: Task, settings: PickSettings) -> PickReport:
    """The final pick among the ``settings.candidates`` best members of ``population``."""
    members = [m for m in population.members() if not m.failed][: settings.candidates]
    candidates = [
        (m.id, parse_for_task(m.text, task, max_params=settings.max_params)) for m in members
    ]
    return final_pick(
        candidates,
        task,
        seed=settings.seed,
        restarts=settings.restarts,
        bootstrap=settings.bootstrap,
        bootstrap_restarts=settings.bootstrap_restarts,
        quantile=settings.quantile,
        node_weight=settings.node_weight,
        param_weight=settings.param_weight,
    )
