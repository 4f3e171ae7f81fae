"""Write five synthetic bring-your-own sweeps whose law is known (for checks such as the fold rule's).

    python bench/synthetic_sweeps.py OUT_DIR
    sld discover OUT_DIR/kaplan.csv --inputs N,D --output loss --test "N >= 2.9e9" --time 60s
    python bench/synthetic_sweeps.py --far RUN_DIR [RUN_DIR ...]   # chosen laws far beyond the data

Each has 6 model sizes N from 1e7 to 3e9 (the test split is the largest) and multiplicative
Gaussian noise of 0.3 %, drawn from one seeded generator:

* ``chinchilla.csv``: ``1.69 + 406.4/N**0.34 + 410.7/D**0.28`` on 8 token counts D from 1e9 to 1e11;
* ``kaplan.csv``: Kaplan et al.'s joint form ``((8.8e13/N)**(0.076/0.095) + 5.4e13/D)**0.095``, same grid;
* ``tokens_per_param.csv``: ``1.8 + 480/N**0.36 + 2100/D**0.33`` with D = 5 to 320 tokens per parameter,
  so that no two sizes share a token count (the over-training design).

And one sweep as ragged as a real one, with the same test rule:

* ``noisy.csv``: the Chinchilla law on 9 sizes from 2e7 to 1e10 (the test split: the largest two), each
  trained on 7 token counts drawn log-uniformly from 4 to 200 tokens per parameter, with 1 % noise.

And one IsoFLOP design, the way compute-optimal sweeps are run (test: ``N >= 5e9``, the largest models of
the top budgets):

* ``isoflop.csv``: the Chinchilla law at 9 compute budgets C from 6e18 to 3e21 FLOPs, each with 9 sizes
  from a sixth to six times sqrt(C/120) and D = C/(6N), so no two rows share N or D; 0.5 % noise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SIZES = np.geomspace(1e7, 3e9, 6)
NOISE = 0.003
# the far grid of `far`: every point beyond the training range in both N and D
FAR_N = np.geomspace(3e9, 1e11, 6)
FAR_D = np.geomspace(1e11, 1e13, 6)


def chinchilla(n: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Hoffmann et al.'s fitted law (their Approach 3)."""
    return 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28


def kaplan(n: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Kaplan et al.'s joint form in N and D."""
    return ((8.8e13 / n) ** (0.076 / 0.095) + 5.4e13 / d) ** 0.095


def over_trained(n: np.ndarray, d: np.ndarray) -> np.ndarray:
    """A Chinchilla-like law with other constants, for the tokens-per-parameter design."""
    return 1.8 + 480 / n**0.36 + 2100 / d**0.33


TRUTH = {
    "chinchilla": chinchilla,
    "kaplan": kaplan,
    "tokens_per_param": over_trained,
    "noisy": chinchilla,
    "isoflop": chinchilla,
}


def sweeps(*, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The five sweeps by file stem (columns N, D, loss)."""
    rng = np.random.default_rng(seed)
    n, d = np.meshgrid(SIZES, np.geomspace(1e9, 1e11, 8), indexing="ij")
    ratio_n, ratio = np.meshgrid(SIZES, np.array([5, 10, 20, 40, 80, 160, 320.0]), indexing="ij")
    grids = {
        "chinchilla": (n, d),
        "kaplan": (n, d),
        "tokens_per_param": (ratio_n, ratio_n * ratio),
    }
    out = {}
    for name, (N, D) in grids.items():
        loss = TRUTH[name](N, D)
        noisy = loss * (1 + rng.normal(0, NOISE, loss.shape))
        out[name] = pd.DataFrame({"N": N.ravel(), "D": D.ravel(), "loss": noisy.ravel()})
    # drawn after the three above, which stay as they were before this sweep was added
    n = np.repeat(np.geomspace(2e7, 1e10, 9), 7)
    d = n * np.exp(rng.uniform(np.log(4), np.log(200), n.shape))
    noisy = TRUTH["noisy"](n, d) * (1 + rng.normal(0, 0.01, n.shape))
    out["noisy"] = pd.DataFrame({"N": n, "D": d, "loss": noisy})
    budgets = np.repeat(np.geomspace(6e18, 3e21, 9), 9)
    n = np.sqrt(budgets / 120) * np.tile(np.geomspace(1 / 6, 6, 9), 9)
    d = budgets / (6 * n)
    noisy = TRUTH["isoflop"](n, d) * (1 + rng.normal(0, 0.005, n.shape))
    out["isoflop"] = pd.DataFrame({"N": n, "D": d, "loss": noisy})
    return out


def far(run_dirs: list[Path]) -> list[dict[str, object]]:
    """Each run's chosen law, with the parameters its report fitted on all training rows,
    against its sweep's noiseless truth on the far grid (N from 3e9 to 1e11 by D from 1e11 to
    1e13, past the training rows in both): R² there, beside the run's test R².

    A check of how a law behaves well beyond the data, which only a synthetic sweep can give
    (its truth is known); it reads no run's test rows and feeds nothing back."""
    from sld.corpus import load_task
    from sld.fit import predict
    from sld.scoring import parse_for_task

    n, d = (a.ravel() for a in np.meshgrid(FAR_N, FAR_D))
    rows = []
    for run in run_dirs:
        if not (run / "report.json").is_file():
            print(f"skipped {run}: no report.json (an unfinished run?)", file=sys.stderr)
            continue
        report = json.loads((run / "report.json").read_text())
        spec = report["config"]["task"]
        stem = Path(spec["source"]).stem
        task = load_task(
            spec["source"], inputs=spec["inputs"], outputs=spec["outputs"], test=spec["test"]
        )
        law = parse_for_task(report["chosen"]["text"], task, max_params=None)
        held = report["heldout"]["chosen"]
        predicted = np.asarray(predict(law, held["parameters"]["all"], np.column_stack([n, d])))
        truth = TRUTH[stem](n, d)
        r2 = 1 - np.sum((predicted.reshape(-1) - truth) ** 2) / np.sum((truth - truth.mean()) ** 2)
        rows.append(
            {
                "run": run.name,
                "test_r2": held["test_r2"],
                "far_r2": float(r2),
                "law": report["chosen"]["text"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "out", type=Path, help="where to write the sweeps (with --far: run folders)"
    )
    parser.add_argument("runs", type=Path, nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--far", action="store_true", help="score finished runs' chosen laws on the far grid"
    )
    args = parser.parse_args()
    if args.far:
        print("| run | test R² | far R² | chosen law |\n|---|---|---|---|")
        for row in far([args.out, *args.runs]):
            print(f"| {row['run']} | {row['test_r2']:.4f} | {row['far_r2']:.4f} | `{row['law']}` |")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for name, frame in sweeps(seed=args.seed).items():
        frame.to_csv(args.out / f"{name}.csv", index=False)
        print(args.out / f"{name}.csv")


if __name__ == "__main__":
    main()
