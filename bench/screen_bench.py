"""How well a cheap screening fit ranks laws the way the full fit does, and how much cheaper it is.

    python bench/screen_bench.py                       # vocab and lr_bsz, 50 laws each
    python bench/screen_bench.py --tasks vocab_scaling_law -n 30 \\
        --screens 4,40,256,float64 4,40,256,float32

Laws: half from the offline proposer (its family seeds and their mutations), half
random (offset plus power / exp / log terms, as ``fit_bench.py population`` draws).
Each law is fitted on the task's search-training rows at full fidelity (16 restarts,
200 iterations, every row, float64) and at each screen; both are scored on the
validation rows, as selection scores them. Printed per screen: Spearman's ρ between
the screen's and the full fit's validation NMSE (and train loss), how many of the
full fit's 10 best laws are in the screen's best third (what a successive-halving
round that keeps a third would promote), and the screen's speed-up, end to end and
once compiled. Then, per share a successive-halving round might keep (``--shares``):
how many of the full fit's best 10 and best 3 laws, and whether its best law, are
among the promoted. Failed fits rank last.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fit_bench import Task as BenchTask  # noqa: E402
from fit_bench import random_laws  # noqa: E402

from sld.corpus import load_task  # noqa: E402
from sld.evolve.offline import OfflineProposer  # noqa: E402
from sld.fit import Fidelity, FitResult, fit_many  # noqa: E402
from sld.metrics import nmse  # noqa: E402
from sld.proposer import ProposalRequest, task_brief  # noqa: E402
from sld.scoring import parse_for_task, predict_rows  # noqa: E402


def candidate_laws(task, n: int, seed: int) -> list:  # noqa: ANN001
    """``n`` distinct parsed laws: up to half offline proposals, the rest random laws."""
    brief = task_brief(task)
    offline: list[str] = []
    for island in range(8):
        request = ProposalRequest(
            brief=brief, parents=(), count=n // 2, generation=0, island=island, seed=seed
        )
        offline += [p.text for p in OfflineProposer().propose_now(request)]
    bench_task = BenchTask(task.name, tuple(task.inputs), tuple(task.outputs), task.search_train())
    random = [str(law.expressions[0]) for law in random_laws(bench_task, n, seed)]
    laws: list = []
    keys: set[str] = set()
    for texts, limit in ((offline, n // 2), (random, n)):
        for text in texts:
            if len(laws) >= limit:
                break
            try:
                law = parse_for_task(text, task)
            except Exception:  # noqa: BLE001 - a text this task cannot take is skipped
                continue
            if law.key not in keys:
                keys.add(law.key)
                laws.append(law)
    return laws


def validation_nmse(laws: list, fits: list[FitResult], rows) -> np.ndarray:  # noqa: ANN001
    out = []
    for law, fit in zip(laws, fits, strict=True):
        value = np.inf
        if fit.ok:
            with np.errstate(all="ignore"):
                predicted, actual = predict_rows(law, fit, rows)
                value = nmse(predicted, actual)
        out.append(value if np.isfinite(value) else np.inf)
    return np.array(out)


def timed(laws: list, rows, fidelity: Fidelity, seed: int) -> tuple[list[FitResult], float, float]:  # noqa: ANN001
    """Fits at ``fidelity`` and seconds end to end (first call) and once compiled (second)."""
    t0 = time.perf_counter()
    fits = fit_many(laws, rows, seed=seed, fidelity=fidelity)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit_many(laws, rows, seed=seed, fidelity=fidelity)
    return fits, cold, time.perf_counter() - t0


def rank_of(values: np.ndarray) -> np.ndarray:
    finite = np.where(np.isfinite(values), values, np.nanmax(values[np.isfinite(values)]) * 10)
    return finite


def parse_screen(text: str) -> Fidelity:
    restarts, max_iter, max_rows, dtype = text.split(",")
    return Fidelity(
        restarts=int(restarts),
        max_iter=int(max_iter),
        max_rows=None if max_rows in ("", "all", "none") else int(max_rows),
        dtype=dtype,  # type: ignore[arg-type]
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tasks", default="vocab_scaling_law,lr_bsz_scaling_law")
    ap.add_argument("-n", type=int, default=50, help="laws per task")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--screens",
        nargs="+",
        default=["4,40,256,float64", "4,40,256,float32", "8,60,all,float64"],
        help="restarts,max_iter,max_rows|all,float64|float32",
    )
    ap.add_argument(
        "--shares", default="0.2,0.25,0.333,0.5", help="promoted shares to report recall for"
    )
    args = ap.parse_args()
    full = Fidelity()
    for name in args.tasks.split(","):
        task = load_task(name)
        laws = candidate_laws(task, args.n, args.seed)
        rows, val = task.search_train(), task.validation()
        fits, cold, warm = timed(laws, rows, full, args.seed)
        full_nmse = validation_nmse(laws, fits, val)
        full_loss = np.array([f.train_loss for f in fits])
        n_rows = sum(len(x) for x in rows.X)
        print(
            f"{name}: {len(laws)} laws, {n_rows} search-training rows; full fit "
            f"{len(laws) / cold:.2f} laws/s end to end, {len(laws) / warm:.2f} once compiled"
        )
        best10 = set(np.argsort(rank_of(full_nmse), kind="stable")[:10])
        for text in args.screens:
            screen = parse_screen(text)
            sfits, scold, swarm = timed(laws, rows, screen, args.seed)
            s_nmse = validation_nmse(laws, sfits, val)
            s_loss = np.array([f.train_loss for f in sfits])
            rho = spearmanr(rank_of(s_nmse), rank_of(full_nmse)).statistic
            rho_loss = spearmanr(rank_of(s_loss), rank_of(full_loss)).statistic
            third = set(np.argsort(rank_of(s_nmse), kind="stable")[: max(1, len(laws) // 3)])
            print(
                f"  screen {text:22s} Spearman ρ {rho:.3f} (validation NMSE), "
                f"{rho_loss:.3f} (train loss); full top 10 in screen's best third: "
                f"{len(best10 & third)}/10; speed-up {cold / scold:.1f}× end to end, "
                f"{warm / swarm:.1f}× once compiled"
            )
            order = np.argsort(rank_of(s_nmse), kind="stable")
            full_order = np.argsort(rank_of(full_nmse), kind="stable")
            for share in (float(x) for x in args.shares.split(",")):
                kept = set(order[: max(1, int(np.ceil(share * len(laws))))])
                print(
                    f"    keep {share:.3f}: full top 10 kept {len(set(full_order[:10]) & kept)}/10, "
                    f"top 3 kept {len(set(full_order[:3]) & kept)}/3, "
                    f"best kept {'yes' if full_order[0] in kept else 'no'}"
                )


if __name__ == "__main__":
    main()
