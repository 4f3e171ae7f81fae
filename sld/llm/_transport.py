"""Which chat transport the LLM settings ask for: an endpoint, the local model, or a replay."""

from __future__ import annotations

import os

from sld.config import LlmConfig
from sld.llm._client import ChatTransport, OpenAIChat

NO_KEY = "sk-no-key-needed"  # sent to endpoints given by URL alone (local servers ignore it)


def endpoint(settings: LlmConfig) -> tuple[str | None, str | None]:
    """(base URL, API key) from the settings and the environment; (None, None) when neither is set."""
    base_url = settings.base_url or os.environ.get("OPENAI_BASE_URL") or None
    key = os.environ.get(settings.api_key_env) or None
    return base_url, key


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
