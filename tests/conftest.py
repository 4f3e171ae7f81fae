"""Shared test setup: float64 JAX with strict promotion so silent broadcasting fails loudly,
and property tests that check results, not speed."""

from __future__ import annotations

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

# No per-example deadline and no health check that times data generation: on a loaded
# machine both fail for no fault of the code. A test may still set its own settings.
settings.register_profile("sld", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("sld")
