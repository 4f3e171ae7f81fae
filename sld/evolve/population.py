"""The population of scored laws: islands, elitist capacity, selection, migration, Pareto archive.

Pure and in memory. Every random choice draws from the ``numpy.random.Generator``
passed to the method, and every list is kept in a fixed order, so one seed
replays a run exactly; :meth:`Population.snapshot` / :meth:`Population.restore`
carry the state across a resume.

Fitness is :func:`sld.scoring.fitness`, penalised selection error in log space, lower is better::

    fitness = log10(max(error, 1e-12)) + complexity_weight * nodes + param_weight * parameters
              + DEMOTION * (failed an extrapolation check)

where ``error`` is the selection error (geometric mean of the fold NMSEs), so each
extra node or parameter must buy a fixed *relative* error reduction on every fold.

Members are ranked by ``(fitness, complexity, id)``: ties go to the simpler,
then the older law.

An island holds one of a set of *fit twins* (:func:`twins`: selection errors equal
within ``TWIN_TOLERANCE``, relative), the best-ranked. Twins are one law written
several ways (``A/N**a``, ``A*N**(-a)``, ``A*exp(-a*log(N))``) or a law whose extra
parameter the fit switched off; a converged island otherwise fills with them, and
each copy takes a place a different form could hold.

Islands evolve apart: a member enters only the island it names, and crosses to
another only by :meth:`Population.migrate` on a migration generation (a ring:
island i sends copies of its best members to island i + 1). Children should be
added with their parent's island. The Pareto archive sees every finite member
that passed the extrapolation checks, on any island, even one its island evicted.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sld.errors import ConfigError, StoreError
from sld.scoring import fitness

SNAPSHOT_VERSION = 2
TWIN_TOLERANCE = 1e-6  # relative: refits of one law agree far closer; two laws almost never do
READABLE_VERSIONS = (1, 2)  # version 1 had no param_weight and no demoted flag


@dataclass(frozen=True)
class Member:
    """A scored candidate law.

    ``error`` is the selection error (geometric mean of fold NMSEs; inf when the law
    failed); ``r2`` fold 0's validation R²; ``demoted`` whether the law failed an
    extrapolation check (it stays, ranked below every law that passed).
    """

    id: int
    key: str
    text: str
    complexity: int
    n_params: int
    error: float
    r2: float
    island: int
    generation: int
    parents: tuple[int, ...] = ()
    proposer: str = ""
    demoted: bool = False

    @property
    def failed(self) -> bool:
        """A law without a finite validation error never competes."""
        return not math.isfinite(self.error)


def twins(a: Member, b: Member) -> bool:
    """Whether ``a`` and ``b`` are fit twins: selection errors equal within ``TWIN_TOLERANCE``."""
    return math.isclose(a.error, b.error, rel_tol=TWIN_TOLERANCE)


def dominates(a: Member, b: Member) -> bool:
    """``a`` is no worse than ``b`` in error and complexity, and better in one of them."""
    return (
        a.error <= b.error
        and a.complexity <= b.complexity
        and (a.error < b.error or a.complexity < b.complexity)
    )


def non_dominated(members: Iterable[Member]) -> list[Member]:
    """The non-dominated members over (error, complexity), sorted by (complexity, error, id).

    Members with equal error and complexity do not dominate each other; all stay.
    """
    front: list[Member] = []
    for m in sorted(members, key=lambda m: (m.complexity, m.error, m.id)):
        # sorted by complexity first, so only an earlier member can dominate m
        if not any(dominates(f, m) for f in front):
            front.append(m)
    return front


class Population:
    """Islands of scored laws with elitist capacity, selection, ring migration and a Pareto archive.

    ``exploration`` is the share of parent picks that ignore fitness (half a
    uniform pick, half a pick from the island's Pareto front); the rest are
    tournaments of ``tournament_size`` on penalised fitness.
    """

    def __init__(
        self,
        *,
        islands: int = 4,
        capacity: int = 32,
        migration_interval: int = 4,
        migrants: int = 2,
        complexity_weight: float = 0.01,
        param_weight: float = 0.0,
        exploration: float = 0.2,
        tournament_size: int = 3,
    ) -> None:
        checks = [
            (islands >= 1, f"islands must be at least 1, got {islands}"),
            (capacity >= 1, f"capacity must be at least 1, got {capacity}"),
            (
                migration_interval >= 1,
                f"migration_interval must be at least 1, got {migration_interval}",
            ),
            (migrants >= 0, f"migrants must be 0 or more, got {migrants}"),
            (
                math.isfinite(complexity_weight) and complexity_weight >= 0,
                f"complexity_weight must be a finite number >= 0, got {complexity_weight}",
            ),
            (
                math.isfinite(param_weight) and param_weight >= 0,
                f"param_weight must be a finite number >= 0, got {param_weight}",
            ),
            (0.0 <= exploration <= 1.0, f"exploration must be in [0, 1], got {exploration}"),
            (tournament_size >= 1, f"tournament_size must be at least 1, got {tournament_size}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        self.islands = islands
        self.capacity = capacity
        self.migration_interval = migration_interval
        self.migrants = migrants
        self.complexity_weight = complexity_weight
        self.param_weight = param_weight
        self.exploration = exploration
        self.tournament_size = tournament_size
        self._islands: list[list[Member]] = [[] for _ in range(islands)]  # each best first
        self._archive: list[Member] = []
        self._keys: set[str] = set()
        self._home: dict[int, int] = {}

    # -- ranking -----------------------------------------------------------------

    def fitness(self, member: Member) -> float:
        """:func:`sld.scoring.fitness` with this population's weights; inf for failed members.

        Scale-free: selection errors span 1e-5 to 1 across tasks, so an additive
        penalty would swamp small errors. In log space each extra node must buy a
        fixed *relative* error reduction (weight 0.01: about 2.3 % per node), each
        extra parameter likewise (``param_weight``); a demoted law ranks below all
        laws within ``DEMOTION`` decades of it.
        """
        return fitness(
            member.error,
            complexity=member.complexity,
            n_params=member.n_params,
            node_weight=self.complexity_weight,
            param_weight=self.param_weight,
            demoted=member.demoted,
        )

    def _rank(self, member: Member) -> tuple[float, int, int]:
        return (self.fitness(member), member.complexity, member.id)

    # -- membership --------------------------------------------------------------

    def add(self, member: Member) -> bool:
        """Offer a scored member to its island; True if it entered (was promoted).

        A key seen before is refused (False). A failed member (non-finite
        error) is remembered for dedupe but kept nowhere. A fit twin of a
        member on the island keeps the better-ranked of the two there. A full
        island keeps its ``capacity`` best: the worst-ranked member leaves,
        which may be the newcomer itself.
        """
        self._check_island(member.island)
        if member.key in self._keys:
            return False
        self._keys.add(member.key)
        self._home[member.id] = member.island
        if member.failed:
            return False
        if not member.demoted:  # the front holds laws that passed the extrapolation checks
            self._archive_add(member)
        return self._insert(member)

    def _insert(self, member: Member) -> bool:
        island = self._islands[member.island]
        twin = next((m for m in island if twins(m, member)), None)
        if twin is not None:
            if self._rank(twin) <= self._rank(member):
                return False
            island.remove(twin)
        bisect.insort(island, member, key=self._rank)
        if len(island) > self.capacity:
            return island.pop() is not member
        return True

    def _archive_add(self, member: Member) -> None:
        if any(dominates(a, member) for a in self._archive):
            return
        self._archive = [a for a in self._archive if not dominates(member, a)]
        bisect.insort(self._archive, member, key=lambda m: (m.complexity, m.error, m.id))

    def keys(self) -> frozenset[str]:
        """Every canonical key ever added (kept, evicted or failed)."""
        return frozenset(self._keys)

    def knows(self, key: str) -> bool:
        """Whether a member with this canonical key was ever added (kept, evicted or failed)."""
        return key in self._keys

    def island_members(self, island: int) -> list[Member]:
        """The members on ``island``, best first (migrant copies carry this island)."""
        self._check_island(island)
        return list(self._islands[island])

    def members(self) -> list[Member]:
        """Every distinct member on some island (its home copy when still home), best first."""
        seen: dict[int, Member] = {}
        for island in self._islands:
            for m in island:
                if m.id not in seen or m.island == self._home.get(m.id):
                    seen[m.id] = m
        return sorted(seen.values(), key=self._rank)

    def _check_island(self, island: int) -> None:
        if not 0 <= island < self.islands:
            raise ValueError(f"island {island} out of range; this population has {self.islands}")

    # -- selection -----------------------------------------------------------------

    def select_parents(self, *, island: int, count: int, rng: np.random.Generator) -> list[Member]:
        """Up to ``count`` distinct parents from ``island`` (fewer if it holds fewer; [] if empty).

        Each pick explores with probability ``exploration`` (a uniform pick or
        a pick from the island's own Pareto front, evenly) and otherwise wins
        a tournament of ``tournament_size`` members drawn without replacement.
        """
        self._check_island(island)
        available = list(self._islands[island])
        chosen: list[Member] = []
        for _ in range(min(count, len(available))):
            if rng.random() < self.exploration:
                pool = available if rng.random() < 0.5 else non_dominated(available)
                pick = pool[int(rng.integers(len(pool)))]
            else:
                size = min(self.tournament_size, len(available))
                drawn = rng.choice(len(available), size=size, replace=False)
                pick = min((available[int(i)] for i in drawn), key=self._rank)
            chosen.append(pick)
            available.remove(pick)
        return chosen

    # -- migration -------------------------------------------------------------------

    def is_migration_generation(self, generation: int) -> bool:
        """Migration happens on generations ``interval, 2·interval, ...`` (never on 0)."""
        return generation > 0 and generation % self.migration_interval == 0

    def migrate(self, *, generation: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
        """Ring migration: island i sends copies of its ``migrants`` best to island i + 1.

        Only on a migration generation, and only members whose key the
        destination does not already hold; the copies compete for capacity
        like any newcomer. All emigrants are chosen before any arrives, so no
        law crosses two islands in one round. Returns ``(member_id,
        from_island, to_island)`` for each copy that entered. ``rng`` is part
        of the contract for other topologies; the ring draws nothing from it.
        """
        if self.islands < 2 or self.migrants == 0 or not self.is_migration_generation(generation):
            return []
        outgoing: list[list[Member]] = []
        for i, island in enumerate(self._islands):
            there = {m.key for m in self._islands[(i + 1) % self.islands]}
            outgoing.append([m for m in island if m.key not in there][: self.migrants])
        moves = []
        for i, group in enumerate(outgoing):
            to = (i + 1) % self.islands
            for m in group:
                if self._insert(dataclasses.replace(m, island=to)):
                    moves.append((m.id, i, to))
        return moves

    # -- results -----------------------------------------------------------------------

    def pareto_front(self) -> list[Member]:
        """Non-dominated members over (error, complexity) among all ever added, by complexity."""
        return list(self._archive)

    def best(self) -> Member | None:
        """The member with the lowest penalised fitness (ties: simpler, then older); None if empty.

        An island never evicts its best, so the best on any island is the best
        ever added.
        """
        everyone = self.members()
        return everyone[0] if everyone else None

    # -- persistence -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain JSON-ready data (floats may be NaN; dump with allow_nan)."""
        return {
            "version": SNAPSHOT_VERSION,
            "options": {
                "islands": self.islands,
                "capacity": self.capacity,
                "migration_interval": self.migration_interval,
                "migrants": self.migrants,
                "complexity_weight": self.complexity_weight,
                "param_weight": self.param_weight,
                "exploration": self.exploration,
                "tournament_size": self.tournament_size,
            },
            "islands": [[_member_data(m) for m in island] for island in self._islands],
            "archive": [_member_data(m) for m in self._archive],
            "keys": sorted(self._keys),
            "homes": sorted([i, h] for i, h in self._home.items()),
        }

    @classmethod
    def restore(cls, data: Mapping[str, Any]) -> Population:
        """Rebuild a population from :meth:`snapshot`; StoreError if the data is not one."""
        try:
            if data["version"] not in READABLE_VERSIONS:
                raise StoreError(
                    f"population snapshot version {data['version']} is not one of "
                    f"{READABLE_VERSIONS}; "
                    "start a new run with --out <new dir>"
                )
            population = cls(**data["options"])
            islands = [[_member(d) for d in island] for island in data["islands"]]
            if len(islands) != population.islands:
                raise ValueError("island count differs from options")
            population._islands = [sorted(island, key=population._rank) for island in islands]
            population._archive = non_dominated(_member(d) for d in data["archive"])
            population._keys = {str(k) for k in data["keys"]}
            population._home = {int(i): int(h) for i, h in data["homes"]}
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(
                f"population snapshot is malformed ({type(exc).__name__}: {exc}); "
                "start a new run with --out <new dir>"
            ) from exc
        return population


def _member_data(m: Member) -> dict[str, Any]:
    data = dataclasses.asdict(m)
    data["parents"] = list(m.parents)
    return data


def _member(data: Mapping[str, Any]) -> Member:
    return Member(
        id=int(data["id"]),
        key=str(data["key"]),
        text=str(data["text"]),
        complexity=int(data["complexity"]),
        n_params=int(data["n_params"]),
        error=float(data["error"]),
        r2=float(data["r2"]),
        island=int(data["island"]),
        generation=int(data["generation"]),
        parents=tuple(int(p) for p in data.get("parents", ())),
        proposer=str(data.get("proposer", "")),
        demoted=bool(data.get("demoted", False)),
    )
