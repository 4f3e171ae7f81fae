"""The data flags: one argument group that every command loading a task shares.

``sld score``, ``sld discover`` and ``sld bench`` describe a user's data file with the same
flags (``--inputs`` ... ``--monotone``), each the twin of a card key. A command's parser calls
:func:`add_data_flags`; its handler turns the parsed flags into a
:class:`~sld.config.TaskSpec` with :func:`task_spec` and loads it with
``spec.load(named_as="flags")``, so every message names the flag. (A module of its own, not
``_args``: command modules import it, and ``_args`` imports the command modules.)
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from sld.cli._types import positive_int

if TYPE_CHECKING:  # pragma: no cover
    from sld.config import TaskSpec


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    """Add the flags that describe a user's data file (``--inputs`` ... ``--monotone``).

    Each flag says what one card key says (in brackets in ``--help``); a flag overrides the
    card beside the file. Turn the parsed flags into a task with :func:`task_spec`.
    """
    from sld.corpus import DATA_OPTIONS

    def card(option: str) -> str:
        return f" [card: {DATA_OPTIONS[option].card_key}]"

    parser.add_argument(
        "--rehearse",
        action="store_true",
        help="the task's rehearsal: hold out its validation slice as the test rows and search "
        "the rows below it (the real test rows are never loaded), to judge the search on "
        "training rows alone",
    )
    data = parser.add_argument_group(
        "your own data",
        "for a CSV, Parquet or JSON file; a card FILE.toml beside it may say the same (card key in "
        "brackets), and a flag overrides it",
    )
    data.add_argument(
        "--inputs",
        type=_names,
        metavar="COLS",
        help="input columns, comma-separated, e.g. N,D" + card("inputs"),
    )
    data.add_argument(
        "--output",
        type=_names,
        metavar="COLS",
        help="output column(s), comma-separated" + card("outputs"),
    )
    data.add_argument(
        "--group",
        type=_name,
        metavar="COL",
        help="column naming each row's group (default: one group)" + card("group"),
    )
    data.add_argument(
        "--rows",
        metavar="RULE",
        help='rule selecting the rows of the file to use, e.g. "step == 249000" (default: '
        "every row)" + card("rows"),
    )
    data.add_argument(
        "--test",
        metavar="RULE",
        help='rule selecting the held-out rows, e.g. "N >= 1e9" (default: the file\'s split '
        "column)" + card("test"),
    )
    data.add_argument(
        "--validation-scale",
        type=_name,
        metavar="INPUT",
        help="input whose largest training values form the validation slice "
        "(default: the first input)" + card("validation_scale"),
    )
    data.add_argument(
        "--log-scale",
        type=_log_scale,
        metavar="SPEC",
        help="yes/no for every input, or per input, e.g. N:yes,D:no (default: yes where "
        "positive)" + card("log_scale"),
    )
    data.add_argument(
        "--aliases",
        type=_aliases,
        metavar="ALIAS=COL,...",
        help="short names laws may use, e.g. N=num_params,D=tokens" + card("aliases"),
    )
    data.add_argument(
        "--max-params",
        type=positive_int,
        metavar="K",
        help="most free parameters a law may have" + card("max_params"),
    )
    data.add_argument(
        "--monotone",
        type=_monotone,
        metavar="INPUT:DIR,...",
        help="direction the output moves as an input grows, inc or dec, e.g. N:dec,D:dec; "
        "none for no direction (default: read from the training rows)" + card("monotone"),
    )


DATA_FLAGS = {
    "inputs": "--inputs",
    "outputs": "--output",
    "group": "--group",
    "rows": "--rows",
    "test": "--test",
    "validation_scale": "--validation-scale",
    "log_scale": "--log-scale",
    "aliases": "--aliases",
    "max_params": "--max-params",
    "monotone": "--monotone",
}
"""TaskSpec field -> flag; each flag's namespace attribute is the flag without dashes."""


def data_options(args: argparse.Namespace) -> dict[str, Any]:
    """The data flags that were given, as :class:`~sld.config.TaskSpec` fields."""
    values = {
        field: getattr(args, flag.removeprefix("--").replace("-", "_"), None)
        for field, flag in DATA_FLAGS.items()
    }
    return {field: value for field, value in values.items() if value is not None}


def task_spec(source: str, args: argparse.Namespace) -> TaskSpec:
    """The task SOURCE with the data flags of ``args``; ConfigError when data flags are
    given for a curated task (its card already says all of it)."""
    from sld.config import TaskSpec
    from sld.corpus import is_curated
    from sld.errors import ConfigError

    options = data_options(args)
    if options and is_curated(source):
        flags = ", ".join(DATA_FLAGS[field] for field in options)
        verb = "describes" if len(options) == 1 else "describe"
        raise ConfigError(
            f"{flags} {verb} your own data file, but {source!r} is a curated task whose card "
            "says all of it; drop the flag(s) or pass a path to your data file (CSV, Parquet, JSON)"
        )
    return TaskSpec(source=source, rehearse=bool(getattr(args, "rehearse", False)), **options)


def _name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a column name, got an empty value")
    return text.strip()


def _names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not name for name in names):
        raise argparse.ArgumentTypeError(
            f"expected column names separated by commas, e.g. N,D; got {text!r}"
        )
    return names


def _pairs(text: str, sep: str, example: str) -> list[tuple[str, str]]:
    pairs = []
    for part in text.split(","):
        key, found, value = part.partition(sep)
        if not found or not key.strip() or not value.strip():
            raise argparse.ArgumentTypeError(f"expected {example}, got {text!r}")
        pairs.append((key.strip(), value.strip()))
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise argparse.ArgumentTypeError(f"{key!r} appears twice in {text!r}; keep one")
    return pairs


_YES = {"yes": True, "y": True, "true": True, "on": True, "1": True}
_NO = {"no": False, "n": False, "false": False, "off": False, "0": False}


def _switch(text: str) -> bool | None:
    return (_YES | _NO).get(text.strip().lower())


def _log_scale(text: str) -> bool | dict[str, bool]:
    whole = _switch(text)
    if whole is not None:
        return whole
    example = "yes, no, or INPUT:yes/no pairs such as N:yes,D:no"
    out = {}
    for key, value in _pairs(text, ":", example):
        switch = _switch(value)
        if switch is None:
            raise argparse.ArgumentTypeError(f"expected {example}, got {value!r} for {key!r}")
        out[key] = switch
    return out


def _aliases(text: str) -> dict[str, str]:
    return dict(_pairs(text, "=", "ALIAS=COLUMN pairs such as N=num_params,D=tokens"))


def _monotone(text: str) -> dict[str, str]:
    from sld.corpus.options import direction

    if text.strip().lower() == "none":
        return {}
    out: dict[str, str] = {}
    for key, word in _pairs(text, ":", "INPUT:inc or INPUT:dec pairs such as N:dec,D:dec"):
        try:
            out[key] = direction(word)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{key}: {exc}") from None
    return out
