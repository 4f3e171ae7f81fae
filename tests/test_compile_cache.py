"""The persistent compile cache: the fitter turns it on, so the Python API uses it too.

Each case runs in a fresh interpreter: JAX's cache settings are global to a process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Fit one law through the public API and print the folder the fitter gave JAX.
FIT = """
import json, sys
import numpy as np
import pandas as pd
import jax
if len(sys.argv) > 1:
    jax.config.update("jax_compilation_cache_dir", sys.argv[1])
import sld
n = np.array([1e7, 3e7, 1e8, 3e8, 1e9, 3e9])
frame = pd.DataFrame({"N": n, "loss": 2.0 + 300.0 / n**0.3})
report = sld.score("loss = E + A/N**a", sld.load_task(frame, inputs=["N"], outputs=["loss"], test="N >= 3e9"))
print(json.dumps({"r2": report.metrics.r2, "dir": jax.config.jax_compilation_cache_dir}))
"""


def _fit(tmp_path: Path, *args: str, **env: str) -> dict[str, object]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SLD_")}
    environ.update(env)
    done = subprocess.run(
        [sys.executable, "-c", FIT, *args],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _entries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.mark.slow
def test_the_python_api_writes_and_reads_the_cache(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    first = _fit(tmp_path, SLD_CACHE_DIR=str(root))
    assert first["dir"] == str(root / "jax")
    written = _entries(root / "jax")
    assert written, "the first process compiled the fitter and kept it"
    second = _fit(tmp_path, SLD_CACHE_DIR=str(root))
    assert second["r2"] == first["r2"]
    assert sorted(_entries(root / "jax")) == sorted(written), "the second process only read"


@pytest.mark.slow
def test_turned_off_or_set_by_the_caller_the_cache_is_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    off = _fit(tmp_path, SLD_CACHE_DIR=str(root), SLD_COMPILE_CACHE="0")
    assert off["dir"] is None
    assert not root.exists()
    own = tmp_path / "mine"
    kept = _fit(tmp_path, str(own), SLD_CACHE_DIR=str(root))
    assert kept["dir"] == str(own)
    assert not root.exists()
    assert _entries(own), "JAX used the caller's folder"
