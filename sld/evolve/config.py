"""The settings of one discovery run, stored verbatim in its run store."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sld.llm._settings import LlmConfig

ProposerKind = Literal["offline", "llm", "mixed"]


class TaskSpec(BaseModel):
    """How to load the task again on resume: a curated name, or a user CSV with its options."""

    model_config = ConfigDict(extra="forbid")

    source: str
    inputs: list[str] | None = None
    outputs: list[str] | None = None
    group: str | None = None
    test: str | None = None


class RunConfig(BaseModel):
    """Every knob of a discovery run. One ``seed`` drives every random choice."""

    model_config = ConfigDict(extra="forbid")

    task: TaskSpec
    seed: int = 0
    generations: int | None = Field(default=None, ge=1)
    max_candidates: int | None = Field(default=None, ge=1)
    time_limit: float | None = Field(default=None, gt=0, description="wall-clock seconds")
    proposer: ProposerKind = "offline"
    islands: int = Field(default=4, ge=1, le=64)
    proposals_per_island: int = Field(default=6, ge=1, le=256)
    capacity: int = Field(default=24, ge=2, le=4096)
    migration_interval: int = Field(default=4, ge=1)
    migrants: int = Field(default=2, ge=0)
    complexity_weight: float = Field(default=0.01, ge=0, description="log10-error penalty per node")
    restarts: int = Field(default=8, ge=1, le=1024)
    fit_chunk: int = Field(default=8, ge=1, le=1024, description="laws per batched fit call")
    final_restarts: int = Field(default=32, ge=1, le=4096)
    bootstrap: int = Field(default=30, ge=0, le=10_000)
    max_params: int | None = Field(default=None, ge=1)
    llm: LlmConfig = Field(default_factory=LlmConfig)
    replay_from: str | None = Field(
        default=None, description="run directory whose recorded LLM replies this run replays"
    )

    @model_validator(mode="after")
    def _some_budget(self) -> RunConfig:
        if self.generations is None and self.max_candidates is None and self.time_limit is None:
            self.time_limit = 120.0
        return self
