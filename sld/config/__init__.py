"""The settings of one discovery run, stored verbatim in its run store.

One place for every knob: the run (:class:`RunConfig`, the task it loads
:class:`TaskSpec`, the budgets a resume may extend :class:`Budgets`) and its LLM
(:class:`LlmConfig`, :class:`Price`). Front ends build these models and nothing
else; a bad value becomes one :class:`~sld.errors.ConfigError` line through
:func:`validated`. Durations are written ``90``, ``90s``, ``10m`` or ``1.5h``
(:data:`Duration`) wherever they are read: flags, the TUI form, config files. The LLM's
settings live in :mod:`sld.config._llm`, the value helpers in :mod:`sld.config._values`;
everything is imported from here.

Secrets never enter a run's config: only the *name* of the environment variable
that holds the API key (``api_key_env``) is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from sld.config._llm import DEFAULT_MODEL as DEFAULT_MODEL
from sld.config._llm import LOCAL_MODEL as LOCAL_MODEL
from sld.config._llm import AnswerFormat as AnswerFormat
from sld.config._llm import Decoding as Decoding
from sld.config._llm import LlmConfig as LlmConfig
from sld.config._llm import Price as Price
from sld.config._llm import Provider as Provider
from sld.config._llm import llm_config as llm_config
from sld.config._values import Duration as Duration
from sld.config._values import parse_duration as parse_duration
from sld.config._values import validated as validated

if TYPE_CHECKING:  # pragma: no cover
    from sld.corpus import Task
    from sld.corpus.options import Naming

ProposerKind = Literal["offline", "llm", "mixed"]
DEFAULT_TIME_LIMIT = 120.0  # seconds, when no budget is given at all
# shares sld.corpus.window may leave out; chosen in bench/selection_sweep.md, "Fit windows"
DEFAULT_FIT_WINDOWS = (0.0, 0.25, 0.5, 0.75)


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
    final_narrow: int = Field(
        default=0,
        ge=0,
        le=4096,
        description="in every fit at final_restarts that compares laws (confirmations, the "
        "final pick's), where groups hold 256 residuals or more on average, only each "
        "group's best final_narrow restarts run on past 20 iterations (0, the default: all run "
        "to the end; measured, not the default: README, 'Narrowing the restarts')",
    )
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
        "far down (sld.evolve.pool; bench/selection_sweep.md, 'The best-supported law in the pool')",
    )
    pick_prior: bool = Field(
        default=True,
        description="the final pick's pool also takes the best law of generation 0, proposed "
        "before the search saw any fold score, which laws bred on the fold bands may rank far "
        "down (sld.evolve.pool.prior_law; bench/selection_sweep.md, 'The prior law in the pool')",
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
        "chose the numbers on (sld.evolve.unfrozen.unfrozen_pool; bench/selection_sweep.md, "
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
    def _narrow_fits(self) -> RunConfig:
        """A narrowing that no fit at final_restarts could use is a mistake, not a no-op."""
        keep, restarts = self.final_narrow, self.final_restarts
        if keep and (keep % 2 or restarts % keep or restarts < 2 * keep):
            ok = [k for k in range(2, restarts // 2 + 1, 2) if restarts % k == 0]
            raise ValueError(
                f"final_narrow={keep} cannot narrow {restarts} restarts: it must be 0 or even, "
                f"with final_restarts a multiple of at least twice it "
                f"({', '.join(map(str, ok)) or 'none'} for final_restarts={restarts})"
            )
        return self

    @model_validator(mode="after")
    def _some_budget(self) -> RunConfig:
        if self.generations is None and self.max_candidates is None and self.time_limit is None:
            self.time_limit = DEFAULT_TIME_LIMIT
        return self

    def extended(self, budgets: Budgets) -> RunConfig:
        """This config with the budgets that ``budgets`` sets replaced."""
        return self.model_copy(update=budgets.given())
