"""bench/synthetic_sweeps.py: each sweep follows its named truth, and ``far`` scores a chosen
law against that truth beyond the data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bench_scripts import load


@pytest.fixture(scope="module")
def sweeps():
    return load("synthetic_sweeps")


def test_every_sweep_is_its_truth_within_its_noise_and_the_isoflop_one_shares_nothing(sweeps):
    frames = sweeps.sweeps(seed=0)
    assert sorted(frames) == sorted(sweeps.TRUTH)
    for name, frame in frames.items():
        truth = sweeps.TRUTH[name](frame["N"].to_numpy(), frame["D"].to_numpy())
        assert np.abs(frame["loss"].to_numpy() / truth - 1).max() < 0.05, name
    iso = frames["isoflop"]
    assert iso["N"].nunique() == iso["D"].nunique() == len(iso) == 81
    again = sweeps.sweeps(seed=0)
    assert all(frames[k].equals(again[k]) for k in frames)  # one seed, the same files


def _report(run: Path, csv: Path, law: str, params: dict[str, float]) -> None:
    run.mkdir()
    spec = {"source": str(csv), "inputs": ["N", "D"], "outputs": ["loss"], "test": "N >= 2.9e9"}
    heldout = {"chosen": {"test_r2": 0.5, "parameters": {"all": params}}}
    report = {"config": {"task": spec}, "chosen": {"text": law}, "heldout": heldout}
    (run / "report.json").write_text(json.dumps(report))


def test_far_scores_the_true_law_one_and_a_law_that_turns_below_it(sweeps, tmp_path):
    csv = tmp_path / "isoflop.csv"
    sweeps.sweeps(seed=0)["isoflop"].to_csv(csv, index=False)
    true = {"E": 1.69, "A": 406.4, "a": 0.34, "B": 410.7, "b": 0.28}
    _report(tmp_path / "true", csv, "loss = E + A/N**a + B/D**b", true)
    # the same constants, plus a log(D) term that makes the loss rise with D far out
    _report(tmp_path / "turns", csv, "loss = E + A/N**a + B/D**b + C*log(D)", {**true, "C": 0.02})
    rows = sweeps.far([tmp_path / "true", tmp_path / "turns"])
    assert [r["run"] for r in rows] == ["true", "turns"]
    assert rows[0]["far_r2"] == pytest.approx(1.0, abs=1e-12)
    assert rows[1]["far_r2"] < 0.5 and rows[1]["test_r2"] == 0.5
