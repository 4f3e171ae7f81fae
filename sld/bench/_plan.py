"""What a bench runs: its config (kept in ``bench-config.json``) and one job per (task, seed).

A bench directory holds ``bench-config.json`` (this module), ``runs/<task>-s<seed>/``
(one ordinary run directory each, see :mod:`sld.run`), and the outputs
``bench.json``, ``bench.md`` and ``bench.png`` (:mod:`sld.bench._output`).

The run directory of a job depends only on its task and seed, so running the same
bench again finds every run where it left it. A bench directory keeps the config
it was made with: running it again with other tasks, seeds or run settings is
refused (one line naming the difference) rather than mixing two benches in one table.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sld.config import RunConfig, TaskSpec
from sld.errors import ConfigError, SldError
from sld.evolve.start import start_laws_for
from sld.report import write_atomically

CONFIG_FILE = "bench-config.json"
RUNS_DIR = "runs"


class BenchConfig(BaseModel):
    """Every (task, seed) pair of a bench and the settings all its runs share.

    ``run`` holds the :class:`~sld.config.RunConfig` fields other than ``task``
    and ``seed``; seeds are ``0 .. seeds-1``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tasks: list[TaskSpec] = Field(min_length=1)
    names: list[str] = Field(min_length=1, description="run-directory name of each task")
    seeds: int = Field(ge=1)
    run: dict[str, Any] = Field(default_factory=dict)

    def run_config(self, index: int, seed: int) -> RunConfig:
        """The config of the run of task ``index`` with ``seed``."""
        return RunConfig.model_validate(
            {**self.run, "task": self.tasks[index].model_dump(), "seed": seed}
        )


@dataclasses.dataclass(frozen=True)
class Job:
    """One (task, seed) run of a bench: where it lives (relative to the bench) and its config."""

    task: str
    seed: int
    run_dir: str
    config: dict[str, Any]

    @property
    def key(self) -> str:
        """The job's name, also its run directory's name."""
        return f"{self.task}-s{self.seed}"


def bench_config(
    tasks: list[dict[str, Any]],
    *,
    seeds: int,
    run: dict[str, Any],
    named_as: Literal["keywords", "flags"] = "keywords",
) -> tuple[BenchConfig, list[Any]]:
    """The bench over ``tasks`` (task-spec dicts), validated; also the loaded tasks.

    Every task is loaded now, so a bad one fails before anything runs, with a
    one-line error naming it (and, with ``named_as="flags"``, the command-line flag at
    fault rather than the keyword). Two tasks with the same name (two ``loss.csv`` in
    different folders) are refused: their run directories would collide.
    """
    specs, loaded = [], []
    for values in tasks:
        spec = TaskSpec.model_validate(values)
        try:
            task = spec.load(named_as=named_as)
        except SldError as exc:
            message = str(exc)
            if spec.source not in message:
                message = f"{spec.source}: {message}"
            raise type(exc)(message) from None
        specs.append(spec)
        loaded.append(task)
    names = [task.name for task in loaded]
    for i, name in enumerate(names):
        if name in names[:i]:
            first = specs[names.index(name)].source
            raise ConfigError(
                f"tasks {first!r} and {specs[i].source!r} are both named {name!r}; "
                "rename one of the files (each task's runs live in runs/<name>-s<seed>)"
            )
    probe = RunConfig.model_validate({**run, "task": specs[0].model_dump(), "seed": 0})
    for task in loaded:  # start laws must fit every task, or the bench stops before it runs
        start_laws_for(probe.start_laws, task, max_params=probe.max_params)
    settings = probe.model_dump(mode="json", exclude={"task", "seed"})
    return BenchConfig(tasks=specs, names=names, seeds=seeds, run=settings), loaded


def jobs(config: BenchConfig) -> list[Job]:
    """Every (task, seed) job, task by task so that whole tasks finish early."""
    return [
        Job(
            task=name,
            seed=seed,
            run_dir=f"{RUNS_DIR}/{name}-s{seed}",
            config=config.run_config(i, seed).model_dump(mode="json"),
        )
        for i, name in enumerate(config.names)
        for seed in range(config.seeds)
    ]


def read_config(root: Path) -> BenchConfig | None:
    """The config the bench in ``root`` was made with (None: not a bench directory)."""
    path = Path(root) / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return BenchConfig.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{path} is not a readable bench config ({exc}); pass another --out"
        ) from None


def is_bench_dir(path: str | Path) -> bool:
    """Whether ``path`` holds a bench (its ``bench-config.json``)."""
    return (Path(path) / CONFIG_FILE).is_file()


def claim(root: Path, config: BenchConfig) -> None:
    """Record ``config`` in ``root``, or check it matches the one recorded there.

    Raises ConfigError naming the first difference when it does not.
    """
    stored = read_config(root)
    if stored is None:
        if (root / RUNS_DIR).exists():
            raise ConfigError(
                f"{root} holds a runs/ folder but no {CONFIG_FILE}; pass another --out"
            )
        write_atomically(root / CONFIG_FILE, config.model_dump_json(indent=2) + "\n")
        return
    difference = _difference(stored, config)
    if difference:
        raise ConfigError(
            f"{root} holds a bench made with other settings ({difference}); "
            "re-run it with the same tasks and flags, or pass another --out"
        )


def _difference(stored: BenchConfig, asked: BenchConfig) -> str:
    """The first setting that differs, as 'name: stored there, asked here' ('' when none)."""
    if stored.names != asked.names:
        return f"tasks {', '.join(stored.names)} there, {', '.join(asked.names)} here"
    if stored.tasks != asked.tasks:
        return "the tasks' data flags differ"
    if stored.seeds != asked.seeds:
        return f"--seeds {stored.seeds} there, {asked.seeds} here"
    # settings a newer sld added (absent on one side) do not count as a difference
    for key in sorted(set(stored.run) & set(asked.run)):
        if stored.run[key] != asked.run[key]:
            name = _FLAGS.get(key, key)
            return f"{name} {_shown(stored.run[key])} there, {_shown(asked.run[key])} here"
    return ""


# run settings by the flag that sets them, for messages
_FLAGS = {
    "time_limit": "--time (seconds)",
    "generations": "--generations",
    "max_candidates": "--candidates",
    "proposer": "--proposer",
    "islands": "--islands",
    "proposals_per_island": "--per-island",
    "restarts": "--restarts",
    "screen_share": "--screen-share",
    "screen_width": "--screen-width",
    "bootstrap": "--bootstrap",
    "llm": "the LLM settings",
}


def _shown(value: Any) -> str:
    if value is None:
        return "unset (the default)"
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
