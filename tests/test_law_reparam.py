"""Keys of laws that are one family of functions under an exact reparametrization."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from sld.fit import fit_law
from sld.law import input_symbol, parameter_symbol, parse_law
from sld.law._reparam import reduced

PARALLEL = dict(
    inputs=("num_params", "parallel_size"),
    outputs=("loss",),
    aliases={"N": "num_params", "P": "parallel_size"},
)
N, P = input_symbol("num_params"), input_symbol("parallel_size")


@dataclass(frozen=True)
class Rows:
    """One group of rows, as :class:`sld.fit.GroupedRows` reads them."""

    groups: tuple[str, ...]
    X: tuple[np.ndarray, ...]
    y: tuple[np.ndarray, ...]


SAME = [
    ("E + A/N**alpha", "E + A*N**alpha"),
    ("E + 2*A/N", "E + 3*A/N"),
    ("E + A*exp(a*(log(N) - 16.7))", "E + A*N**a"),
    ("E + exp(a + b*log(N))", "E + exp(a)*N**b"),
    ("1/(A*(B + N**a))", "A/(B + N**(-a))"),
    ("E + 1 + A/N**a", "E + A/N**a"),
    ("E + A*exp(-2*a)*N**a", "E + A*N**a"),
    ("E + A/N**a + B*(P - 6 + C)", "E + A/N**a + B*(P + C)"),
    ("E + A/(N**a*P**b)", "E + A*exp(a*(log(N) - 20) + b*(log(P) - 1))"),
]

DIFFERENT = [
    # a parameter that occurs twice cannot change sign in one place only
    ("E + A/N**a + B/P**a", "E + A*N**a + B/P**a"),
    # exp(a) is positive, A is not
    ("E + exp(a)*N**b", "E + A*N**b"),
    # written with a different number of parameters (one of them redundant)
    ("E + A*B/N**a", "E + A/N**a"),
    ("E + A*exp(a + b*log(N))", "E + A*N**b"),
    # a square is not invertible
    ("E + A**2/N**a", "E + A/N**a"),
    # different inputs, different functions
    ("E + A/N**a", "E + A/P**a"),
    ("E + A*log(N)**a", "E + A*N**a"),
]


@pytest.mark.parametrize(("first", "second"), SAME)
def test_reparametrized_spellings_share_a_key(first, second):
    assert parse_law(first, **PARALLEL).key == parse_law(second, **PARALLEL).key


@pytest.mark.parametrize(("first", "second"), DIFFERENT)
def test_laws_that_are_not_reparametrizations_keep_different_keys(first, second):
    assert parse_law(first, **PARALLEL).key != parse_law(second, **PARALLEL).key


def _rows(law, values: dict[str, float], *, seed: int) -> Rows:
    """30 rows of ``law`` at ``values``, over N in [1e6, 1e10] and P in [1, 8]."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([10 ** rng.uniform(6, 10, 30), rng.uniform(1, 8, 30)])
    expr = law.expressions[0].xreplace({parameter_symbol(k): v for k, v in values.items()})
    y = np.array([float(expr.xreplace({N: a, P: b})) for a, b in x])[:, None]
    return Rows(("all",), (x,), (y,))


TRUTH = {"E": 1.7, "A": 3.0, "B": 0.4, "C": 2.5, "a": 0.1, "b": 0.2, "alpha": 0.3}


@pytest.mark.parametrize(("first", "second"), SAME)
def test_a_shared_key_means_each_spelling_fits_the_other_exactly(first, second):
    """The rewrites are identities: data made by one spelling at some parameters is
    fitted by the other to the fitter's precision (mean squared scaled residual)."""
    for source, target in ((first, second), (second, first)):
        made, fitted = parse_law(source, **PARALLEL), parse_law(target, **PARALLEL)
        values = {p: TRUTH[p] for p in made.parameters}
        if "exp(a +" in source:
            values["a"] = 0.5  # exp(a) is the coefficient: keep the data on the same scale
        result = fit_law(fitted, _rows(made, values, seed=1), restarts=16, seed=0)
        assert result.ok
        assert result.train_loss < 1e-10, (source, target, result.train_loss)


def test_reduction_leaves_a_law_without_reparametrizations_alone():
    law = parse_law("E + A/N**a + B/P**a", **PARALLEL)
    params = [parameter_symbol(p) for p in law.parameters]
    assert reduced(law.expressions, parameters=params, inputs=(N, P)) == law.expressions


def test_reduction_reaches_a_fixed_point():
    law = parse_law("E + A*exp(a*(log(N) - 16.7) + b*(log(P) - 1))", **PARALLEL)
    params = [parameter_symbol(p) for p in law.parameters]
    once = reduced(law.expressions, parameters=params, inputs=(N, P))
    assert reduced(once, parameters=params, inputs=(N, P)) == once
    A, E, a, b = (parameter_symbol(p) for p in ("A", "E", "a", "b"))
    assert once == (E + A * N**a * P**b,)


def test_keys_do_not_depend_on_the_process_hash_seed():
    """Keys are stored in run stores and compared across processes (bench workers, resumes),
    so no set or dict order may leak into them."""
    import json
    import os
    import subprocess
    import sys

    texts = [first for first, _ in SAME] + [second for _, second in DIFFERENT]
    script = (
        "import json, sys\n"
        "from sld.law import parse_law\n"
        "texts = json.loads(sys.argv[1])\n"
        "names = dict(inputs=('num_params', 'parallel_size'), outputs=('loss',),"
        " aliases={'N': 'num_params', 'P': 'parallel_size'})\n"
        "print(json.dumps([parse_law(t, **names).key for t in texts]))\n"
    )
    runs = []
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script, json.dumps(texts)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(done.stdout))
    assert runs[0] == runs[1] == runs[2]
    assert runs[0] == [parse_law(t, **PARALLEL).key for t in texts]
