"""Outputs that share no parameter are fitted apart and merged (sld.fit._parts)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from test_fit import Rows, make_law

from sld.fit import _many as many
from sld.fit import fit_law, fit_many, fit_many_sets, predict
from sld.fit._parts import KeptParts, output_parts, part_law, part_rows

N = sp.Symbol("N", positive=True)
D = sp.Symbol("D", positive=True)
E1, A1, a1, E2, A2, a2, E3, A3, a3, s = sp.symbols("E1 A1 a1 E2 A2 a2 E3 A3 a3 s", real=True)

# three outputs, each with its own floor, coefficient and exponent
SEPARATE = make_law([E1 + A1 / N**a1, E2 + A2 / D**a2, E3 + A3 / (N * D) ** a3], ["N", "D"])


def rows(*, groups: int = 2, n: int = 30, noise: float = 2e-3) -> Rows:
    rng = np.random.default_rng(5)
    xs, ys = [], []
    for g in range(groups):
        x = 10 ** rng.uniform(6, 9, size=(n, 2))
        n_, d_ = x[:, 0], x[:, 1]
        y = np.stack(
            [
                1.5 + g + 80.0 / n_**0.3,
                2.0 + 40.0 / d_ ** (0.2 + 0.05 * g),
                0.5 + 900.0 / (n_ * d_) ** 0.25,
            ],
            axis=1,
        )
        xs.append(x)
        ys.append(y * (1 + noise * rng.standard_normal(y.shape)))
    return Rows(tuple(f"g{g}" for g in range(groups)), tuple(xs), tuple(ys))


def objective(law, fit, data: Rows) -> dict[str, float]:
    """The fitter's loss, recomputed: mean over rows and outputs of ((f - y) / std(y))**2."""
    out = {}
    for g, x, y in zip(data.groups, data.X, data.y, strict=True):
        f = predict(law, fit.parameters[g], x)
        out[g] = float(np.mean(((f - y) / y.std(axis=0)) ** 2))
    return out


def test_parts_are_the_outputs_that_share_no_parameter() -> None:
    assert output_parts(SEPARATE) == ((0,), (1,), (2,))
    shared = make_law([E1 + A1 / N**s, E2 + A2 / D**a2, E3 + A3 / (N * D) ** s], ["N", "D"])
    assert output_parts(shared) == ((0, 2), (1,))
    chained = make_law([E1 + A1 / N**s, E2 + A1 / D**a2, E3 + A3 / D**a2], ["N", "D"])
    assert output_parts(chained) == ((0, 1, 2),)
    fixed = make_law([E1 + A1 / N**a1, 1 / D], ["N", "D"])
    assert output_parts(fixed) == ((0, 1),), "an output with no parameter keeps the law whole"
    one = make_law([E1 + A1 / N**a1], ["N"])
    assert output_parts(one) == ((0,),)


def test_a_part_keeps_its_own_expressions_and_parameters() -> None:
    piece = part_law(SEPARATE, (1,))
    assert piece.expressions == (SEPARATE.expressions[1],)
    assert set(piece.parameters) == {"E2", "A2", "a2"}
    assert piece.inputs == ("N", "D")
    cut = part_rows(rows(), (0, 2))
    assert all(y.shape[1] == 2 for y in cut.y)


@pytest.mark.parametrize("batched", [False, True])
def test_a_split_law_is_its_parts_fitted_alone(batched: bool) -> None:
    data = rows()
    fit = fit_many([SEPARATE], data, seed=3)[0] if batched else fit_law(SEPARATE, data, seed=3)
    assert fit.ok
    assert fit.parameter_names == list(SEPARATE.parameters)
    weights = []
    for k in range(3):
        piece = part_law(SEPARATE, (k,))
        alone = fit_law(piece, part_rows(data, (k,)), seed=3)
        weights.append(alone.group_loss)
        for g in data.groups:
            for name in piece.parameters:
                assert fit.parameters[g][name] == pytest.approx(alone.parameters[g][name], rel=1e-6)
    for g in data.groups:  # the merged loss is the parts' mean over outputs
        assert fit.group_loss[g] == pytest.approx(np.mean([w[g] for w in weights]), rel=1e-9)
    assert fit.group_loss == pytest.approx(objective(SEPARATE, fit, data), rel=1e-6)
    assert fit.train_loss == pytest.approx(np.mean(list(fit.group_loss.values())), rel=1e-12)


