"""The local Gemma model end to end (needs the 'local' extra: llama-cpp-python + weights)."""

from __future__ import annotations

import pytest

from sld.config import LlmConfig, RunConfig, TaskSpec
from sld.llm import local_available, probe_failure
from sld.llm._local import default_model_path
from sld.run import Run
from sld.store import RunStore


def _why_not() -> str:
    if not local_available():
        return "needs pip install 'sld[local]'"
    problem = probe_failure(default_model_path())
    return "" if problem is None else f"the local model cannot run on this CPU: {problem}"


WHY_NOT = _why_not()
pytestmark = [pytest.mark.local_model, pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT)]


def test_short_discovery_with_the_local_model(tmp_path, capsys):
    config = RunConfig(
        task=TaskSpec(source="sft_scaling_law"),
        proposer="llm",
        llm=LlmConfig(provider="local", max_tokens=160, timeout=300),
        islands=1,
        proposals_per_island=3,
        generations=1,
        restarts=4,
        final_restarts=4,
        bootstrap=0,
    )
    run = Run.create(config, out=tmp_path)
    run.execute(report=False)
    with RunStore.open(run.run_dir, readonly=True) as store:
        calls = store.llm_calls()
        assert calls and all(c.outcome in ("ok", "invalid", "malformed") for c in calls)
        assert sum(c.completion_tokens for c in calls) > 0
        assert all(c.usd == 0.0 for c in calls)
        assert all(c.proposer == "llm" for c in store.candidates())
        assert store.events(kind="stopped")
    # llama.cpp's load notes stay out of the terminal (they broke the progress display)
    assert "llama" not in capsys.readouterr().err
