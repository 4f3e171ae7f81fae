"""The settings of one discovery run, stored verbatim in its run store.

One place for every knob: the run (:class:`RunConfig`, the task it loads
:class:`TaskSpec`, the budgets a resume may extend :class:`Budgets`) and its LLM
(:class:`LlmConfig`, :class:`Price`). Front ends build these models and nothing
else; a bad value becomes one :class:`~sld.errors.ConfigError` line through
:func:`validated`. Durations are written ``90``, ``90s``, ``10m`` or ``1.5h``
(:data:`Duration`) wherever they are read: flags, the TUI form, config files.

Secrets never enter a run's config: only the *name* of the environment variable
that holds the API key (``api_key_env``) is stored.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from sld.errors import ConfigError, validation_message

if TYPE_CHECKING:  # pragma: no cover
    from sld.corpus import Task
    from sld.corpus.options import Naming

ProposerKind = Literal["offline", "llm", "mixed"]
Provider = Literal["openai", "local"]
AnswerFormat = Literal["json", "lines"]
Decoding = Literal["plain", "grammar"]

DEFAULT_MODEL = "gpt-4o-mini"
LOCAL_MODEL = "gemma-3-270m-q4_k_m"
DEFAULT_TIME_LIMIT = 120.0  # seconds, when no budget is given at all
# shares sld.corpus.window may leave out; chosen in bench/selection_sweep.md, "Fit windows"
DEFAULT_FIT_WINDOWS = (0.0, 0.25, 0.5, 0.75)

_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}

Model = TypeVar("Model", bound=BaseModel)


# -- durations -----------------------------------------------------------------------------


def parse_duration(value: str | float) -> float:
    """Seconds from ``90``, ``"90"``, ``"90s"``, ``"10m"`` or ``"1.5h"``; ValueError otherwise.

    The result is finite and positive.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 90s, 10m or 1h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        unit = _DURATION_UNITS.get(text[-1:]) if text else None
        number = text[:-1] if unit is not None else text
        try:
            seconds = float(number) * (unit or 1.0)
        except ValueError:
            raise ValueError(f"expected a duration like 90s, 10m or 1h, got {value!r}") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"duration must be positive, got {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, read from a number or a text such as ``"10m"`` (see :func:`parse_duration`)."""


