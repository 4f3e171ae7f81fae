"""LLM proposals: OpenAI-compatible endpoints, a local model, replay, cost ledger, prompts.

Public names are re-exported lazily, so importing the package does not pull in the
``openai`` client, SymPy or llama.cpp. The LLM settings (:class:`~sld.config.LlmConfig`,
prices, the ``--llm-config`` file) live in :mod:`sld.config` with the rest of a run's
configuration.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Ledger": "sld.llm._ledger",
    "PRICES": "sld.llm._ledger",
    "price_for": "sld.llm._ledger",
    "call_cost": "sld.llm._ledger",
    "ChatReply": "sld.llm._client",
    "ChatTransport": "sld.llm._client",
    "LlmCallError": "sld.llm._client",
    "OpenAIChat": "sld.llm._client",
    "Quirks": "sld.llm._client",
    "quirks_for": "sld.llm._client",
    "learn_quirk": "sld.llm._client",
    "ReplayChat": "sld.llm._replay",
    "LocalChat": "sld.llm._local",
    "local_available": "sld.llm._local",
    "probe_failure": "sld.llm._local",
    "law_grammar": "sld.llm._grammar",
    "extract_laws": "sld.llm._answer",
    "LawsReply": "sld.llm._answer",
    "render": "sld.llm._prompts",
    "template": "sld.llm._prompts",
    "prompt_values": "sld.llm._prompts",
    "propose_messages": "sld.llm._prompts",
    "repair_message": "sld.llm._prompts",
    "LlmProposer": "sld.llm._proposer",
    "MixedProposer": "sld.llm._mixed",
    "HARVEST": "sld.llm._mixed",
    "recorded_harvests": "sld.llm._mixed",
    "endpoint": "sld.llm._transport",
    "transport_for": "sld.llm._transport",
}

__all__ = [*_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sld.llm' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
