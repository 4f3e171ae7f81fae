"""The caller's data options applied to a card: each option checked and named in messages as
the caller wrote it (a keyword or a flag, :mod:`sld.corpus.options`), and where a setting came
from (an option or the card) in the words a message uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sld.corpus.card import RESERVED_NAMES, TaskCard, default_aliases, scale_factors
from sld.corpus.options import DATA_OPTIONS, Naming, direction, option_hint, option_name
from sld.corpus.rules import parse_rule
from sld.corpus.table import SPLIT_COLUMN
from sld.errors import TaskError


@dataclass(frozen=True)
class Options:
    """The caller's data options (None: not given); see :func:`sld.corpus.load_task`."""

    inputs: Iterable[str] | None
    outputs: Iterable[str] | None
    group: str | None
    test: str | None
    rows: str | None
    aliases: Mapping[str, str] | None
    log_scale: bool | Mapping[str, bool] | None
    validation_scale: str | None
    max_params: int | None
    monotone: Mapping[str, str | int] | None


def merge(
    base: dict[str, Any],
    options: Options,
    *,
    default_name: str,
    name: str | None,
    curated: bool,
    naming: Naming,
    card_path: Path | None,
    where: str,
    columns: Callable[[], Sequence[str]] = tuple,
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The effective card as a dict (``base`` with the caller's options applied, each option
    checked and named as the caller wrote it), and the notes on what was guessed.

    ``columns()`` (the data's header, when known; called only then) is named in the error for
    missing inputs or outputs, so the fix can be copied from it."""
    spec = dict(base)
    spec["name"] = name or spec.get("name") or default_name
    if isinstance(options.inputs, str) or isinstance(options.outputs, str):
        raise TaskError(f"{where}: pass inputs and outputs as lists, e.g. inputs=['N', 'D']")
    beside = card_path or _card_beside(where)
    spec["inputs"] = _pick(
        spec.get("inputs", []), options.inputs, "inputs", naming, beside, where, columns
    )
    spec["outputs"] = _pick(
        spec.get("outputs", []), options.outputs, "outputs", naming, beside, where, columns
    )
    input_names = [v["name"] for v in spec["inputs"]]
    output_names = [v["name"] for v in spec["outputs"]]
    both = sorted(set(input_names) & set(output_names))
    if both:
        raise TaskError(
            f"{where}: column {both[0]!r} is both an input and an output; remove it from "
            f"{option_name('inputs', naming)} or {option_name('outputs', naming)}"
        )
    if options.aliases is not None:
        _apply_aliases(spec["inputs"], output_names, options.aliases, naming, where)
    default_aliases(spec["inputs"], spec["outputs"])
    known = {v["name"]: v["name"] for v in spec["inputs"]} | {
        v["alias"]: v["name"] for v in spec["inputs"]
    }
    listing = _input_listing(spec["inputs"])
    if options.log_scale is not None:
        _apply_log_scale(spec["inputs"], options.log_scale, known, listing, naming, where)
    if options.group is not None:
        flag = option_name("group", naming)
        if not isinstance(options.group, str) or not options.group.strip():
            raise TaskError(f"{where}: {flag} is empty; name the column holding each row's group")
        if options.group in {*input_names, *output_names}:
            raise TaskError(
                f"{where}: {flag} {options.group!r} is also an input or output; "
                "name the column that holds each row's group"
            )
        spec["group_column"] = options.group
    if options.rows is not None:
        if not isinstance(options.rows, str) or not options.rows.strip():
            raise TaskError(
                f"{where}: {option_name('rows', naming)} is empty; give a rule such as "
                f"{option_hint('rows', naming)}, or leave it out to use every row"
            )
        spec["rows"] = options.rows
    if options.test is not None:
        spec["split"] = {"test": options.test, "description": "rule given by the caller"}
    elif "split" not in spec:
        spec["split"] = {"source": f"the data's {SPLIT_COLUMN!r} column"}
    validation = dict(spec.get("validation", {}))
    notes: list[str] = []
    if options.validation_scale is not None:
        scale = options.validation_scale
        unknown = [f for f in scale_factors(scale) if f not in known]
        if unknown:
            raise TaskError(
                f"{where}: {option_name('validation_scale', naming)} {scale!r}: {unknown[0]!r} "
                f"is not an input; choose one of {listing}, or a product such as 'N*D'"
            )
        validation["scale"] = scale
    elif not curated and "validation" not in base and spec["inputs"]:
        guess = _test_axis(spec["split"].get("test"), known, group=options.group)
        why = f"the {'product' if guess and '*' in guess else 'one input'} the test rule compares"
        if guess is None:
            guess, why = spec["inputs"][0]["name"], "the first input"
        validation["scale"] = guess
        notes.append(
            f"the validation slice holds each group's largest-{guess} training rows: "
            f"{guess!r} is a guess ({why}); to order it by another input, "
            f"pass {option_hint('validation_scale', naming, 'INPUT')} (one of {listing}) "
            "or set validation.scale in the card"
        )
    spec["validation"] = validation
    if options.max_params is not None:
        limit = options.max_params
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise TaskError(
                f"{where}: {option_name('max_params', naming)} {limit!r} is not a positive "
                "integer; give the largest parameter count a law may have, e.g. 6"
            )
        spec["max_params"] = limit
    if options.monotone is not None:
        spec["monotone"] = _monotone(options.monotone, known, listing, naming, where)
        if not spec["monotone"]:  # "none": no direction, and none read from the rows either
            spec["validation"] = {**spec["validation"], "infer_monotone": False}
    if not curated:
        spec.pop("counts", None)
    return spec, tuple(notes)


def _test_axis(test: object, known: Mapping[str, str], *, group: str | None) -> str | None:
    """The input a test rule compares, when it compares exactly one (``N >= 2.9e9`` -> N),
    or the product of inputs its one comparison compares (``6*N*D >= 1e21`` -> ``N*D``):
    the scale the held-out rows lie along, so the folds should cut along it too. None for
    any other rule on several inputs or none, or one that does not parse (loading it
    reports that)."""
    if not isinstance(test, str):
        return None
    allowed = set(known) | set(RESERVED_NAMES) | ({group} if group else set())
    try:
        rule = parse_rule(test, names=allowed)
    except TaskError:
        return None
    product = rule.compared_product()
    if product is not None and set(product) <= set(known) and rule.names <= set(product):
        return "*".join(dict.fromkeys(known[n] for n in product))
    read = {known[n] for n in rule.names if n in known}
    return read.pop() if len(read) == 1 else None


def _card_beside(where: str) -> Path | None:
    return Path(where).with_suffix(".toml") if where != "DataFrame" else None


def _input_listing(inputs: list[dict[str, Any]]) -> str:
    """'N, D' or 'num_params (N), tokens (D)': the inputs as a user may name them."""
    return ", ".join(
        v["name"] if v.get("alias") in (None, v["name"]) else f"{v['name']} ({v['alias']})"
        for v in inputs
    )


def _pick(
    declared: list[dict[str, Any]],
    wanted: Iterable[str] | None,
    option: str,
    naming: Naming,
    card: Path | None,
    where: str,
    columns: Callable[[], Sequence[str]],
) -> list[dict[str, Any]]:
    flag = option_name(option, naming)
    if wanted is None:
        if not declared:
            in_card = f" or list them as {DATA_OPTIONS[option].card_key}"
            in_card += f" in a card {card.name} beside the data" if card else " in a card"
            names = columns()
            header = f"; the columns are: {', '.join(names)}" if names else ""
            raise TaskError(
                f"{where}: no {option} given; pass {option_hint(option, naming)}{in_card}{header}"
            )
        return [dict(v) for v in declared]
    wanted = list(wanted)
    if not wanted:
        raise TaskError(f"{where}: {flag} is empty; name at least one column")
    for column in wanted:
        if not isinstance(column, str) or not column.strip():
            raise TaskError(f"{where}: {flag} holds an empty name; name each column")
    if len(set(wanted)) != len(wanted):
        twice = next(c for c in wanted if wanted.count(c) > 1)
        raise TaskError(f"{where}: {flag} names {twice!r} twice; list each column once")
    by_key = {v["name"]: v for v in declared} | {v["alias"]: v for v in declared if v.get("alias")}
    return [dict(by_key.get(n, {"name": n})) for n in wanted]


def _apply_aliases(
    inputs: list[dict[str, Any]],
    outputs: list[str],
    aliases: Mapping[str, str],
    naming: Naming,
    where: str,
) -> None:
    flag = option_name("aliases", naming)
    names = [v["name"] for v in inputs]
    if not isinstance(aliases, Mapping):
        raise TaskError(
            f"{where}: {flag} must map alias -> input, e.g. {option_hint('aliases', naming)}"
        )
    targets: set[str] = set()
    for alias, target in aliases.items():
        if target not in names:
            raise TaskError(
                f"{where}: {flag} gives alias {alias!r} to {target!r}, which is not an input; "
                f"aliases map alias -> input name, inputs are: {', '.join(names)}"
            )
        if not isinstance(alias, str) or not alias.isidentifier():
            raise TaskError(
                f"{where}: {flag} alias {alias!r} of {target!r} is not a valid identifier; "
                "use letters, digits and _"
            )
        if alias in RESERVED_NAMES:
            raise TaskError(
                f"{where}: {flag} alias {alias!r} of {target!r} is a reserved name; pick another"
            )
        if alias in {*names, *outputs} and alias != target:
            raise TaskError(
                f"{where}: {flag} alias {alias!r} of {target!r} clashes with a column name; "
                "pick another"
            )
        if target in targets:
            raise TaskError(f"{where}: {flag} gives {target!r} two aliases; keep one")
        targets.add(target)
        for var in inputs:
            if var["name"] == target:
                var["alias"] = alias


def _apply_log_scale(
    inputs: list[dict[str, Any]],
    log_scale: bool | Mapping[str, bool],
    known: Mapping[str, str],
    listing: str,
    naming: Naming,
    where: str,
) -> None:
    flag = option_name("log_scale", naming)
    if isinstance(log_scale, bool):
        for var in inputs:
            var["log_scale"] = log_scale
        return
    if not isinstance(log_scale, Mapping):
        raise TaskError(
            f"{where}: {flag} must be true/false or per input, e.g. {option_hint('log_scale', naming)}"
        )
    for key, value in log_scale.items():
        if key not in known:
            raise TaskError(
                f"{where}: {flag} names {key!r}, which is not an input; inputs: {listing}"
            )
        if not isinstance(value, bool | np.bool_):
            raise TaskError(f"{where}: {flag} value {value!r} for {key!r} is not true/false")
        for var in inputs:
            if var["name"] == known[key]:
                var["log_scale"] = bool(value)


def _monotone(
    monotone: Mapping[str, str | int],
    known: Mapping[str, str],
    listing: str,
    naming: Naming,
    where: str,
) -> dict[str, str]:
    flag = option_name("monotone", naming)
    if not isinstance(monotone, Mapping):
        raise TaskError(
            f"{where}: {flag} must map input -> direction, e.g. {option_hint('monotone', naming)}"
        )
    out: dict[str, str] = {}
    for key, word in monotone.items():
        if key not in known:
            raise TaskError(
                f"{where}: {flag} names {key!r}, which is not an input; inputs: {listing}"
            )
        try:
            out[key] = direction(word)
        except ValueError as exc:
            raise TaskError(f"{where}: {flag} for {key!r}: {exc}") from None
        if [known[k] for k in out].count(known[key]) > 1:
            raise TaskError(f"{where}: {flag} names input {known[key]!r} twice; keep one entry")
    return out


def origins(
    card: TaskCard, options: Options, *, naming: Naming, card_path: Path | None
) -> dict[str, str]:
    """Column -> what named it (a flag or keyword, else the card), for missing-column messages."""
    origins: dict[str, str] = {}
    in_card = f"{card_path.name}" if card_path is not None else None
    for option, columns in (
        ("inputs", card.input_names),
        ("outputs", card.output_names),
        ("group", [card.group_column] if card.group_column else []),
    ):
        given = getattr(options, option) is not None
        for column in columns:
            if given:
                origins[column] = option_name(option, naming)
            elif in_card is not None:
                origins[column] = f"{DATA_OPTIONS[option].card_key} in {in_card}"
    return origins


def rule_where(
    where: str, option: str | None, card_path: Path | None, *, key: str = "split.test"
) -> str:
    """What a rule's message starts with: the data, then the flag or card key it came from
    (``key``: the card key of the rule, ``split.test`` or ``rows``)."""
    if option is not None:
        return f"{where}: {option} rule"
    if card_path is not None:
        return f"{where}: {key} rule of {card_path.name}"
    return f"{where}: {'test' if key == 'split.test' else key} rule"


def linear_hint(column: str, naming: Naming) -> str:
    """The option that keeps ``column`` off the log scale: ``--log-scale D:no`` or
    ``log_scale={'D': False}``."""
    value = f"{column}:no" if naming == "flags" else f"{{{column!r}: False}}"
    return option_hint("log_scale", naming, value)


def log_scale_fix(column: str, options: Options, *, naming: Naming, card_path: Path | None) -> str:
    """How to take ``column`` off the log scale, in the words the user set it with."""
    fix = f"fix the value or pass {linear_hint(column, naming)}"
    if options.log_scale is None and card_path is not None:
        fix += f" (or set log_scale = false for it in {card_path.name})"
    return fix
