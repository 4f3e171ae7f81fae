"""What the offline proposer's work costs a search: the same search with its proposals replayed.

    python bench/proposer_replay.py TASK [--generations 12] [--seed 0] [--pairs 2] [--out DIR]

Each pair runs the search of ``sld discover TASK --generations N --seed S`` (the engine alone:
no final pick, no held-out score) twice, each in a fresh process, one right after the other:
first with the offline proposer at work, writing every batch it returns to a JSON file; then
with those batches handed back at once. A run's proposals are a function of its seed and its
population, so both runs record the same store, and this checks it (every candidate's text,
status and validation error). The difference in search seconds is what the proposer's work
costs the search, whether on the critical path or through the interpreter lock it holds
(README, "Speed"). Printed: one JSON line per run, then the seconds of each side.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sld.config import RunConfig, TaskSpec
from sld.evolve import offline
from sld.evolve.engine import Engine
from sld.proposer import Proposal, ProposalRequest
from sld.store import RunReader, RunStore


def _batch(request: ProposalRequest) -> str:
    """The key a request's batch is kept under: its generation and island."""
    return f"{request.generation}/{request.island}"


class Recording:
    """The offline proposer, keeping every batch it returns in ``batches``."""

    name = offline.NAME

    def __init__(self) -> None:
        self.inner = offline.OfflineProposer()
        self.batches: dict[str, list[dict[str, Any]]] = {}

    async def propose(self, request: ProposalRequest) -> list[Proposal]:
        out = await self.inner.propose(request)
        self.batches[_batch(request)] = [dataclasses.asdict(p) for p in out]
        return out


class Replaying:
    """Answers each request at once with the batch ``Recording`` kept for it."""

    name = offline.NAME

    def __init__(self, batches: dict[str, list[dict[str, Any]]]) -> None:
        self.batches = batches

    async def propose(self, request: ProposalRequest) -> list[Proposal]:
        given = self.batches[_batch(request)]
        return [Proposal(**{**p, "parents": tuple(p["parents"])}) for p in given]


def search(
    task_name: str, *, generations: int, seed: int, run_dir: Path, proposals: Path, replay: bool
) -> float:
    """Run one search into ``run_dir``; returns its seconds. Records the proposals to
    ``proposals``, or replays them from it."""
    config = RunConfig(task=TaskSpec(source=task_name), seed=seed, generations=generations)
    task = config.task.load()
    store = RunStore.create(
        run_dir, task=task.name, seed=seed, config=config.model_dump(), versions={}
    )
    recording = Recording()
    proposer = Replaying(json.loads(proposals.read_text())) if replay else recording
    engine = Engine(task=task, config=config, store=store, proposer=proposer)
    started = time.perf_counter()
    asyncio.run(engine.run())
    seconds = time.perf_counter() - started
    store.close()
    if not replay:
        proposals.write_text(json.dumps(recording.batches))
    return seconds


def record_of(run_dir: Path) -> list[tuple[Any, ...]]:
    """Each candidate's text, status and validation error, in order."""
    with RunReader.open(run_dir) as reader:
        errors = {f.candidate.id: f.error for f in reader.fitted()}
        return [(c.text, c.status, errors.get(c.id)) for c in reader.candidates()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("--generations", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", choices=("record", "replay"), help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--proposals", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spent = search(
            args.task,
            generations=args.generations,
            seed=args.seed,
            run_dir=args.run_dir,
            proposals=args.proposals,
            replay=args.child == "replay",
        )
        print(json.dumps({"seconds": spent}))
        return 0
    out = args.out or Path(tempfile.mkdtemp(prefix="proposer-replay-"))
    seconds: dict[str, list[float]] = {"record": [], "replay": []}
    for pair in range(args.pairs):
        proposals = out / f"proposals-{pair}.json"
        runs = {}
        for side in ("record", "replay"):
            runs[side] = out / f"{side}-{pair}"
            done = subprocess.run(
                [sys.executable, __file__, args.task, "--generations", str(args.generations),
                 "--seed", str(args.seed), "--child", side, "--run-dir", str(runs[side]),
                 "--proposals", str(proposals)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            took = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
            seconds[side].append(took)
            print(json.dumps({"pair": pair, "side": side, "seconds": round(took, 1)}), flush=True)
        if record_of(runs["record"]) != record_of(runs["replay"]):
            print(f"pair {pair}: the replayed search recorded another store", file=sys.stderr)
            return 1
    print(json.dumps({k: [round(s, 1) for s in v] for k, v in seconds.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
