"""JAX's persistent compilation cache, so a fit compiles once per machine, not per process.

The batched fitter's interpreter takes tens of seconds to compile on a 2-core
CPU; cached, a new process pays about 5 s. The cache lives in
``$SLD_CACHE_DIR/jax`` (default ``$XDG_CACHE_HOME/sld`` or ``~/.cache/sld``);
``SLD_COMPILE_CACHE=0`` turns it off. A cache that cannot be created is skipped
silently: it only ever saves time.

The fitter turns it on before its first compile (:func:`sld.fit.fit_law` and
:func:`sld.fit.fit_many` alike), so the Python API, the CLI and bench workers all use it;
a cache folder the process already gave JAX (``jax_compilation_cache_dir``) is kept.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Where compiled programs are kept."""
    root = os.environ.get("SLD_CACHE_DIR")
    if root:
        return Path(root) / "jax"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "sld" / "jax"


_ANSWER: list[Path | None] = []  # the first call's answer; later calls repeat it


def enable_compile_cache() -> Path | None:
    """Point JAX at the persistent cache, once per process; returns the folder in use, or None
    when disabled or unusable. A folder already set in JAX's config is left as it is."""
    if not _ANSWER:
        _ANSWER.append(_enable())
    return _ANSWER[0]


def _enable() -> Path | None:
    if os.environ.get("SLD_COMPILE_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    import jax

    given = getattr(jax.config, "jax_compilation_cache_dir", None)  # set by the caller?
    if given:
        return Path(given)
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory
