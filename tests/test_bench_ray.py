"""sld bench --ray on a local Ray instance with 2 CPUs: the same runs as the local executor,
run stores back under --out, and a run killed on this machine resumed by a Ray task.

Needs ``pip install -e '.[ray]'``; CI installs it, and there a missing Ray fails instead of
skipping. Budgets are generations, not time, so both executors must find the same laws.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from bench_stores import (
    REPO,
    TINY_TASK,
    claim_tiny,
    event_kinds,
    fit_counts,
    kill_after_fits_in_child,
    tiny_bench,
    trace,
)

from sld.bench import BENCH_JSON, run_stage

RAY = importlib.util.find_spec("ray") is not None

pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    pytest.mark.skipif(not RAY and not os.environ.get("CI"), reason="needs pip install 'sld[ray]'"),
]


@pytest.fixture(scope="module")
def ray_cpus():
    """A local Ray instance with 2 CPUs whose workers import this checkout's sld."""
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}},
    )
    yield
    ray.shutdown()


def test_ray_bench_matches_local_and_resumes_a_killed_run(ray_cpus, tmp_path, capsys):
    local = tmp_path / "local"
    assert tiny_bench(local) == 0
    out = tmp_path / "ray"
    claim_tiny(out)
    key = f"{TINY_TASK}-s0"
    assert kill_after_fits_in_child(out, key, 3) == -9  # killed here; resumed on a Ray worker
    assert run_stage(out / "runs" / key) == "resume"
    capsys.readouterr()
    assert tiny_bench(out, "--ray", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["complete"] and data["errors"] == {}
    for seed in (0, 1):
        name = f"{TINY_TASK}-s{seed}"
        run_dir = out / "runs" / name
        assert trace(run_dir) == trace(
            local / "runs" / name
        )  # the same search, candidate by candidate
        assert set(fit_counts(run_dir).values()) == {1}
        assert fit_counts(run_dir).keys() == fit_counts(local / "runs" / name).keys()
        report = json.loads((run_dir / "report.json").read_text())
        assert Path(report["plot"]) == run_dir / "extrapolation.png"  # rewritten for --out
        assert (run_dir / "extrapolation.png").is_file() and (run_dir / "report.md").is_file()
    assert event_kinds(out / "runs" / key).count("resumed") == 1
    local_runs = json.loads((local / BENCH_JSON).read_text())["runs"]
    assert [r["chosen_law"] for r in data["runs"]] == [r["chosen_law"] for r in local_runs]
    assert [r["test_r2"] for r in data["runs"]] == [r["test_r2"] for r in local_runs]
    # and the local executor then finds nothing left to do
    assert tiny_bench(out) == 0
    assert event_kinds(out / "runs" / key).count("resumed") == 1
