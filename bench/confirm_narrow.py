"""Re-confirm the laws finished runs confirmed, with and without narrowing: errors and seconds.

    python bench/confirm_narrow.py RUN_DIR... [--narrow 8]

For each run directory: every law the search confirmed (a ``confirmed`` key in its stored
report) is scored again by one :func:`sld.scoring.selection_scores` call at the run's seed and
``final_restarts``, as a confirmation round makes it, once with ``narrow=0`` and once with
``--narrow`` (:class:`sld.fit.Fidelity`); which goes first alternates run by run, so neither
side always pays the compiles. Printed per run, one JSON line: the laws, both calls' seconds,
how many errors are the same (within 1e-6 relative), and the relative change of the others.
Training rows only; nothing is written to the runs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sld.config import RunConfig
from sld.scoring import parse_for_task, selection_scores
from sld.store import RunReader


def compare(run: Path, *, narrow: int, first: int) -> dict:
    """One run's confirmed laws scored at ``narrow`` 0 and ``narrow``, ``first`` of them first."""
    report = json.loads((run / "report.json").read_text())
    config = RunConfig.model_validate(report["config"])
    task = config.task.load()
    with RunReader.open(run) as reader:
        texts = [f.candidate.text for f in reader.fitted() if "confirmed" in f.report]
    laws = [parse_for_task(text, task) for text in texts]
    seconds, errors = {}, {}
    for k in (first, narrow if first == 0 else 0):
        started = time.perf_counter()
        reports = selection_scores(
            laws, task, seed=config.seed, restarts=config.final_restarts, narrow=k
        )
        seconds[k] = time.perf_counter() - started
        errors[k] = [r.error for r in reports]
    pairs = list(zip(errors[0], errors[narrow], strict=True))
    same = sum(abs(b - a) <= 1e-6 * max(abs(a), 1e-12) for a, b in pairs)
    return {
        "run": run.name,
        "laws": len(laws),
        "seconds": [round(seconds[0], 1), round(seconds[narrow], 1)],
        "same": same,
        "changed": [
            round(b / a - 1, 4) for a, b in pairs if abs(b - a) > 1e-6 * max(abs(a), 1e-12)
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished run directories")
    parser.add_argument("--narrow", type=int, default=8, help="the narrowing compared with none")
    args = parser.parse_args(argv)
    for i, run in enumerate(args.runs):
        row = compare(run, narrow=args.narrow, first=0 if i % 2 == 0 else args.narrow)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
