"""Replay: answer each request from a recorded run, with no network.

Every attempt of the source run was recorded with its exact request. For each
request (matched exactly: messages, parameters and the engine's tag), the replay
hands back the recorded attempts in their original order: the reply text with its
usage, or the same classified error (so retries, capability downgrades and repair
turns happen exactly as they did). A request the source run never sent is a
``bad_request`` error naming the mismatch.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sld.errors import StoreError
from sld.llm._client import ChatReply, LlmCallError
from sld.store import RunReader


def _key(request: Mapping[str, Any]) -> str:
    return json.dumps(request, sort_keys=True, separators=(",", ":"), allow_nan=True)


# Outcomes recorded by the proposer after reading a reply: the server did answer.
_ANSWERED = frozenset({"ok", "invalid", "malformed"})


class ReplayChat:
    """A transport whose replies come from the run store in ``run_dir``."""

    instant = True

    def __init__(self, run_dir: str | Path) -> None:
        self.name = "replay"
        self.source = str(run_dir)
        if not RunReader.exists(run_dir):
            raise StoreError(
                f"no run store in {run_dir}; pass a directory made by 'sld discover' to --replay"
            )
        with RunReader.open(run_dir) as reader:
            calls = reader.llm_calls()
        self._recorded: dict[str, deque[tuple[str, str | None, dict[str, Any], str | None]]] = {}
        for call in calls:
            self._recorded.setdefault(_key(call.request), deque()).append(
                (call.outcome, call.reply, call.usage, call.error)
            )
        self.calls = len(calls)

    async def complete(self, request: Mapping[str, Any], *, timeout: float) -> ChatReply:
        queue = self._recorded.get(_key(request))
        if not queue:
            raise LlmCallError(
                "bad_request",
                f"replay: {self.source} holds no (further) reply for this request; "
                "the run has diverged from the recorded one",
            )
        outcome, reply, usage, error = queue.popleft()
        if outcome in _ANSWERED and reply is not None:
            return ChatReply(text=reply, usage=dict(usage))
        raise LlmCallError(outcome, error or f"recorded {outcome}")

    async def close(self) -> None:
        return None
