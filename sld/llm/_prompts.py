"""Prompt rendering: the templates in ``prompts/`` filled with a task's data.

Templates are ours; the values (task text, parent laws, failure reasons, which may
echo earlier LLM output) are data. :func:`render` therefore substitutes plain names
only: a placeholder with an attribute or index lookup, a conversion or a format
spec, or a name without a value, is a ``ConfigError``, and values are inserted
verbatim, never formatted again. Nothing here reads the clock, so the same request
renders the same messages (replay matches on them).

What the model sees of the data is training rows only: the brief's stratified
sample (:func:`sld.proposer.training_sample`) and, per shown law, its fold scores,
residual diagnostics in words and the extrapolation checks it failed — all computed
from training rows. A prompt is kept within a token budget (estimated as characters /
:data:`CHARS_PER_TOKEN`) by showing fewer sample rows and shorter notes.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sld.errors import ConfigError
from sld.law import FUNCTIONS
from sld.proposer import Parent, ProposalRequest, TaskBrief
from sld.resources import prompts_dir
from sld.scoring import diagnostics_words

TEMPLATES = ("system", "propose", "repair")
PLACEHOLDERS = frozenset(
    {
        "task_name",
        "description",
        "variables",
        "outputs",
        "group",
        "best_laws",
        "data",
        "failures",
        "max_params",
        "count",
        "answer_format",
        "grammar",
    }
)
_TEXT_CAP = 240  # characters of a law or reason echoed back into a prompt
CHARS_PER_TOKEN = 4  # a plain estimate of tokens: characters / 4
_SHRINK = ((24, 5), (16, 3), (10, 2), (6, 1), (0, 0))  # (sample rows, note lines per law)


@cache
def template(name: str) -> str:
    """The text of ``prompts/<name>.txt``."""
    if name not in TEMPLATES:
        raise ConfigError(f"unknown prompt template {name!r}; expected one of {TEMPLATES}")
    return (prompts_dir() / f"{name}.txt").read_text(encoding="utf-8").strip()


def render(text: str, values: Mapping[str, Any]) -> str:
    """``text`` with each ``{name}`` replaced by ``str(values[name])``; ``{{``/``}}`` are braces."""
    out: list[str] = []
    for literal, field, spec, conversion in string.Formatter().parse(text):
        out.append(literal)
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ConfigError(
                f"prompt placeholder {{{field}}} must be a plain name "
                "(no lookups, conversions or format specs)"
            )
        if field not in values:
            raise ConfigError(f"prompt placeholder {{{field}}} has no value")
        out.append(str(values[field]))
    return "".join(out)


def _number(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def _clip(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _TEXT_CAP else flat[: _TEXT_CAP - 1] + "…"


def _names(brief: TaskBrief) -> frozenset[str]:
    return frozenset(brief.inputs) | frozenset(brief.aliases) | frozenset(brief.outputs)


def free_names(brief: TaskBrief, wanted: Sequence[str]) -> list[str]:
    """``wanted`` parameter names, each suffixed ``0``, ``1``, ... when the task uses it."""
    taken = set(_names(brief))
    out = []
    for name in wanted:
        candidate, n = name, 0
        while candidate in taken:
            candidate, n = f"{name}{n}", n + 1
        taken.add(candidate)
        out.append(candidate)
    return out


def variables_text(brief: TaskBrief) -> str:
    """One line per input: short name, long name, unit, training range, scale."""
    lines = []
    for name in brief.inputs:
        alias = brief.alias_of(name)
        label = f"{alias} ({name})" if alias != name else name
        parts = [label]
        if brief.units.get(name):
            parts.append(f"unit: {brief.units[name]}")
        if name in brief.ranges:
            low, high = brief.ranges[name]
            parts.append(f"training range {_number(low)} to {_number(high)}")
        if brief.log_scale.get(name):
            parts.append("spans orders of magnitude (powers and logs are natural)")
        lines.append("- " + "; ".join(parts))
    return "\n".join(lines)


def grammar_text(brief: TaskBrief) -> str:
    """The law grammar in words, with this task's variable and output names."""
    one = [f for f, n in FUNCTIONS.items() if n == 1]
    many = [f for f, n in FUNCTIONS.items() if n is None]
    variables = ", ".join(brief.alias_of(n) for n in brief.inputs)
    if len(brief.outputs) == 1:
        shape = f"- a law is one formula: {brief.outputs[0]} = <expression>"
    else:
        shape = "- a law is one formula per output, separated by '; ' on one line: " + "; ".join(
            f"{o} = <expression>" for o in brief.outputs
        )
    return "\n".join(
        [
            shape,
            f"- variables: {variables} (each expression uses at least one)",
            "- numbers: 3, 0.5, 1e9",
            "- operators: + - * / and ** for powers, with parentheses",
            f"- functions: {', '.join(one)} (one argument; log is natural), "
            f"{', '.join(many)} (two to eight arguments)",
            "- any other name (letters, digits, underscore) is a free parameter",
            "- nothing else: no code, no strings, no named constants (write exp(1), not e)",
        ]
    )


