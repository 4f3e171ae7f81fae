"""Write five synthetic bring-your-own sweeps whose law is known (for checks such as the fold rule's).

    python bench/synthetic_sweeps.py OUT_DIR
    sld discover OUT_DIR/kaplan.csv --inputs N,D --output loss --test "N >= 2.9e9" --time 60s

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
from pathlib import Path

import numpy as np
import pandas as pd

SIZES = np.geomspace(1e7, 3e9, 6)
NOISE = 0.003


def sweeps(*, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The five sweeps by file stem (columns N, D, loss)."""
    rng = np.random.default_rng(seed)
    n, d = np.meshgrid(SIZES, np.geomspace(1e9, 1e11, 8), indexing="ij")
    ratio_n, ratio = np.meshgrid(SIZES, np.array([5, 10, 20, 40, 80, 160, 320.0]), indexing="ij")
    laws = {
        "chinchilla": (n, d, 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28),
        "kaplan": (n, d, ((8.8e13 / n) ** (0.076 / 0.095) + 5.4e13 / d) ** 0.095),
        "tokens_per_param": (
            ratio_n,
            ratio_n * ratio,
            1.8 + 480 / ratio_n**0.36 + 2100 / (ratio_n * ratio) ** 0.33,
        ),
    }
    out = {}
    for name, (N, D, loss) in laws.items():
        noisy = loss * (1 + rng.normal(0, NOISE, loss.shape))
        out[name] = pd.DataFrame({"N": N.ravel(), "D": D.ravel(), "loss": noisy.ravel()})
    # drawn after the three above, which stay as they were before this sweep was added
    n = np.repeat(np.geomspace(2e7, 1e10, 9), 7)
    d = n * np.exp(rng.uniform(np.log(4), np.log(200), n.shape))
    loss = 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28
    noisy = loss * (1 + rng.normal(0, 0.01, loss.shape))
    out["noisy"] = pd.DataFrame({"N": n, "D": d, "loss": noisy})
    budgets = np.repeat(np.geomspace(6e18, 3e21, 9), 9)
    n = np.sqrt(budgets / 120) * np.tile(np.geomspace(1 / 6, 6, 9), 9)
    d = budgets / (6 * n)
    loss = 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28
    noisy = loss * (1 + rng.normal(0, 0.005, loss.shape))
    out["isoflop"] = pd.DataFrame({"N": n, "D": d, "loss": noisy})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, frame in sweeps(seed=args.seed).items():
        frame.to_csv(args.out / f"{name}.csv", index=False)
        print(args.out / f"{name}.csv")


if __name__ == "__main__":
    main()
