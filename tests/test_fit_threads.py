"""Fits run from worker threads (sld.fit._threads): the same fits, whatever the thread count."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import sympy as sp
from test_fit import POWER_LAW, make_law, power_rows
from test_fit_parts import SEPARATE
from test_fit_parts import rows as three_output_rows

from sld.bench import _local
from sld.errors import FitError
from sld.fit import THREADS_ENV, fit_many, fit_many_sets, fit_threads
from sld.fit import _many as many
from sld.fit._parts import KeptParts

N = sp.Symbol("N", positive=True)
E, A, B, a, b = sp.symbols("E A B a b", real=True)

LAWS = [
    POWER_LAW,
    make_law([E + A / (N + B) ** a], ["N"]),
    make_law([E + A / N**a + B / N**b], ["N"]),
    make_law([E + A * sp.exp(-a * sp.log(N))], ["N"]),
]


def _same(one, other) -> None:
    """Two lists of FitResults hold the same fits, to the last bit."""
    assert len(one) == len(other)
    for x, y in zip(one, other, strict=True):
        assert x.ok == y.ok and x.groups == y.groups
        assert x.train_loss == y.train_loss or (np.isnan(x.train_loss) and np.isnan(y.train_loss))
        assert x.parameters == y.parameters
        assert x.iterations == y.iterations


@pytest.fixture
def runs_on(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The names of the threads fit_many's LM runs execute on (an empty part cache, so every
    part is fitted)."""
    monkeypatch.setattr(many, "KEPT", KeptParts(4096))
    names: set[str] = set()
    real_pool, real_run = many.fit_pool, many.run_lm

    class Watched:
        def __init__(self, pool) -> None:
            self.pool = pool

        def submit(self, fn):
            def noted():
                names.add(threading.current_thread().name)
                return fn()

            return self.pool.submit(noted)

    def pool():
        found = real_pool()
        return None if found is None else Watched(found)

    def run(*args, **kwargs):
        if kwargs.get("pool") is None:
            names.add(threading.current_thread().name)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(many, "fit_pool", pool)
    monkeypatch.setattr(many, "run_lm", run)
    return names


def test_laws_fitted_on_three_threads_are_the_laws_fitted_on_one(
    monkeypatch: pytest.MonkeyPatch, runs_on: set[str]
) -> None:
    data = power_rows([(1.7, 400.0, 0.3), (2.5, 50.0, 0.15)], noise=2e-3)
    monkeypatch.setenv(THREADS_ENV, "1")
    alone = fit_many(LAWS, data, restarts=6, seed=3)
    assert runs_on == {threading.main_thread().name}
    runs_on.clear()
    monkeypatch.setenv(THREADS_ENV, "3")
    threaded = fit_many(LAWS, data, restarts=6, seed=3)
    assert runs_on and all(name.startswith("sld-fit") for name in runs_on)
    assert all(r.ok for r in threaded)
    _same(alone, threaded)


def test_row_sets_and_a_law_fitted_in_parts_are_the_same_on_threads(
    monkeypatch: pytest.MonkeyPatch, runs_on: set[str]
) -> None:
    data = three_output_rows()
    sets = [data, three_output_rows(groups=1, n=20)]
    monkeypatch.setenv(THREADS_ENV, "1")
    alone = fit_many_sets([SEPARATE], sets, seeds=[1, 2], restarts=4)
    monkeypatch.setattr(many, "KEPT", KeptParts(4096))  # fit the parts again, not from the cache
    monkeypatch.setenv(THREADS_ENV, "2")
    threaded = fit_many_sets([SEPARATE], sets, seeds=[1, 2], restarts=4)
    assert any(name.startswith("sld-fit") for name in runs_on)
    _same(alone[0], threaded[0])


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_a_thread_count_that_is_not_a_positive_whole_number_is_refused(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv(THREADS_ENV, raw)
    with pytest.raises(FitError) as err:
        fit_threads()
    message = str(err.value)
    assert THREADS_ENV in message and repr(raw) in message and "\n" not in message
    with pytest.raises(FitError):
        fit_many([POWER_LAW], power_rows([(1.7, 400.0, 0.3)]), restarts=2)


def test_without_the_setting_a_process_fits_on_every_core_it_may_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.setattr("sld.fit._threads.usable_cores", lambda: 5)
    assert fit_threads() == 5


@pytest.mark.parametrize(("cores", "jobs", "each"), [(2, 2, 1), (2, 1, 2), (16, 3, 5), (2, 5, 1)])
def test_bench_workers_share_the_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int, jobs: int, each: int
) -> None:
    monkeypatch.setattr(_local, "usable_cores", lambda: cores)
    assert _local.fit_threads_each(jobs) == each
