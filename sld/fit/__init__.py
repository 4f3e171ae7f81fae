"""Fitting laws: SymPy → JAX compilation, batched multi-start Levenberg–Marquardt, diagnostics."""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)

from ._data import GroupedRows as GroupedRows  # noqa: E402
from ._fidelity import FULL as FULL  # noqa: E402
from ._fidelity import SCREEN as SCREEN  # noqa: E402
from ._fidelity import Fidelity as Fidelity  # noqa: E402
from ._fit import fit_law as fit_law  # noqa: E402
from ._fit import predict as predict  # noqa: E402
from ._many import fit_many as fit_many  # noqa: E402
from ._many import fit_many_sets as fit_many_sets  # noqa: E402
from ._result import FitResult as FitResult  # noqa: E402
from ._threads import ENV as THREADS_ENV  # noqa: E402
from ._threads import fit_threads as fit_threads  # noqa: E402
from ._threads import usable_cores as usable_cores  # noqa: E402

__all__ = [
    "FULL",
    "SCREEN",
    "THREADS_ENV",
    "Fidelity",
    "FitResult",
    "GroupedRows",
    "fit_law",
    "fit_many",
    "fit_many_sets",
    "fit_threads",
    "predict",
    "usable_cores",
]
