"""The options that describe a user's data, and how each is spelled where a user writes it.

One option, three spellings: a keyword of :func:`sld.corpus.load_task`, a command-line flag
that ``sld score``, ``sld discover`` and ``sld bench`` share, and a key of the card beside the
data file. A message about a value names it the way the user wrote it (:func:`option_name`,
:func:`option_hint`), never the other way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sld.corpus.card import DIRECTION_WORDS, Direction

Naming = Literal["keywords", "flags"]
"""How the caller wrote the options: ``load_task`` keywords, or command-line flags."""


@dataclass(frozen=True)
class DataOption:
    """One data option: its keyword, flag and card key, with an example value in each form."""

    keyword: str
    flag: str
    card_key: str
    keyword_example: str
    flag_example: str


DATA_OPTIONS: dict[str, DataOption] = {
    option.keyword: option
    for option in (
        DataOption("inputs", "--inputs", "[[inputs]] name", "['N', 'D']", "N,D"),
        DataOption("outputs", "--output", "[[outputs]] name", "['loss']", "loss"),
        DataOption("group", "--group", "group_column", "'model'", "model"),
        DataOption("rows", "--rows", "rows", "'step == 249000'", '"step == 249000"'),
        DataOption("test", "--test", "split.test", "'N >= 1e9'", '"N >= 1e9"'),
        DataOption("validation_scale", "--validation-scale", "validation.scale", "'N'", "N"),
        DataOption("log_scale", "--log-scale", "[[inputs]] log_scale", "{'D': False}", "D:no"),
        DataOption(
            "aliases", "--aliases", "[[inputs]] alias", "{'N': 'num_params'}", "N=num_params"
        ),
        DataOption("max_params", "--max-params", "max_params", "6", "6"),
        DataOption("monotone", "--monotone", "monotone", "{'N': 'dec'}", "N:dec,D:dec"),
    )
}


def option_name(option: str, naming: Naming) -> str:
    """``--validation-scale`` (flags) or ``validation_scale`` (keywords)."""
    spec = DATA_OPTIONS[option]
    return spec.flag if naming == "flags" else spec.keyword


def option_hint(option: str, naming: Naming, value: str | None = None) -> str:
    """The option with a value, as the user would write it: ``--log-scale D:no`` or
    ``log_scale={'D': False}``; ``value`` replaces the example."""
    spec = DATA_OPTIONS[option]
    if naming == "flags":
        return f"{spec.flag} {value if value is not None else spec.flag_example}"
    return f"{spec.keyword}={value if value is not None else spec.keyword_example}"


def direction(word: object) -> Direction:
    """``increasing``/``inc``/``+1`` -> ``"increasing"``; ``decreasing``/``dec``/``-1`` ->
    ``"decreasing"``; ValueError otherwise."""
    if isinstance(word, int | float) and not isinstance(word, bool) and word in (1, -1):
        return "increasing" if word > 0 else "decreasing"
    found = DIRECTION_WORDS.get(str(word).strip().lower()) if isinstance(word, str) else None
    if found is None:
        raise ValueError(f"{word!r} is not a direction; write increasing (inc) or decreasing (dec)")
    return found