def test_fit_many_and_fit_law_agree_on_a_split_law() -> None:
    data = rows(noise=0.0)
    many = fit_many([SEPARATE], data, seed=0)[0]
    one = fit_law(SEPARATE, data, seed=0)
    assert many.ok and one.ok and many.converged
    assert many.train_loss < 1e-18 and one.train_loss < 1e-18
    for g in data.groups:
        for name in SEPARATE.parameters:
            assert many.parameters[g][name] == pytest.approx(one.parameters[g][name], rel=1e-6)
    assert many.parameters["g1"]["a2"] == pytest.approx(0.25, rel=1e-6)


def test_row_sets_of_a_split_law_are_each_fitted() -> None:
    data = rows()
    rng = np.random.default_rng(2)
    draws = []
    for _ in range(3):
        idx = [rng.integers(0, len(x), size=len(x)) for x in data.X]
        draws.append(
            Rows(
                data.groups,
                tuple(x[i] for x, i in zip(data.X, idx, strict=True)),
                tuple(y[i] for y, i in zip(data.y, idx, strict=True)),
            )
        )
    (per_set,) = fit_many_sets([SEPARATE], draws, seeds=[4, 5, 6])
    for got, draw, seed in zip(per_set, draws, [4, 5, 6], strict=True):
        one = fit_law(SEPARATE, draw, seed=seed)
        assert got.ok and one.ok
        assert got.train_loss == pytest.approx(one.train_loss, rel=1e-6)


def test_a_part_that_cannot_be_fitted_fails_the_law() -> None:
    data = part_rows(rows(), (0, 1))
    bad = make_law([E1 + A1 / N**a1, E2 + A2 * sp.exp(D)], ["N", "D"])  # exp(1e6) overflows
    assert output_parts(bad) == ((0,), (1,))
    for fit in (fit_many([bad], data)[0], fit_law(bad, data)):
        assert not fit.ok
        assert fit.reason and "no restart gave finite residuals" in fit.reason
        assert fit.train_loss == float("inf")
        assert fit.parameter_names == list(bad.parameters)


@pytest.fixture
def lm_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the LM runs fit_many launches, starting from an empty part cache."""
    monkeypatch.setattr(many, "KEPT", KeptParts(4096))
    launched: list[int] = []
    real = many.run_lm

    def counted(*args, **kwargs):
        launched.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(many, "run_lm", counted)
    return launched


def test_a_part_fitted_before_on_the_same_rows_is_not_fitted_again(lm_runs: list[int]) -> None:
    data = rows()
    first = fit_many([SEPARATE], data, seed=1)[0]
    assert len(lm_runs) == 3
    again = fit_many([SEPARATE], data, seed=1)[0]
    assert len(lm_runs) == 3
    assert again.parameters == first.parameters and again.group_loss == first.group_loss
    # one output changed: only that part runs, and the others are the fits they were
    changed = make_law(
        [E1 + A1 / N**a1, E2 + A2 / D**a2, E3 + A3 * sp.log(N * D) ** a3], ["N", "D"]
    )
    fit = fit_many([changed], data, seed=1)[0]
    assert len(lm_runs) == 4
    for g in data.groups:
        for name in ("E1", "A1", "a1", "E2", "A2", "a2"):
            assert fit.parameters[g][name] == first.parameters[g][name]
    many.KEPT.clear()
    assert fit_many([changed], data, seed=1)[0].parameters == fit.parameters, "the same to the bit"


def test_other_rows_seeds_or_a_clock_fit_a_part_again(lm_runs: list[int]) -> None:
    data = rows()
    fit_many([SEPARATE], data, seed=1)
    fit_many([SEPARATE], data, seed=2)
    assert len(lm_runs) == 6
    fit_many([SEPARATE], rows(n=31), seed=1)
    assert len(lm_runs) == 9
    fit_many([SEPARATE], data, seed=1, restarts=8)
    assert len(lm_runs) == 12
    fit_many([SEPARATE], data, seed=1, time_limit=60.0)
    fit_many([SEPARATE], data, seed=1, time_limit=60.0)
    assert len(lm_runs) == 18


def test_laws_of_one_call_that_share_a_part_run_it_once(lm_runs: list[int]) -> None:
    data = rows()
    other = make_law(
        [E1 + A1 / N**a1, E2 + A2 * sp.exp(-a2 * sp.log(D)), E3 + A3 / D**a3], ["N", "D"]
    )
    one, two = fit_many([SEPARATE, other], data, seed=1)
    assert len(lm_runs) == 3 + 2
    for g in data.groups:
        assert one.parameters[g]["a1"] == two.parameters[g]["a1"]
