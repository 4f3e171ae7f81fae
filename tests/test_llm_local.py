"""The local Gemma model end to end (needs the 'local' extra: llama-cpp-python + weights)."""

from __future__ import annotations

import pytest

from sld.config import LlmConfig, RunConfig, TaskSpec
from sld.llm import local_available
from sld.run import Run
from sld.store import RunStore

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(not local_available(), reason="needs pip install 'sld[local]'"),
]


def test_short_discovery_with_the_local_model(tmp_path):
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
