"""Layers import downward only, the CLI and the TUI never import each other, and no import cycles.

Every module under ``sld/`` and ``tui/`` (installed as ``sld.tui``) is read with
``ast`` (nothing is imported) and mapped to its room; every import statement,
also those inside functions and ``if TYPE_CHECKING:`` blocks, must point to a
room of the same or a lower layer. The checker is tested on planted modules too,
so a broken checker cannot pass silently.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# room -> layer; a module belongs to the longest room name it equals or starts with
ROOMS = {
    "sld": 0,  # the package itself: lazy re-exports (see FACADE)
    "sld._version": 0,
    "sld.errors": 0,
    "sld.metrics": 0,
    "sld.resources": 0,
    "sld.compile_cache": 0,
    "sld.strict_json": 0,
    "sld.law": 1,
    "sld.corpus": 1,
    "sld.fit": 2,
    "sld.scoring": 3,
    "sld.estimator": 3,
    "sld.store": 4,
    "sld.config": 5,
    "sld.proposer": 5,
    "sld.evolve": 6,
    "sld.llm": 6,
    "sld.run": 7,
    "sld.report": 7,
    "sld.plots": 7,
    "sld.bench": 7,
    "sld.cli": 8,
    "sld.tui": 8,
}
# rooms of one layer that must not import each other
APART = (("sld.evolve", "sld.llm"), ("sld.cli", "sld.tui"))
# (importing module, imported room) -> why it is allowed
ALLOWED = {
    (
        "sld.cli.tui",
        "sld.tui",
    ): "the 'sld tui' command starts the app through sld.tui.run_app, lazily",
}
# sld/__init__.py re-exports public names of lower rooms (for type checkers only; at run
# time through importlib), so its own imports are not held to layer 0
FACADE = "sld"


def tree_sources() -> dict[str, str]:
    """Module name -> source text for every module of the package and the TUI."""
    sources: dict[str, str] = {}
    for folder, package in ((REPO / "sld", "sld"), (REPO / "tui", "sld.tui")):
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            sources[".".join([package, *parts])] = path.read_text(encoding="utf-8")
    return sources


def _is_package(module: str, names: Iterable[str]) -> bool:
    return any(n.startswith(module + ".") for n in names)


def imports_of(module: str, source: str, known: set[str]) -> set[str]:
    """Project modules ``module`` imports anywhere in ``source`` (resolved, relative ones too)."""
    found: set[str] = set()
    package = module if _is_package(module, known) else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # 'from sld.store import _rows' imports a module; 'from sld.store import RunStore' a name
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t.split(".")[0] in ("sld", "tui"))
    return found


def room_of(module: str) -> str:
    """The room holding ``module``; KeyError when it belongs to none."""
    # the package room holds sld/__init__.py only: every other module needs a room of its own
    rooms = [r for r in ROOMS if module == r or (r != "sld" and module.startswith(r + "."))]
    if not rooms:
        raise KeyError(module)
    return max(rooms, key=len)


def layer_violations(sources: Mapping[str, str]) -> list[str]:
    """One line per import that goes up a layer, crosses between rooms kept apart, or is unknown."""
    known = set(sources)
    problems = []
    for module, source in sorted(sources.items()):
        try:
            room = room_of(module)
        except KeyError:
            problems.append(
                f"{module}: belongs to no room; add it to ROOMS in tests/test_layers.py"
            )
            continue
        if module == FACADE:
            continue
        for target in sorted(imports_of(module, source, known)):
            if target.split(".")[0] == "tui":
                problems.append(f"{module} imports {target}: the app installs as sld.tui")
                continue
            target_room = room_of(target)
            if (module, target_room) in ALLOWED or target_room == room:
                continue
            if ROOMS[target_room] > ROOMS[room]:
                problems.append(
                    f"{module} (layer {ROOMS[room]}) imports {target} (layer {ROOMS[target_room]})"
                )
            elif {room, target_room} in [set(pair) for pair in APART]:
                problems.append(f"{module} imports {target}: {room} and {target_room} stay apart")
    return problems


def import_cycles(sources: Mapping[str, str]) -> list[list[str]]:
    """Every group of modules that import each other, directly or round a loop."""
    known = set(sources)
    return _cycles({m: sorted(imports_of(m, s, known) & known) for m, s in sources.items()})


def room_cycles(sources: Mapping[str, str]) -> list[list[str]]:
    """Every group of rooms that import each other (a package-level cycle, e.g. evolve <-> llm)."""
    known = set(sources)
    graph: dict[str, set[str]] = {room: set() for room in ROOMS}
    for module, source in sources.items():
        if module != FACADE:
            graph[room_of(module)] |= {
                room_of(t) for t in imports_of(module, source, known) & known
            }
    return _cycles({room: sorted(targets - {room}) for room, targets in graph.items()})


def _cycles(graph: Mapping[str, list[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one node (or a node with an edge to itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(root: str) -> None:  # Tarjan, iteratively (no recursion limit on long chains)
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1 or node in graph[node]:
                        cycles.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


# -- the tree as it is --------------------------------------------------------------------------


def test_every_module_imports_only_its_own_layer_or_below():
    sources = tree_sources()
    assert len(sources) > 50 and "sld.tui.app" in sources and "sld.run" in sources
    assert layer_violations(sources) == []


def test_no_import_cycle_anywhere():
    sources = tree_sources()
    assert import_cycles(sources) == []
    assert room_cycles(sources) == []


# -- the checker, on planted modules ------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "sld.law._planted",
            "from sld.run import Run\n",
            "sld.law._planted (layer 1) imports sld.run",
        ),
        (
            "sld.store._planted",
            "def f():\n    from sld.evolve.population import Population\n",
            "(layer 4) imports sld.evolve.population (layer 6)",
        ),
        (
            "sld.config._planted",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sld.report import x\n",
            "imports sld.report (layer 7)",
        ),
        ("sld.evolve._planted", "import sld.llm._proposer\n", "sld.evolve and sld.llm stay apart"),
        ("sld.cli._planted", "from sld.tui.app import SldApp\n", "sld.cli and sld.tui stay apart"),
        ("sld.tui._planted", "from sld.cli import main\n", "sld.tui and sld.cli stay apart"),
        ("sld.llm._planted", "from ..evolve import engine\n", "imports sld.evolve.engine"),
        ("sld.planted", "import os\n", "sld.planted: belongs to no room"),
        ("sld.cli._planted", "from tui.app import run_app\n", "the app installs as sld.tui"),
    ],
)
def test_the_checker_catches_a_planted_import(module, source, expected):
    sources = {**tree_sources(), module: source}
    problems = layer_violations(sources)
    assert len(problems) == 1 and expected in problems[0], problems


def test_the_checker_catches_a_planted_cycle():
    sources = {
        **tree_sources(),
        "sld.law._planted_a": "from sld.law._planted_b import x\n",
        "sld.law._planted_b": "def f():\n    from sld.law import _planted_a\n",
    }
    assert import_cycles(sources) == [["sld.law._planted_a", "sld.law._planted_b"]]
    rooms = {**tree_sources(), "sld.corpus._planted": "from sld.law import Law\n"}
    rooms["sld.law._planted"] = "def f():\n    from sld.corpus import load_task\n"
    assert import_cycles(rooms) == [] and room_cycles(rooms) == [["sld.corpus", "sld.law"]]
