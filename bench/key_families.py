"""How many of a run's fits went to spellings of one law: the evidence for the law key.

    python bench/key_families.py BENCH_DIR/runs/*/

Re-parses every fully scored law of each finished run with today's parser and groups the
laws by :attr:`sld.law.Law.key` (one key per family of exact reparametrizations; see
``sld/law/_reparam.py``). Training rows only: selection errors from the run store. Prints

- laws and keys, so the share of fits a key-level duplicate check would have saved;
- families with several spellings, and in how many the first spelling fitted (the one the
  check keeps) scored more than 10 % worse than the family's best;
- per run, the best selection error against the best among first spellings only.

Runs recorded before the key changed fitted every spelling, so they show what the check
saves; nothing is written to them.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from sld.corpus import load_task
from sld.evolve.engine import member_from_fitted
from sld.evolve.text import parse_for
from sld.proposer import task_brief
from sld.store import RunReader

WORSE = 1.10  # a first spelling this many times the family's best error counts as a loss


def families(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Key → [(candidate id, selection error)] of the run's fully scored laws."""
    with RunReader.open(run) as reader:
        brief = task_brief(load_task(reader.snapshot().task))
        scored = [
            (row.candidate.id, member)
            for row in reader.fitted()
            if (member := member_from_fitted(row)) is not None
        ]
    out: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for cid, member in scored:
        out[parse_for(member.text, brief, max_params=None).key].append((cid, member.error))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished run directories")
    args = parser.parse_args(argv)
    laws = keys = several = worse = 0
    print("| run | laws | keys | best error | best among first spellings |\n|---|---|---|---|---|")
    for run in args.runs:
        found = families(run)
        firsts = [min(family)[1] for family in found.values()]
        best = min(error for family in found.values() for _, error in family)
        laws += sum(len(family) for family in found.values())
        keys += len(found)
        for family in found.values():
            if len(family) > 1:
                several += 1
                worse += min(family)[1] > WORSE * min(error for _, error in family)
        n = sum(len(family) for family in found.values())
        print(f"| {run.name} | {n} | {len(found)} | {best:.5g} | {min(firsts):.5g} |")
    print(
        f"\n{laws} fully scored laws in {keys} keys ({1 - keys / max(laws, 1):.1%} of fits on a "
        f"spelling already fitted); {several} families with several spellings, in {worse} of "
        f"them the first scored over {WORSE - 1:.0%} worse than the family's best"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
