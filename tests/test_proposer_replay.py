"""bench/proposer_replay.py: a replayed search records the same store as the one it replays."""

from __future__ import annotations

import asyncio
import json

from bench_scripts import load

from sld.corpus import load_task
from sld.proposer import ProposalRequest, task_brief

replay = load("proposer_replay")


def test_replayed_batches_are_the_recorded_ones() -> None:
    brief = task_brief(load_task("parallel_scaling_law"))
    request = ProposalRequest(brief=brief, parents=(), count=6, generation=0, island=1, seed=5)
    recording = replay.Recording()
    proposed = asyncio.run(recording.propose(request))
    assert proposed and list(recording.batches) == ["0/1"]
    batches = json.loads(json.dumps(recording.batches))  # as the file holds them
    assert asyncio.run(replay.Replaying(batches).propose(request)) == proposed


def test_a_replayed_search_records_the_store_it_replays(tmp_path) -> None:
    proposals = tmp_path / "proposals.json"
    common = dict(generations=2, seed=1, proposals=proposals)
    replay.search("parallel_scaling_law", run_dir=tmp_path / "record", replay=False, **common)
    assert json.loads(proposals.read_text())
    replay.search("parallel_scaling_law", run_dir=tmp_path / "replay", replay=True, **common)
    recorded = replay.record_of(tmp_path / "record")
    assert any(status == "fitted" for _, status, _ in recorded)
    assert replay.record_of(tmp_path / "replay") == recorded
