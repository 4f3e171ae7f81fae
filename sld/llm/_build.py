"""From a run config to a proposer: endpoint discovery, local model, replay."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sld.config import LlmConfig, RunConfig
from sld.errors import ConfigError
from sld.llm._client import ChatTransport, OpenAIChat
from sld.llm._proposer import LlmProposer, MixedProposer
from sld.proposer import Proposer
from sld.store import RunReader, RunStore

NO_KEY = "sk-no-key-needed"  # sent to endpoints given by URL alone (local servers ignore it)


def endpoint(settings: LlmConfig) -> tuple[str | None, str | None]:
    """(base URL, API key) from the settings and the environment; (None, None) when neither is set."""
    base_url = settings.base_url or os.environ.get("OPENAI_BASE_URL") or None
    key = os.environ.get(settings.api_key_env) or None
    return base_url, key


def llm_configured(settings: LlmConfig) -> bool:
    """Whether an LLM can be asked: a local provider, a base URL or an API key."""
    if settings.provider == "local":
        return True
    base_url, key = endpoint(settings)
    return base_url is not None or key is not None


def transport_for(settings: LlmConfig, *, replay_from: str | None = None) -> ChatTransport | None:
    """The chat transport the settings ask for, or None when no endpoint is configured."""
    if replay_from is not None:
        from sld.llm._replay import ReplayChat

        return ReplayChat(replay_from)
    if settings.provider == "local":
        from sld.llm._local import LocalChat

        return LocalChat(model_path=settings.model_path, context=settings.context)
    base_url, key = endpoint(settings)
    if base_url is None and key is None:
        return None
    return OpenAIChat(base_url=base_url, api_key=key or NO_KEY, timeout=settings.timeout)


def _group_note(config: RunConfig) -> str:
    from sld.corpus import load_task

    spec = config.task
    try:
        task = load_task(
            spec.source, inputs=spec.inputs, outputs=spec.outputs, group=spec.group, test=spec.test
        )
    except Exception:  # the engine loads the task itself and reports its errors
        return ""
    return str(getattr(task.card, "group", "") or "")


def build_proposer(
    config: RunConfig, *, store: RunStore | None, notice: Callable[[str], None]
) -> Proposer | None:
    """The LLM or mixed proposer for ``config``; None when no endpoint is configured.

    Offline configs get None too (the caller makes the offline proposer).
    """
    from sld.evolve.offline import OfflineProposer

    if config.proposer == "offline":
        return None
    settings = config.llm
    transport = transport_for(settings, replay_from=config.replay_from)
    if transport is None:
        return None
    llm = LlmProposer(
        transport,
        settings,
        store=store,
        group=_group_note(config),
        max_params=config.max_params,
        notice=notice,
    )
    if config.proposer == "mixed":
        offline: Proposer = OfflineProposer()  # type: ignore[assignment]  # frozen dataclass: read-only name
        return MixedProposer(llm, offline, ratio=settings.mixed_ratio)
    return llm


def replay_config(run_dir: str | Path, **budgets: Any) -> RunConfig:
    """The config of the run in ``run_dir`` with ``replay_from`` set (and budgets overridden)."""
    if not RunReader.exists(run_dir):
        raise ConfigError(
            f"no run store in {run_dir}; pass a directory made by 'sld discover' to --replay"
        )
    with RunReader.open(run_dir) as reader:
        stored = reader.config()
    config = RunConfig.model_validate(stored)
    update: dict[str, Any] = {"replay_from": str(Path(run_dir))}
    update.update({k: v for k, v in budgets.items() if v is not None})
    return config.model_copy(update=update)
