"""Benchmark sld.fit against scipy.optimize.least_squares multistart.

Both sides get the same laws, the same scaled residuals (1/std per output and
group), the same starting points (``sld.fit`` draws them) and an analytic
Jacobian (forward-mode over the same program, in numpy for scipy).

    python bench/fit_bench.py single            # reference + candidate laws: fit_law vs scipy
    python bench/fit_bench.py population -n 24  # fit_many on random laws (vocab, sft) vs scipy

Prints seconds per law for each side, their ratio, and the train loss each reached.
Population mode runs fit_many twice: end to end (every compile included; the bench
never turns on the persistent compile cache) and again once every shape is compiled.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import sympy as sp  # noqa: E402
from scipy.optimize import least_squares  # noqa: E402

from sld.fit import Fidelity, _fit, _run, fit_law, fit_many  # noqa: E402
from sld.fit._evaluate import evaluate  # noqa: E402
from sld.fit._fit import _prepare_law, compiled_law, starting_points  # noqa: E402

TIDY = Path(os.environ.get("SLD_TIDY", "/work/shared/corpus-raw/tidy"))


@dataclass(frozen=True)
class BenchLaw:
    expressions: tuple[sp.Expr, ...]
    inputs: tuple[str, ...]
    parameters: tuple[str, ...]
    key: str = ""
    canonical_parameters: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Rows:
    groups: tuple[str, ...]
    X: tuple[np.ndarray, ...]
    y: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Task:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    train: Rows


def load_task(name: str) -> Task:
    """Train rows of a tidy SLDBench CSV (columns: group, split, inputs…, outputs…).

    Without the tidy corpus (``SLD_TIDY``, e.g. on a lent GPU machine), the curated
    task's training rows (the same rows, as ``datasets/`` ships them).
    """
    if not (TIDY / f"{name}.csv").exists():
        from sld.corpus import load_task as load_curated

        curated = load_curated(name)
        train = curated.train()
        rows = Rows(tuple(train.groups), tuple(train.X), tuple(train.y))
        return Task(name, tuple(curated.inputs), tuple(curated.outputs), rows)
    df = pd.read_csv(TIDY / f"{name}.csv")
    cols = [c for c in df.columns if c not in ("group", "split")]
    n_out = {"domain_mixture_scaling_law": 5}.get(name, 1)
    inputs, outputs = tuple(cols[:-n_out]), tuple(cols[-n_out:])
    df = df[df.split == "train"]
    groups = tuple(sorted(df.group.unique()))
    X = tuple(df[df.group == g][list(inputs)].to_numpy(float) for g in groups)
    y = tuple(df[df.group == g][list(outputs)].to_numpy(float) for g in groups)
    return Task(name, inputs, outputs, Rows(groups, X, y))


def make_law(task: Task, build: Callable[..., list[sp.Expr]]) -> BenchLaw:
    """A law from ``build(*input_symbols)``; every other symbol is a parameter."""
    syms = [sp.Symbol(n, positive=True) for n in task.inputs]
    exprs = build(*syms)
    names = sorted({str(s) for e in exprs for s in e.free_symbols} - set(task.inputs))
    return BenchLaw(tuple(exprs), task.inputs, tuple(names))


def P(names: str) -> tuple[sp.Symbol, ...]:
    return tuple(sp.Symbol(n, real=True) for n in names.split())


def reference_laws() -> dict[str, Callable[..., list[sp.Expr]]]:
    E, A, alpha, k, B, Dl, beta = P("E A alpha k B Dl beta")

    def parallel(N, Pp):  # noqa: ANN001, ANN202
        return [E + (A * sp.Float(1e9) / (N * (k * sp.log(Pp) + 1))) ** alpha]

    def vocab(Nnv, V, C):  # noqa: ANN001, ANN202
        A1, A2, a1, a2, b = P("A1 A2 a1 a2 b")
        return [-E + A1 / Nnv**a1 + A2 / V**a2 + B / C**b]

    def sft(D):  # noqa: ANN001, ANN202
        return [B / (Dl + D**beta) + E]

    def domain_mixture(*r):  # noqa: ANN002, ANN202
        out = []
        for i in range(5):
            c, kk = P(f"c{i} k{i}")
            t = P(" ".join(f"t{i}{j}" for j in range(5)))
            out.append(c + kk * sp.exp(sum(tj * rj for tj, rj in zip(t, r, strict=True))))
        return out

    def moe(Ex, N):  # noqa: ANN001, ANN202
        a, b, c, d, Es, Em = P("a b c d Es Em")
        Ehat = 1 / (1 / (Ex - 1 + 1 / (1 / Es - 1 / Em)) + 1 / Em)
        return [sp.exp(a * sp.log(N) + b * sp.log(Ehat) + c * sp.log(N) * sp.log(Ehat) + d)]

    def data_constrained(D, N, U):  # noqa: ANN001, ANN202
        Rd, bb = P("Rd bb")
        Dp = U + U * Rd * (1 - sp.exp(-(D / U - 1) / Rd))
        return [E + A / N**alpha + bb / Dp**beta]

    def easy_question(x):  # noqa: ANN001, ANN202
        c = P("c0 c1 c2 c3 c4 c5")
        return [sum(ci * x**i for i, ci in enumerate(c))]

    return {
        "parallel_scaling_law": parallel,
        "vocab_scaling_law": vocab,
        "sft_scaling_law": sft,
        "domain_mixture_scaling_law": domain_mixture,
        "moe_scaling_law": moe,
        "data_constrained_scaling_law": data_constrained,
        "easy_question_scaling_law": easy_question,
    }


def candidate_laws() -> list[tuple[str, Callable[..., list[sp.Expr]]]]:
    """Hand-written variants (≥ 20) on parallel, sft and vocab."""
    E, A, a, b, k, B, c = P("E A a b k B c")
    sft = [
        lambda D: [E + A / D**a],
        lambda D: [E + A / (D + B) ** a],
        lambda D: [E + A * sp.exp(-a * D)],
        lambda D: [E + A * sp.log(D)],
        lambda D: [E + A / D**a + B / D**b],
        lambda D: [A * D**a],
        lambda D: [E + A / (1 + (D / B) ** a)],
        lambda D: [E + A * sp.tanh(B / D**a)],
        lambda D: [(E + A / D**a) ** b],
        lambda D: [E + A / sp.log(D) ** a],
    ]
    parallel = [
        lambda N, Pp: [E + A / N**a],
        lambda N, Pp: [E + A / N**a + B / Pp**b],
        lambda N, Pp: [E + A / (N * Pp**k) ** a],
        lambda N, Pp: [E + A / N**a * (1 + B * sp.log(Pp)) ** (-b)],
        lambda N, Pp: [E + (A / N) ** a / (1 + k * sp.log(Pp))],
        lambda N, Pp: [E + A * sp.exp(-a * sp.log(N) - b * sp.log(Pp))],
    ]
    vocab = [
        lambda Nn, V, C: [E + A / Nn**a + B / C**b],
        lambda Nn, V, C: [E + A / Nn**a + B / C**b + k * sp.log(V)],
        lambda Nn, V, C: [E + A / (Nn * V**c) ** a + B / C**b],
        lambda Nn, V, C: [-E + A * Nn ** (-a) * V**c + B * C ** (-b)],
        lambda Nn, V, C: [E + A / Nn**a + B / C**b + k * (sp.log(V) - c) ** 2],
        lambda Nn, V, C: [E + (A / Nn**a + B / C**b) ** c],
    ]
    return (
        [("sft_scaling_law", f) for f in sft]
        + [("parallel_scaling_law", f) for f in parallel]
        + [("vocab_scaling_law", f) for f in vocab]
    )


def scipy_fit(law: BenchLaw, rows: Rows, *, restarts: int, seed: int) -> tuple[float, float]:
    """Multistart least_squares (trf, analytic Jacobian) per group; returns (seconds, train loss)."""
    start = time.perf_counter()
    compiled, prepared = _prepare_law(law, rows, log_space=False, huber_delta=1.0)
    program = compiled.program
    p0 = starting_points(program, prepared, restarts=restarts, seed=seed)
    losses = []
    for X, y in zip(rows.X, rows.y, strict=True):
        y = y.reshape(len(X), -1)
        scale = 1.0 / np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0)

        def fun(
            p: np.ndarray, X: np.ndarray = X, y: np.ndarray = y, scale: np.ndarray = scale
        ) -> np.ndarray:
            f, _ = evaluate(program, p, X, xp=np, tangents=False)
            return ((f - y) * scale).ravel()

        def jac(p: np.ndarray, X: np.ndarray = X, scale: np.ndarray = scale) -> np.ndarray:
            _, j = evaluate(program, p, X, xp=np)
            return (j * scale[None, :, None]).reshape(-1, program.n_params)

        best = np.inf
        with np.errstate(all="ignore"):
            for r in range(restarts):
                try:
                    res = least_squares(fun, p0[r], jac=jac)
                except ValueError:  # non-finite residuals at the start
                    continue
                if np.isfinite(res.cost):
                    best = min(best, 2.0 * res.cost / y.size)
        losses.append(best)
    return time.perf_counter() - start, float(np.mean(losses))


def run_single(restarts: int, seed: int) -> None:
    tasks: dict[str, Task] = {}
    jobs = [(name, "reference", build) for name, build in reference_laws().items()]
    jobs += [(name, f"candidate {i}", build) for i, (name, build) in enumerate(candidate_laws())]
    print(
        f"{'task':30s} {'law':13s} {'P':>3s} {'ours s':>8s} {'(compile)':>9s} {'scipy s':>8s} {'ratio':>6s} {'ours loss':>12s} {'scipy loss':>12s}"
    )
    wins = 0
    for name, label, build in jobs:
        if name not in tasks:
            tasks[name] = load_task(name)
        task = tasks[name]
        law = make_law(task, build)
        res = fit_law(law, task.train, restarts=restarts, seed=seed)
        s_sec, s_loss = scipy_fit(law, task.train, restarts=restarts, seed=seed)
        wins += res.train_loss <= s_loss * (1 + 1e-6)
        print(
            f"{name:30s} {label:13s} {len(law.parameters):3d} {res.seconds:8.2f} {res.compile_seconds:9.2f} "
            f"{s_sec:8.2f} {s_sec / res.seconds:6.2f} {res.train_loss:12.6g} {s_loss:12.6g}"
        )
    print(f"ours <= scipy (rel 1e-6) on {wins}/{len(jobs)} laws")


def random_laws(task: Task, n: int, seed: int) -> list[BenchLaw]:
    """n distinct random laws: offset + 1–3 terms of coefficient × (power | exp | log) of inputs."""
    rng = np.random.default_rng(seed)
    syms = [sp.Symbol(s, positive=True) for s in task.inputs]
    laws: dict[str, BenchLaw] = {}
    while len(laws) < n:
        counter = iter(range(100))

        def p(counter: Iterator[int] = counter) -> sp.Symbol:
            return sp.Symbol(f"p{next(counter)}", real=True)

        def factor() -> sp.Expr:
            x = syms[rng.integers(len(syms))]
            kind = rng.integers(5)
            if kind == 0:
                return x ** (-p())
            if kind == 1:
                return (x + p()) ** (-p())
            if kind == 2:
                return sp.exp(-p() * sp.log(x))
            if kind == 3:
                return sp.log(x) ** p()
            return 1 / (1 + p() * x ** p())

        terms = []
        for _ in range(rng.integers(1, 4)):
            term = p() * factor()
            if rng.random() < 0.3:
                term = term * factor()
            terms.append(term)
        expr = p() + sum(terms)
        if rng.random() < 0.15:
            expr = expr ** p()
        names = sorted(str(s) for s in expr.free_symbols if str(s) not in task.inputs)
        if len(names) > 8:
            continue
        laws.setdefault(sp.srepr(expr), BenchLaw((expr,), task.inputs, tuple(names)))
    return list(laws.values())


def run_population(
    n: int,
    restarts: int,
    seed: int,
    tasks: list[str],
    max_iter: int,
    *,
    scipy_laws: int | None = None,
    scipy_seconds: float | None = None,
    dtype: str = "float64",
    scipy_only: bool = False,
    losses: bool = False,
    polish: int = 0,
    narrow: int = 0,
) -> None:
    """fit_many end to end and once compiled, against scipy on the same laws.

    ``scipy_only``: time scipy alone (for a second process pinned to its own core while
    this one runs our side on another backend); ``losses``: also print each law's train
    loss, so two such runs can be compared law by law.

    ``scipy_laws``: time scipy on the first k laws only (laws/s and losses compared on
    those), for machines where scipy on every law takes too long; ``scipy_seconds``: stop
    after the law that passes this many seconds.
    """
    fidelity = Fidelity(
        restarts=restarts,
        max_iter=max_iter,
        polish=polish,
        narrow=narrow,
        dtype=dtype,  # type: ignore[arg-type]
    )
    for name in tasks:
        task = load_task(name)
        laws = random_laws(task, n, seed)
        for law in laws:
            compiled_law(law)  # warm sympy caches evenly for neither side
        if scipy_only:
            theirs, t = _time_scipy(
                laws, task.train, restarts, seed, scipy_laws=scipy_laws, scipy_seconds=scipy_seconds
            )
            print(
                f"{name}: scipy alone, {len(theirs)} of {len(laws)} laws, {restarts} restarts: "
                f"{len(theirs) / t:.3f} laws/s ({t:.1f} s)\n"
                "  scipy losses: " + " ".join(f"{loss:.6g}" for _, loss in theirs)
            )
            continue
        t0 = time.perf_counter()
        ours = fit_many(laws, task.train, seed=seed, fidelity=fidelity)
        t_ours = time.perf_counter() - t0
        compile_s = sum(r.compile_seconds for r in ours)
        t0 = time.perf_counter()
        fit_many(laws, task.train, seed=seed, fidelity=fidelity)  # again, every shape compiled
        t_warm = time.perf_counter() - t0
        theirs, t_scipy = _time_scipy(
            laws, task.train, restarts, seed, scipy_laws=scipy_laws, scipy_seconds=scipy_seconds
        )
        k = len(theirs)
        scipy_rate = k / max(t_scipy, 1e-9)
        pairs = [
            (i, r.train_loss, s)
            for i, (r, (_, s)) in enumerate(zip(ours[:k], theirs, strict=True))
            if np.isfinite(s) or np.isfinite(r.train_loss)
        ]
        worse = [(i, o, s) for i, o, s in pairs if not o <= s * (1 + 1e-6) + 1e-12]
        share = 1.0 - len(worse) / max(len(pairs), 1)
        print(
            f"{name}: {len(laws)} laws, {restarts} restarts, {len(task.train.groups)} groups, "
            f"reproject={_fit.REPROJECT}, damping={_fit.DAMPING}, log_scales={_fit.LOG_SCALES}, narrow={narrow}@{_run.NARROW_AT}, max_iter={max_iter}, polish={polish}, {dtype}, "
            f"backend={jax.default_backend()}:\n"
            f"  ours  {len(laws) / t_ours:.2f} laws/s end to end ({t_ours:.1f} s, {compile_s:.1f} s of it compiling), "
            f"{len(laws) / t_warm:.2f} laws/s once compiled ({t_warm:.1f} s); "
            f"mean train loss {np.mean([r.train_loss for r in ours]):.6g}"
        )
        if losses:
            print("  ours losses: " + " ".join(f"{r.train_loss:.6g}" for r in ours))
        if k == 0:  # --scipy-laws 0: our side only
            continue
        print(
            f"  scipy {scipy_rate:.2f} laws/s ({t_scipy:.1f} s for {k} laws)\n"
            f"  throughput ratio {len(laws) / t_ours / scipy_rate:.2f} end to end, "
            f"{len(laws) / t_warm / scipy_rate:.2f} once compiled; "
            f"ours <= scipy on {share:.0%} of {len(pairs)} laws"
        )
        for i, o, s in worse[:5]:
            print(f"   worse: law {i}: ours {o:.6g} scipy {s:.6g}  {laws[i].expressions[0]}")


def _time_scipy(
    laws: list[BenchLaw],
    rows: Rows,
    restarts: int,
    seed: int,
    *,
    scipy_laws: int | None,
    scipy_seconds: float | None,
) -> tuple[list[tuple[float, float]], float]:
    """scipy_fit on the first ``scipy_laws`` laws, stopping after the law that passes
    ``scipy_seconds``: each law's (seconds, loss), and the seconds spent in all."""
    k = len(laws) if scipy_laws is None else min(scipy_laws, len(laws))
    t0 = time.perf_counter()
    theirs = []
    for law in laws[:k]:
        theirs.append(scipy_fit(law, rows, restarts=restarts, seed=seed))
        if scipy_seconds is not None and time.perf_counter() - t0 > scipy_seconds:
            break
    return theirs, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("mode", choices=["single", "population"])
    ap.add_argument("-n", type=int, default=24, help="laws per task in population mode")
    ap.add_argument("--restarts", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tasks", default="vocab_scaling_law,sft_scaling_law")
    ap.add_argument(
        "--reproject",
        choices=["exact", "affine", "none"],
        default="exact",
        help="LM variable projection after each step (sld.fit._lm.lm_run)",
    )
    ap.add_argument(
        "--damping",
        choices=["marquardt", "levenberg", "mixed"],
        default=_fit.DAMPING,
        help="LM damping (sld.fit._lm.lm_run): λ·D² scaled by diag(JᵀJ), λ·I, or mixed "
        "(even restarts λ·D², odd ones λ·I)",
    )
    ap.add_argument(
        "--log-scales",
        choices=["on", "off"],
        default="on",
        help="move scale-like coefficients in log|p| (sld.fit._scales; on: sld's)",
    )
    ap.add_argument(
        "--max-iter", type=int, default=200, help="LM iterations per fit (scipy: 100·P evaluations)"
    )
    ap.add_argument(
        "--polish",
        type=int,
        default=0,
        help="iterations each group's best restart may run on alone past the cap "
        "(sld.fit._polish.lm_polish; 0, sld's default, for none)",
    )
    ap.add_argument(
        "--narrow",
        default=f"0@{_run.NARROW_AT}",
        help="KEEP@AT: after AT iterations only each group's KEEP best restarts run on, in a "
        "batch of large groups (sld.fit.Fidelity.narrow, e.g. 8@20; default 0: never, as "
        "sld's fits by default)",
    )
    ap.add_argument(
        "--scipy-laws",
        type=int,
        default=None,
        help="time scipy on the first k laws only (0: no scipy)",
    )
    ap.add_argument(
        "--scipy-seconds", type=float, default=None, help="stop scipy after about this long"
    )
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--scipy-only", action="store_true", help="time scipy alone")
    ap.add_argument("--losses", action="store_true", help="print each law's train loss")
    args = ap.parse_args()
    _fit.REPROJECT = args.reproject
    _fit.DAMPING = args.damping
    _fit.LOG_SCALES = args.log_scales == "on"
    narrow, _run.NARROW_AT = (int(v) for v in args.narrow.split("@"))
    if args.mode == "single":
        run_single(args.restarts, args.seed)
    else:
        run_population(
            args.n,
            args.restarts,
            args.seed,
            args.tasks.split(","),
            args.max_iter,
            scipy_laws=args.scipy_laws,
            scipy_seconds=args.scipy_seconds,
            dtype=args.dtype,
            scipy_only=args.scipy_only,
            losses=args.losses,
            polish=args.polish,
            narrow=narrow,
        )


if __name__ == "__main__":
    main()