def example_laws(brief: TaskBrief) -> list[str]:
    """Two well-formed example laws for the answer format (not hints about the answer)."""
    e, a, b, alpha, beta = free_names(brief, ["E", "A", "B", "alpha", "beta"])
    first = brief.alias_of(brief.inputs[0])
    last = brief.alias_of(brief.inputs[-1])

    def law(body: str) -> str:
        return "; ".join(f"{o} = {body}" for o in brief.outputs)

    second = (
        f"{e} + {a}/{first}**{alpha} + {b}/{last}**{beta}"
        if last != first
        else f"{e} + {a}*exp(-{alpha}*{first})"
    )
    return [law(f"{e} + {a}/{first}**{alpha}"), law(second)]


def answer_text(brief: TaskBrief, answer: str) -> str:
    """How to format the reply: a JSON object, or a numbered list of laws."""
    examples = example_laws(brief)
    if answer == "lines":
        listed = "\n".join(f"{i}. {law}" for i, law in enumerate(examples, 1))
        return (
            "Answer with a numbered list, one complete law per line, and nothing else; a line "
            "may end with '  # ' and a one-line hypothesis. "
            f"For example:\n{listed}"
        )
    item = (
        '{"law": "'
        + examples[0]
        + '", "rationale": "<one line: your hypothesis, what this law fixes>"}'
    )
    return (
        'Answer with one JSON object and nothing else: {"laws": [' + item + ", ...]}. "
        'Each "law" is one complete law as a string.'
    )


def estimate_tokens(text: str) -> int:
    """Tokens a text takes, estimated as characters / :data:`CHARS_PER_TOKEN` (rounded up)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def messages_tokens(messages: Sequence[Mapping[str, str]]) -> int:
    """Estimated tokens of chat messages (their contents plus a few per message)."""
    return sum(estimate_tokens(m["content"]) + 4 for m in messages)


def data_text(brief: TaskBrief, *, rows: int = 24) -> str:
    """Up to ``rows`` of the brief's training sample as a table, inputs by alias."""
    sample = brief.sample[:rows] if rows > 0 else ()
    if not sample:
        return "(not shown)"
    if rows < len(brief.sample):  # thin evenly rather than cut the largest scales off
        step = len(brief.sample) / rows
        sample = tuple(brief.sample[int(i * step)] for i in range(rows))
    columns = [brief.alias_of(n) for n in brief.inputs] + list(brief.outputs)
    several = len({g for g, _ in brief.sample}) > 1
    head = (["group"] if several else []) + columns
    lines = [" | ".join(head)]
    for group, values in sample:
        cells = [f"{v:.4g}" for v in values]
        lines.append(" | ".join(([_clip(group)] if several else []) + cells))
    return "\n".join(lines)


