"""The task card: what a task's columns mean, how it is split, where its data came from.

A card is a TOML file validated by :class:`TaskCard`. Curated cards (``datasets/<task>/card.toml``)
must also carry ``counts``, ``sources``, ``license`` and ``[build]``; a user's card beside their
CSV may leave those out.
"""

from __future__ import annotations

import keyword
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sld.errors import TaskError, validation_message

# Names a law's grammar gives a meaning of its own; an alias must not shadow them.
RESERVED_NAMES = frozenset(
    {"log", "exp", "sqrt", "abs", "tanh", "min", "max", "sin", "cos", "pow", "pi", "e", "group"}
)


def _reserved(name: str) -> bool:
    return name in RESERVED_NAMES or keyword.iskeyword(name)


def writable(name: str) -> bool:
    """Whether ``name`` can stand on the left of a law (``name = ...``)."""
    return name.isidentifier() and not name.startswith("_") and not _reserved(name)


Direction = Literal["increasing", "decreasing"]
DIRECTION_WORDS: dict[str, Direction] = {
    "increasing": "increasing",
    "inc": "increasing",
    "decreasing": "decreasing",
    "dec": "decreasing",
}
"""Every word a card, a flag or a keyword may use for a monotone direction."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variable(_Model):
    """One column: an input (alias required) or an output (alias optional)."""

    name: str = Field(min_length=1)
    alias: str | None = None
    description: str = ""
    unit: str = ""
    log_scale: bool = False


class SplitRule(_Model):
    """Which rows are held out: a rule over column names (``test``) or the source's own split.

    Exactly one of ``test`` (see :mod:`sld.corpus.rules`) and ``source`` is set.
    """

    test: str | None = None
    source: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _one_of(self) -> SplitRule:
        if (self.test is None) == (self.source is None):
            raise ValueError("set exactly one of split.test (a rule) and split.source (a text)")
        return self


class Counts(_Model):
    """Expected row counts per split and number of groups."""

    train: int = Field(ge=0)
    test: int = Field(ge=0)
    groups: int = Field(ge=1)


class ValidationRule(_Model):
    """How selection folds are cut from the training rows (see :mod:`sld.corpus.folds`).

    ``scale``: the input the task extrapolates in, or a product of inputs such as ``"N*D"``
    when it extrapolates in compute (None: random folds); ``fraction``: the
    share of a group's rows in each fold's scored band; ``folds``: how many nested cutoffs
    (fold 0 is the validation slice); ``probe``: how far beyond its training maximum each
    log-scale input is probed by the extrapolation checks (a factor, default 10; why not more:
    ``bench/selection_sweep.md``); ``monotone_probe``: how far the declared monotone
    directions alone are probed (default 1000: a law that turns upward three decades out is
    demoted, one whose fitted floor turns negative there is not); ``infer_monotone``: when
    the card declares no ``[monotone]`` direction, read them from the training rows
    (:mod:`sld.corpus.directions`).
    """

    scale: str | None = None
    fraction: float = Field(default=0.15, gt=0.0, lt=1.0)
    seed: int = 0
    folds: int = Field(default=3, ge=1, le=10)
    probe: float = Field(default=10.0, gt=1.0, le=1e6)
    monotone_probe: float = Field(default=1000.0, gt=1.0, le=1e6)
    infer_monotone: bool = True


class Source(_Model):
    """Where the data came from."""

    paper: str
    arxiv: str | None = None
    repository: str | None = None
    commit: str | None = None
    path: str | None = None


class BuildSpec(_Model):
    """How ``data.csv`` is rebuilt from the raw files (read by :mod:`sld.corpus.build`).

    ``reader`` picks the code that reads ``files`` (paths under the raw folder); ``columns``
    maps task column -> raw column; ``keep`` is a rule (:mod:`sld.corpus.rules`) over task
    columns and identifier-named raw columns selecting the rows kept; ``test`` is such a rule
    marking the held-out rows, for a split on a raw column the task does not keep (the card's
    split is then ``split.source``); rows without a group column go to ``single_group``;
    ``params`` holds reader-specific settings; ``filters`` says in words what the reader drops.
    """

    reader: str
    files: list[str] = Field(min_length=1)
    columns: dict[str, str] = Field(default_factory=dict)
    keep: str | None = None
    test: str | None = None
    single_group: str = "all_data"
    params: dict[str, Any] = Field(default_factory=dict)
    filters: list[str] = Field(default_factory=list)
    notes: str = ""


class TaskCard(_Model):
    """A task's contract: columns, split, validation rule, limits, provenance.

    ``monotone`` maps an input (name or alias) to the direction every output moves as that
    input grows (``[monotone]`` with e.g. ``N = "decreasing"``); extrapolation checks read it.
    ``rows``: a rule (the grammar of test rules) selecting the rows of the file the task
    uses (``step == 249000``); None uses every row.
    """

    name: str = Field(min_length=1)
    title: str = ""
    description: str = ""
    inputs: list[Variable] = Field(min_length=1)
    outputs: list[Variable] = Field(min_length=1)
    group: str = "all rows form one group"
    group_column: str | None = None
    rows: str | None = None
    split: SplitRule = SplitRule(source="the data file's 'split' column (train/test)")
    counts: Counts | None = None
    validation: ValidationRule = ValidationRule()
    max_params: int | None = Field(default=None, ge=1)
    allow_duplicate_inputs: bool = False
    monotone: dict[str, Direction] = Field(default_factory=dict)
    reference_law: str | None = None
    reference_law_note: str = ""
    sources: list[Source] = Field(default_factory=list)
    license: str | None = None
    caveats: list[str] = Field(default_factory=list)
    data: str | None = None
    build: BuildSpec | None = None

    @model_validator(mode="after")
    def _consistent_names(self) -> TaskCard:
        input_names = [v.name for v in self.inputs]
        output_names = [v.name for v in self.outputs]
        _no_duplicates(input_names, "input")
        _no_duplicates(output_names, "output")
        both = sorted(set(input_names) & set(output_names))
        if both:
            raise ValueError(f"column {both[0]!r} is both an input and an output; pick one role")
        for name in output_names:  # a law writes 'output = ...', so the output must be a name
            if not writable(name):
                raise ValueError(
                    f"output {name!r} cannot stand on the left of a law ('{name} = ...'); "
                    "rename the column to letters, digits and _"
                )
        columns = {*input_names, *output_names}
        if self.group_column is not None and self.group_column in columns:
            raise ValueError(f"group column {self.group_column!r} is also an input or output")
        aliases: list[str] = []
        for var in self.inputs:
            if var.alias is None:
                raise ValueError(f'input {var.name!r} needs an alias, e.g. alias = "N"')
        for var in [*self.inputs, *self.outputs]:
            if var.alias is None:
                continue
            if not var.alias.isidentifier():
                raise ValueError(f"alias {var.alias!r} of {var.name!r} is not a valid identifier")
            if var.alias in RESERVED_NAMES:
                raise ValueError(f"alias {var.alias!r} of {var.name!r} is a reserved name")
            if var.alias in columns and var.alias != var.name:
                raise ValueError(f"alias {var.alias!r} of {var.name!r} clashes with a column name")
            aliases.append(var.alias)
        _no_duplicates(aliases, "alias")
        known = {*input_names, *(v.alias for v in self.inputs)}
        for factor in scale_factors(self.validation.scale):
            if factor not in known:
                raise ValueError(
                    f"validation.scale {self.validation.scale!r}: {factor!r} is not an input "
                    "name or alias (a scale is one input, or a product such as 'N*D')"
                )
        named: set[str] = set()
        for key in self.monotone:
            target = self.aliases.get(key, key)
            if key not in known:
                raise ValueError(f"monotone key {key!r} is not an input name or alias")
            if target in named:
                raise ValueError(f"monotone names input {target!r} twice; keep one entry")
            named.add(target)
        return self

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.outputs)

    @property
    def aliases(self) -> dict[str, str]:
        """Alias -> input column name, in card order."""
        return {v.alias: v.name for v in self.inputs if v.alias is not None}

    @property
    def monotone_signs(self) -> dict[str, int]:
        """Input name -> +1 (output increases with it) or -1 (decreases), aliases resolved."""
        return {
            self.aliases.get(key, key): 1 if direction == "increasing" else -1
            for key, direction in self.monotone.items()
        }

    @property
    def scale_inputs(self) -> tuple[str, ...]:
        """The input *names* whose product orders the folds (aliases resolved; () for none)."""
        return tuple(self.aliases.get(f, f) for f in scale_factors(self.validation.scale))

    @property
    def validation_scale(self) -> str | None:
        """The input *name* the validation slice is ordered by (aliases resolved).

        For a product scale (``"N*D"``, e.g. compute) this is its first factor, the input a
        plot puts on its x axis; :attr:`scale_inputs` holds every factor.
        """
        names = self.scale_inputs
        return names[0] if names else None


def scale_factors(scale: str | None) -> list[str]:
    """The factors of a validation scale: ``"N*D"`` → ``["N", "D"]``; None → []."""
    if scale is None:
        return []
    return [part.strip() for part in scale.split("*")]


def _no_duplicates(names: list[str], kind: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{kind} {name!r} is listed twice")
        seen.add(name)


def default_aliases(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> None:
    """Give each input without an alias its own name, or x1, x2, ... when that cannot serve."""
    taken = {v.get("alias") for v in [*inputs, *outputs]} | {v["name"] for v in [*inputs, *outputs]}
    for position, var in enumerate(inputs, start=1):
        if var.get("alias"):
            continue
        if var["name"].isidentifier() and var["name"] not in RESERVED_NAMES:
            var["alias"] = var["name"]
            continue
        candidate = f"x{position}"
        while candidate in taken:
            candidate += "_"
        var["alias"] = candidate
        taken.add(candidate)


def _named(variable: object) -> bool:
    return isinstance(variable, dict) and isinstance(variable.get("name"), str)


def card_from_dict(raw: dict[str, Any], *, where: str, what: str = "card field") -> TaskCard:
    """Validate a parsed card; one-line TaskError naming ``where`` and the first bad field.

    ``what`` names the field's kind: ``card field`` for a card file, ``setting`` for options
    given without one.
    """
    try:
        return TaskCard.model_validate(raw)
    except ValidationError as exc:
        fix = "fix the card" if what == "card field" else "fix the option"
        raise TaskError(validation_message(exc, what=what, where=where, fix=fix)) from None


def read_card(path: Path, *, curated: bool = False) -> TaskCard:
    """Read and validate a card file.

    ``curated=True`` also requires ``counts``, ``sources``, ``license`` and ``[build]``;
    otherwise ``name`` defaults to the file's stem and each input's alias to its name
    (:func:`default_aliases`).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaskError(f"{path}: card file not found; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskError(f"{path}: cannot read card ({exc}); check the file") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TaskError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    if not curated:  # a user's card may leave the name to its file and aliases to the names
        raw.setdefault("name", path.stem)
        if isinstance(raw.get("inputs"), list) and isinstance(raw.get("outputs", []), list):
            inputs = [v for v in raw["inputs"] if _named(v)]
            outputs = [v for v in raw.get("outputs", []) if _named(v)]
            if len(inputs) == len(raw["inputs"]) and len(outputs) == len(raw.get("outputs", [])):
                default_aliases(inputs, outputs)
    card = card_from_dict(raw, where=str(path))
    if curated:
        missing = [
            field
            for field, value in (
                ("counts", card.counts),
                ("sources", card.sources),
                ("license", card.license),
                ("build", card.build),
            )
            if not value
        ]
        if missing:
            raise TaskError(f"{path}: a curated card needs {missing[0]!r}; add it")
    return card
