"""Chat transports: one request in, one reply (or one classified error) out.

A transport does a single attempt; retries, budgets and recording live in the
proposer, so every transport (an OpenAI-compatible endpoint, the in-process local
model, a replay of a recorded run) behaves alike. Errors are classified into the
outcomes the run store records: ``timeout``, ``rate_limited``, ``server_error``,
``connection`` (all retried), ``auth``, ``bad_request`` and ``error`` (not retried).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sld.errors import SldError
from sld.llm._answer import response_schema

RETRYABLE = frozenset({"timeout", "rate_limited", "server_error", "connection"})


class LlmCallError(SldError):
    """One failed attempt: ``outcome`` classifies it, ``retry_after`` is the server's hint."""

    def __init__(
        self,
        outcome: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.outcome in RETRYABLE


@dataclass(frozen=True)
class ChatReply:
    """The assistant's text and the token usage the server reported."""

    text: str
    usage: dict[str, Any] = field(default_factory=dict)
    finish_reason: str = ""


class ChatTransport(Protocol):
    """Sends one chat request: ``{"messages": [...], "params": {...}, ...}``."""

    name: str
    instant: bool  # True: never sleep between attempts (a replay)

    async def complete(self, request: Mapping[str, Any], *, timeout: float) -> ChatReply: ...

    async def close(self) -> None: ...


# --- provider quirks -------------------------------------------------------------------


@dataclass(frozen=True)
class Quirks:
    """What a model accepts. ``token_param`` names the output-length parameter;
    ``response_format`` is ``json_schema``, ``json_object`` or ``none``."""

    temperature: bool = True
    token_param: str = "max_tokens"
    response_format: str = "json_schema"
    seed: bool = True


# Model-name patterns (regex, matched at the start) and what they are known to need.
CAPABILITIES: tuple[tuple[str, Quirks], ...] = (
    # reasoning models: no temperature, max_completion_tokens instead of max_tokens
    (r"(o1|o3|o4)(-|$)", Quirks(temperature=False, token_param="max_completion_tokens")),
    (r"gpt-5", Quirks(temperature=False, token_param="max_completion_tokens")),
    # older chat models without json_schema structured output
    (r"gpt-3\.5|gpt-4(-|$)", Quirks(response_format="json_object")),
)
_FORMAT_STEPS = {"json_schema": "json_object", "json_object": "none", "none": "none"}


def quirks_for(model: str) -> Quirks:
    """The known quirks of ``model`` (by name pattern), else the defaults."""
    bare = model.rsplit("/", 1)[-1].lower()
    for pattern, quirks in CAPABILITIES:
        if re.match(pattern, bare):
            return quirks
    return Quirks()


def learn_quirk(quirks: Quirks, message: str) -> Quirks | None:
    """The quirks a 400 error ``message`` implies, or None when it names nothing we can drop."""
    text = message.lower()
    if quirks.response_format != "none" and any(
        word in text for word in ("response_format", "json_schema", "json_object", "structured")
    ):
        return replace(quirks, response_format=_FORMAT_STEPS[quirks.response_format])
    if quirks.token_param == "max_tokens" and "max_tokens" in text:
        return replace(quirks, token_param="max_completion_tokens")
    if quirks.temperature and "temperature" in text:
        return replace(quirks, temperature=False)
    if quirks.seed and "seed" in text:
        return replace(quirks, seed=False)
    return None


def request_params(
    quirks: Quirks,
    *,
    model: str,
    temperature: float | None,
    max_tokens: int,
    seed: int | None,
    answer: str,
) -> dict[str, Any]:
    """The chat-completion parameters for one request, as ``quirks`` allow."""
    params: dict[str, Any] = {"model": model}
    if temperature is not None and quirks.temperature:
        params["temperature"] = temperature
    params[quirks.token_param] = max_tokens
    if seed is not None and quirks.seed:
        params["seed"] = seed
    if answer == "json":
        if quirks.response_format == "json_schema":
            params["response_format"] = response_schema()
        elif quirks.response_format == "json_object":
            params["response_format"] = {"type": "json_object"}
    return params


# --- OpenAI-compatible endpoints ------------------------------------------------------


class OpenAIChat:
    """An OpenAI-compatible chat-completions endpoint through the ``openai`` client.

    The client's own retries are off (``max_retries=0``): the proposer retries, so
    each attempt is recorded. The API key is held in memory only.
    """

    instant = False

    def __init__(self, *, base_url: str | None, api_key: str, timeout: float) -> None:
        self.name = "openai"
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout

    async def complete(self, request: Mapping[str, Any], *, timeout: float) -> ChatReply:
        import openai
        from openai import AsyncOpenAI

        params = dict(request["params"])
        known = {
            k: params.pop(k)
            for k in (
                "model",
                "temperature",
                "max_tokens",
                "max_completion_tokens",
                "seed",
                "response_format",
            )
            if k in params
        }
        # one client per request, closed with it: connections never outlive the event
        # loop that opened them (the TUI and tests run several loops)
        try:
            async with AsyncOpenAI(
                api_key=self._api_key,
                base_url=self._base_url,
                timeout=self._timeout,
                max_retries=0,
            ) as client:
                completion = await client.chat.completions.create(
                    messages=list(request["messages"]),
                    timeout=timeout,
                    extra_body=params or None,
                    **known,
                )
        except openai.APITimeoutError as exc:
            raise LlmCallError("timeout", f"no reply within {timeout:g} s ({exc})") from None
        except openai.APIConnectionError as exc:
            raise LlmCallError("connection", f"cannot reach the endpoint: {exc}") from None
        except openai.APIStatusError as exc:
            raise _status_error(exc) from None
        except openai.OpenAIError as exc:
            raise LlmCallError("error", f"{type(exc).__name__}: {exc}") from None
        if not completion.choices:
            raise LlmCallError("error", "the reply has no choices")
        choice = completion.choices[0]
        usage = completion.usage.model_dump() if completion.usage is not None else {}
        return ChatReply(
            text=choice.message.content or "",
            usage={k: v for k, v in usage.items() if isinstance(v, int)},
            finish_reason=choice.finish_reason or "",
        )

    async def close(self) -> None:
        return None


def _status_error(exc: Any) -> LlmCallError:
    status = int(exc.status_code)
    message = _error_text(exc)
    if status in (401, 403):
        return LlmCallError("auth", f"HTTP {status}: {message}", status=status)
    if status == 429:
        return LlmCallError(
            "rate_limited",
            f"HTTP 429: {message}",
            status=status,
            retry_after=_retry_after(exc.response.headers),
        )
    if status in (408, 409) or status >= 500:
        return LlmCallError("server_error", f"HTTP {status}: {message}", status=status)
    if status in (400, 404, 422):
        return LlmCallError("bad_request", f"HTTP {status}: {message}", status=status)
    return LlmCallError("error", f"HTTP {status}: {message}", status=status)


def _error_text(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"][:500]
        if isinstance(inner, str):
            return inner[:500]
    return str(getattr(exc, "message", exc))[:500]


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` (or ``retry-after-ms``) header; dates are ignored."""
    for key, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(key)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if 0 <= seconds < 3600:
            return seconds
    return None
