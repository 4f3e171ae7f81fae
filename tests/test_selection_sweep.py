"""bench/selection_sweep.py's probe table: a law failing the checks at a probe ranks below one
that passes, and only at the probes where it fails."""

from __future__ import annotations

import pytest
from bench_scripts import load


@pytest.fixture(scope="module")
def sweep():
    return load("selection_sweep")


def _law(name: str, *, folds: list[float], r2: float, far_ok: bool) -> dict:
    setting = {
        "folds": folds,
        "checks": True,
        "probes": {"10": True, "100": True, "1000": far_ok},
        "far": {"1000": True, "10000": True, "100000": far_ok, "1e+06": far_ok},
        "r2": r2,
    }
    return {"law": name, "nodes": 9, "params": 4, "nested": setting, "real": dict(setting)}


def test_a_law_that_fails_only_far_out_loses_its_place_only_at_the_far_probe(sweep):
    pool = [
        _law("turns", folds=[0.01, 0.02, 0.03], r2=0.2, far_ok=False),
        _law("holds", folds=[0.02, 0.03, 0.04], r2=0.9, far_ok=True),
    ]
    near = (*sweep.CURRENT, "10")
    far = (*sweep.CURRENT, "1000")
    assert sweep._ranked(pool, "nested", near)[0]["law"] == "turns"
    assert sweep._ranked(pool, "nested", far)[0]["law"] == "holds"
    assert sweep._top_mean(pool, "nested", far, 1) == pytest.approx(0.9)
    table = sweep.probes({"task-s0": pool}).splitlines()
    rows = {line.split(" | ")[0]: line for line in table if line.startswith("| 1")}
    assert rows["| 10"].split(" | ")[1] == "0.200 (0.200)"
    assert rows["| 1000"].split(" | ")[1] == "0.900 (0.900)"


def test_the_far_table_demotes_a_law_only_from_the_factor_where_its_direction_turns(sweep):
    pool = [
        _law("turns", folds=[0.01, 0.02, 0.03], r2=0.2, far_ok=False),
        _law("holds", folds=[0.02, 0.03, 0.04], r2=0.9, far_ok=True),
    ]
    table = sweep.far({"task-s0": pool}).splitlines()
    rows = {line.split(" | ")[0]: line.split(" | ")[1] for line in table if line.startswith("| 1")}
    assert rows == {
        "| 1000": "0.200 (0.200)",
        "| 10000": "0.200 (0.200)",
        "| 100000": "0.900 (0.900)",
        "| 1e+06": "0.900 (0.900)",
    }
