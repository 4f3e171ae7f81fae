"""The LLM settings of a run (:class:`LlmConfig`, :class:`Price`) and the ``--llm-config`` file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sld.config._values import Duration, validated
from sld.errors import ConfigError

Provider = Literal["openai", "local"]
AnswerFormat = Literal["json", "lines"]
Decoding = Literal["plain", "grammar"]

DEFAULT_MODEL = "gpt-4o-mini"
LOCAL_MODEL = "gemma-3-270m-q4_k_m"


class Price(BaseModel):
    """US dollars per million tokens, prompt (``input``) and completion (``output``)."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class LlmConfig(BaseModel):
    """Every LLM knob of a run.

    ``provider``: ``openai`` (any OpenAI-compatible endpoint) or ``local`` (a GGUF
    model run in-process by llama.cpp). ``base_url``/``model`` default to the
    environment (``OPENAI_BASE_URL``) and :data:`DEFAULT_MODEL`. ``attempts`` bounds
    tries per request on 429/5xx/timeouts/connection errors, waiting
    ``backoff * 2**k`` seconds (capped at ``backoff_max``; a server's Retry-After
    wins when longer, up to the cap). ``repair_turns``: follow-up turns that send
    parse errors back. ``prices`` override the built-in price table.
    ``mixed_ratio``: share of island-generations that ask the LLM under
    ``--proposer mixed``. ``answer``: ask for JSON or for one law per line;
    ``decoding``: for the local model, free sampling or a grammar built from the task.
    ``prompt_tokens``: the proposal prompt's token budget (for the local model also at most
    ``context - max_tokens``), met by showing fewer data rows and shorter notes.
    """

    model_config = ConfigDict(extra="forbid")

    provider: Provider = "openai"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float | None = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=1024, ge=16, le=65536)
    concurrency: int = Field(default=4, ge=1, le=64)
    timeout: Duration = Field(default=60.0, le=3600)
    attempts: int = Field(default=4, ge=1, le=20)
    backoff: float = Field(default=1.0, ge=0, le=60)
    backoff_max: float = Field(default=30.0, ge=0, le=600)
    repair_turns: int = Field(default=1, ge=0, le=5)
    prices: dict[str, Price] = Field(default_factory=dict)
    budget_usd: float | None = Field(default=None, gt=0)
    budget_tokens: int | None = Field(default=None, ge=1)
    mixed_ratio: float = Field(default=0.5, ge=0, le=1)
    answer: AnswerFormat | None = None
    decoding: Decoding = "grammar"
    model_path: str | None = Field(default=None, description="local GGUF file (provider local)")
    context: int = Field(default=4096, ge=512, le=131072, description="local context length")
    prompt_tokens: int = Field(
        default=3000,
        ge=256,
        le=131072,
        description="most tokens a proposal prompt may take (estimated as characters / 4); "
        "the data sample and the notes under each law shrink to fit",
    )

    def model_name(self) -> str:
        """The model to ask for: the configured one, else the provider's default."""
        if self.model:
            return self.model
        return LOCAL_MODEL if self.provider == "local" else DEFAULT_MODEL

    def prompt_budget(self) -> int:
        """Tokens a proposal prompt may take: ``prompt_tokens``, and for the local model
        what its context leaves beside the reply."""
        if self.provider == "local":
            return max(256, min(self.prompt_tokens, self.context - self.max_tokens))
        return self.prompt_tokens

    def answer_format(self) -> AnswerFormat:
        """JSON for endpoints; numbered lines for the local model unless set."""
        if self.answer is not None:
            return self.answer
        return "lines" if self.provider == "local" else "json"


_LLM_FILE_KEYS = frozenset(LlmConfig.model_fields)


def llm_config(*, config_file: str | Path | None = None, **flags: Any) -> LlmConfig:
    """Settings from an optional TOML file, then command-line ``flags`` (``None`` = unset).

    The file holds top-level keys of :class:`LlmConfig` (``model``, ``base_url``,
    ``api_key_env``, ``temperature``, ``max_tokens``, ``concurrency``, ``timeout``,
    ``[prices.<model>]`` tables with ``input``/``output``, ...), or the same keys under
    an ``[llm]`` table. Raises ``ConfigError`` for a missing, malformed or unknown file
    entry, naming the file.
    """
    values: dict[str, Any] = {}
    if config_file is not None:
        path = Path(config_file)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"cannot read LLM config {path}: {exc.strerror or exc}; check --llm-config"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"LLM config {path} is not valid TOML: {exc}") from None
        if isinstance(data.get("llm"), dict):
            data = data["llm"]
        unknown = sorted(set(data) - _LLM_FILE_KEYS)
        if unknown:
            raise ConfigError(
                f"LLM config {path}: unknown key(s) {', '.join(unknown)}; "
                f"known keys: {', '.join(sorted(_LLM_FILE_KEYS))}"
            )
        values.update(data)
    values.update({k: v for k, v in flags.items() if v is not None})
    where = f"LLM config {config_file}" if config_file is not None else "LLM"
    return validated(LlmConfig, values, where=where)
