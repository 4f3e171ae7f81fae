"""What a run needs before it starts: its folder, the versions it records, and the proposer
its config asks for (the no-endpoint policy is in :mod:`sld.run`)."""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sld.config import Budgets, RunConfig
from sld.corpus import Task
from sld.errors import ConfigError
from sld.evolve.offline import OfflineProposer
from sld.llm import ChatTransport, LlmProposer, MixedProposer, recorded_harvests, transport_for
from sld.proposer import Proposer
from sld.store import RunReader, RunStore


def versions() -> dict[str, str]:
    """Versions of everything that can change a run's numbers."""
    import jax
    import numpy
    import sympy

    from sld._version import __version__

    return {
        "sld": __version__,
        "python": sys.version.split()[0],
        "jax": jax.__version__,
        "numpy": numpy.__version__,
        "sympy": sympy.__version__,
        "platform": platform.platform(),
        "jax_backend": jax.default_backend(),
    }


def new_run_dir(out: Path, task_name: str, seed: int) -> Path:
    """A fresh directory under ``out`` named for the task, seed and start time."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(task_name).stem
    candidate = out / f"{base}-s{seed}-{stamp}"
    n = 1
    while candidate.exists():
        n += 1
        candidate = out / f"{base}-s{seed}-{stamp}-{n}"
    return candidate


def replay_config(run_dir: str | Path, budgets: Budgets | None = None) -> RunConfig:
    """The config of the run in ``run_dir``, set to replay its recorded LLM replies (``--replay``)."""
    if not RunReader.exists(run_dir):
        raise ConfigError(
            f"no run store in {run_dir}; pass a directory made by 'sld discover' to --replay"
        )
    with RunReader.open(run_dir) as reader:
        config = RunConfig.model_validate(reader.config())
    config = config.model_copy(update={"replay_from": str(Path(run_dir))})
    return config.extended(budgets) if budgets is not None else config


def make_proposer(
    config: RunConfig, *, task: Task, store: RunStore | None, notice: Callable[[str], None]
) -> Proposer:
    """The proposer ``config`` asks for (the no-endpoint policy: :mod:`sld.run`).

    ``store`` records every LLM exchange; ``notice`` receives the offline-fallback note.
    """
    return proposer_for(config, transport_of(config), task=task, store=store, notice=notice)


def transport_of(config: RunConfig) -> ChatTransport | None:
    """The LLM transport ``config`` needs (None: offline, or no endpoint configured)."""
    if config.proposer == "offline":
        return None
    return transport_for(config.llm, replay_from=config.replay_from)


def proposer_for(
    config: RunConfig,
    transport: ChatTransport | None,
    *,
    task: Task,
    store: RunStore | None,
    notice: Callable[[str], None],
) -> Proposer:
    if config.proposer == "offline":
        return OfflineProposer()
    if transport is None:
        notice(
            f"no LLM endpoint is configured: --proposer {config.proposer} falls back to the "
            "offline proposer"
        )
        return OfflineProposer()
    llm = LlmProposer(
        transport,
        config.llm,
        store=store,
        group=str(getattr(task.card, "group", "") or ""),
        max_params=config.max_params,
        notice=notice,
    )
    if config.proposer == "mixed":
        replay = config.replay_from
        schedule = recorded_harvests(replay) if replay is not None else None
        return MixedProposer(  # a replay harvests where the recorded run did
            llm,
            OfflineProposer(),
            ratio=config.llm.mixed_ratio,
            schedule=schedule,
            blocking=replay is not None and schedule is None,
        )
    return llm


def writable(directory: Path, *, what: str = "output directory") -> None:
    """ConfigError unless ``directory`` can be created and written (``what`` names it).

    The probe is a uniquely named temporary file, so processes that check one
    directory at once (bench workers sharing ``runs/``) never remove each other's.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory, prefix=".sld-write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"cannot write to {what} {directory}: {exc.strerror or exc}; choose another with --out"
        ) from None