def _law_notes(p: Parent, brief: TaskBrief, *, lines: int) -> list[str]:
    """Up to ``lines`` indented lines on where a shown law misses (training rows only)."""
    if lines <= 0:
        return []
    notes = []
    if p.folds:
        folds = ", ".join("—" if f is None else _number(f) for f in p.folds)
        notes.append(f"   fold NMSE (fold 0 = largest training scale first): {folds}")
    if p.diagnostics is not None:
        names = {n: brief.alias_of(n) for n in brief.inputs}
        words = diagnostics_words(p.diagnostics, names=names, limit=3)
        size = f"residual rms {_number(p.diagnostics.rms)} std"
        notes.append(f"   where it misses ({size}): " + "; ".join(words))
    if p.failed_checks:
        notes.append("   failed extrapolation checks: " + "; ".join(p.failed_checks[:3]))
    if p.rationale:
        notes.append(f"   its hypothesis: {_clip(p.rationale)}")
    return [_clip_line(n) for n in notes[:lines]]


def _clip_line(text: str, cap: int = 2 * _TEXT_CAP) -> str:
    return text if len(text) <= cap else text[: cap - 1] + "…"


def best_laws_text(
    parents: Sequence[Parent], brief: TaskBrief | None = None, *, notes: int = 5
) -> str:
    """The shown laws, best validation R² first, each with up to ``notes`` lines on its fold
    scores, residuals, failed checks and hypothesis (when ``brief`` is given)."""
    if not parents:
        return "(none yet: this is the first generation)"
    ordered = sorted(parents, key=lambda p: (-p.r2 if math.isfinite(p.r2) else math.inf, p.id))
    out = []
    for i, p in enumerate(ordered, 1):
        out.append(
            f"{i}. {_clip(p.text)}  (validation R² {_number(p.r2)}, "
            f"selection error {_number(p.error)}, complexity {p.complexity})"
        )
        if brief is not None:
            out += _law_notes(p, brief, lines=notes)
    return "\n".join(out)


def failures_text(failures: Sequence[tuple[str, str]]) -> str:
    if not failures:
        return "(none)"
    return "\n".join(f"- {_clip(text)}  -> {_clip(reason)}" for text, reason in failures)


def prompt_values(
    brief: TaskBrief,
    *,
    count: int,
    parents: Sequence[Parent] = (),
    failures: Sequence[tuple[str, str]] = (),
    group: str = "",
    answer: str = "json",
    rows: int = 24,
    notes: int = 5,
) -> dict[str, str]:
    """The value of every placeholder for ``brief`` (see :data:`PLACEHOLDERS`); ``rows`` sample
    rows and ``notes`` lines per shown law at most."""
    return {
        "task_name": brief.name,
        "description": " ".join(brief.description.split()) or "(no description)",
        "variables": variables_text(brief),
        "outputs": ", ".join(brief.outputs),
        "group": " ".join(group.split()) or "one group (all rows together)",
        "best_laws": best_laws_text(parents, brief, notes=notes),
        "data": data_text(brief, rows=rows),
        "failures": failures_text(failures),
        "max_params": str(brief.max_params) if brief.max_params is not None else "a handful of",
        "count": str(count),
        "answer_format": answer_text(brief, answer),
        "grammar": grammar_text(brief),
    }


def propose_messages(
    request: ProposalRequest, *, group: str = "", answer: str = "json", budget: int | None = None
) -> list[dict[str, str]]:
    """System and user messages asking for ``request.count`` laws, within ``budget`` estimated
    tokens when one is given: the first of ``_SHRINK``'s (sample rows, note lines) that fits,
    else the smallest."""
    messages: list[dict[str, str]] = []
    for rows, notes in _SHRINK:
        values = prompt_values(
            request.brief,
            count=request.count,
            parents=request.parents,
            failures=request.failures,
            group=group,
            answer=answer,
            rows=rows,
            notes=notes,
        )
        messages = [
            {"role": "system", "content": render(template("system"), values)},
            {"role": "user", "content": render(template("propose"), values)},
        ]
        if budget is None or messages_tokens(messages) <= budget:
            break
    return messages


def repair_message(
    brief: TaskBrief,
    failures: Sequence[tuple[str, str]],
    *,
    count: int,
    group: str = "",
    answer: str = "json",
) -> dict[str, str]:
    """The user turn that sends rejected laws and their reasons back."""
    values = prompt_values(brief, count=count, failures=failures, group=group, answer=answer)
    return {"role": "user", "content": render(template("repair"), values)}