def validated(model: type[Model], values: Mapping[str, Any], *, where: str = "") -> Model:
    """``model`` built from ``values``; a bad value raises one ConfigError line naming it."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise ConfigError(validation_message(exc, where=where)) from None


# -- the LLM -------------------------------------------------------------------------------


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


# -- the run -------------------------------------------------------------------------------


def _source_text(value: Any) -> Any:
    """A path-like source as text; a DataFrame refused with how to run on it."""
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "columns") and hasattr(value, "to_csv"):
        raise ValueError(
            "a run reloads its data on resume, so it needs a file, not a DataFrame; save it "
            "first (frame.to_csv('sweep.csv')) and pass the path"
        )
    return value


class TaskSpec(BaseModel):
    """How to load the task again on resume: a curated name, or a user's data file with every
    option that describes it (what the data flags gave, recorded verbatim; see
    :func:`sld.corpus.load_task` for each option)."""

    model_config = ConfigDict(extra="forbid")

    source: Annotated[str, BeforeValidator(_source_text)]
    inputs: list[str] | None = None
    outputs: list[str] | None = None
    group: str | None = None
    rows: str | None = None
    test: str | None = None
    validation_scale: str | None = None
    log_scale: bool | dict[str, bool] | None = None
    aliases: dict[str, str] | None = None
    max_params: int | None = None
    monotone: dict[str, str] | None = None
    rehearse: bool = Field(
        default=False,
        description="search the task's rehearsal: its validation slice held out as the test rows",
    )

    def anchored(self) -> TaskSpec:
        """This spec with a data file's path made absolute (a curated name stays), so a run
        recorded with it resumes from any folder."""
        from sld.corpus import is_curated

        if is_curated(self.source):
            return self
        return self.model_copy(update={"source": str(Path(self.source).absolute())})

    def options(self) -> dict[str, Any]:
        """The data options that were given (``load_task`` keywords)."""
        given = self.model_dump(exclude={"source", "rehearse"}).items()
        return {k: v for k, v in given if v is not None}

    def load(self, *, named_as: Naming = "keywords") -> Task:
        """The task this spec names; one-line TaskError when it cannot be loaded.

        ``named_as="flags"``: messages name the command-line flags the options came from.
        """
        from sld.corpus import load_task

        return load_task(self.source, rehearse=self.rehearse, named_as=named_as, **self.options())


class Budgets(BaseModel):
    """What resuming a run may extend: wall time, generations, proposals (None: keep)."""

    model_config = ConfigDict(extra="forbid")

    time_limit: Duration | None = None
    generations: int | None = Field(default=None, ge=1)
    max_candidates: int | None = Field(default=None, ge=1)

    def given(self) -> dict[str, Any]:
        """The budgets that were set."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class RunConfig(BaseModel):
    """Every knob of a discovery run. One ``seed`` drives every random choice.

    Without any budget (time, generations, candidates) a run gets
    :data:`DEFAULT_TIME_LIMIT` seconds.
    """

    model_config = ConfigDict(extra="forbid")

    task: TaskSpec
    seed: int = 0
    generations: int | None = Field(default=None, ge=1)
    max_candidates: int | None = Field(default=None, ge=1)
    time_limit: Duration | None = Field(default=None, description="wall-clock seconds")
    proposer: ProposerKind = "offline"
    islands: int = Field(default=4, ge=1, le=64)
    proposals_per_island: int = Field(default=6, ge=1, le=256)
    capacity: int = Field(default=24, ge=2, le=4096)
    migration_interval: int = Field(default=4, ge=1)
    migrants: int = Field(default=2, ge=0)
    # both chosen across all curated tasks by bench/selection_sweep.py (bench/selection_sweep.md)
    complexity_weight: float = Field(
        default=0.005, ge=0, description="log10-error penalty per node"
    )
    param_weight: float = Field(
        default=0.01, ge=0, description="log10-error penalty per free parameter"
    )
    restarts: int = Field(default=8, ge=1, le=1024)
    fit_chunk: int = Field(default=8, ge=1, le=1024, description="laws per batched fit call")
    screen_share: float = Field(
        default=0.25,  # bench/screen_bench.py: keeps 9 of the full fit's 10 best, and its best
        gt=0,
        le=1,
        description="share of each generation's candidates a cheap screening fit promotes "
        "to the full selection fit (1: no screening)",
    )
    screen_width: int | None = Field(
        default=None,
        ge=1,
        le=16,
        description="how many times proposals_per_island a screening generation proposes, "
        "promoting the same number (None: sld.evolve.screen_width, offline proposer only)",
    )
    final_restarts: int = Field(default=32, ge=1, le=4096)
    confirm_top: int = Field(
        default=3,
        ge=0,
        le=256,
        description="a new law whose search fitness would rank among the population's best "
        "few is re-fitted with final_restarts before it is scored (0: never)",
    )
    bootstrap: int = Field(default=30, ge=0, le=10_000)
    pick_candidates: int = Field(
        default=10, ge=1, le=256, description="laws the final pick re-fits and bootstraps"
    )
    pick_per_shape: int = Field(
        default=2,
        ge=1,
        le=256,
        description="most laws of one shape (top of the tree) among the final pick's laws",
    )
    pick_bootstrap: int = Field(
        default=8, ge=0, le=256, description="resamples of every fold per law in the final pick"
    )
    pick_quantile: float = Field(
        default=0.8, ge=0.5, le=1.0, description="pessimistic quantile of the resampled errors"
    )
    pick_parsimony: bool = Field(
        default=True,
        description="pick the law with the fewest parameters among those within the error bar "
        "of the law with the lowest pessimistic error (sld.scoring.final_pick, step 5)",
    )
    pick_consensus: bool = Field(
        default=False,
        description="among three or more laws within that error bar, pick the one whose "
        "extrapolation lies nearest their median extrapolation (sld.scoring.final_pick, step 6; "
        "measured, not the default: bench/selection_sweep.md, 'Consensus of the plausible')",
    )
    pick_steady: bool = Field(
        default=True,
        description="among two or more laws within that error bar, pick the one whose "
        "extrapolation moves least as the folds add rows (sld.scoring.final_pick, step 6; "
        "chosen without a test label: bench/selection_sweep.md, 'Steady extrapolation')",
    )
    pick_supported: bool = Field(
        default=True,
        description="the final pick's pool also takes the law its fit rows support best (the "
        "lowest information criterion of its fold-0 fit), which the fold bands alone may rank "
        "far down (sld.evolve.pick; bench/selection_sweep.md, 'The best-supported law in the pool')",
    )
    pick_frozen: bool = Field(
        default=True,
        description="the final pick counts a law's frozen terms (summands no fit can scale, "
        "which the search set on the fold bands) as parameters (sld.scoring.final_pick; "
        "bench/selection_sweep.md, 'Frozen terms charged as parameters')",
    )
    pick_unfreeze: bool = Field(
        default=True,
        description="in the final pick's pool a law with frozen terms gives way to its variant "
        "whose coefficients on those terms are fitted, so its fold error is not one the search "
        "chose the numbers on (sld.evolve.pick.unfrozen_pool; bench/selection_sweep.md, "
        "'Frozen terms unfrozen')",
    )
    fit_windows: list[Annotated[float, Field(ge=0.0, lt=1.0)]] = Field(
        default_factory=lambda: list(DEFAULT_FIT_WINDOWS),
        min_length=1,
        max_length=8,
        description="shares of each group's lowest-scale fit rows the final pick may leave out "
        "of every fit; it keeps the one whose best law extrapolates best on the folds "
        "(sld.corpus.window; [0] fits on every row)",
    )
    max_params: int | None = Field(default=None, ge=1)
    start_laws: list[Annotated[str, Field(min_length=1, max_length=4000)]] = Field(
        default_factory=list,
        max_length=64,
        description="your own laws, proposed first and always fully fitted; the report "
        "scores each beside the chosen law (sld.evolve.start)",
    )
    llm: LlmConfig = Field(default_factory=LlmConfig)
    replay_from: str | None = Field(
        default=None, description="run directory whose recorded LLM replies this run replays"
    )

    @model_validator(mode="after")
    def _some_budget(self) -> RunConfig:
        if self.generations is None and self.max_candidates is None and self.time_limit is None:
            self.time_limit = DEFAULT_TIME_LIMIT
        return self

    def extended(self, budgets: Budgets) -> RunConfig:
        """This config with the budgets that ``budgets`` sets replaced."""
        return self.model_copy(update=budgets.given())
