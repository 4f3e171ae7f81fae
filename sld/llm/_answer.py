"""Reading law texts out of an LLM reply — untrusted text in, strings out.

The reply is only ever handled as data: ``json.loads`` (which builds dicts, lists and
strings, nothing else) and regular expressions. The strings found here go on to
:func:`sld.law.parse_law`; nothing is evaluated.

Order of attempts: the whole reply as JSON (fences stripped); the first JSON object
inside surrounding prose that has a ``laws`` list; then lines that look like
``name = expression`` (numbered, bulleted or back-quoted lines included). For a task
with several outputs, consecutive one-output lines are joined into one law.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_REPLY_CHARS = 100_000  # longer replies are cut before any parsing
MAX_LAW_CHARS = 2_000
MAX_RATIONALE_CHARS = 500
_MAX_JSON_STARTS = 200  # '{' positions tried when JSON sits inside prose


class ProposedLaw(BaseModel):
    """One law in a structured reply."""

    model_config = ConfigDict(extra="forbid")

    law: str = Field(description="one complete law, e.g. 'L = E + A/N**alpha'")
    rationale: str = Field(description="one short sentence on why it might extrapolate")


class LawsReply(BaseModel):
    """The structured reply: ``{"laws": [{"law": ..., "rationale": ...}, ...]}``."""

    model_config = ConfigDict(extra="forbid")

    laws: list[ProposedLaw]


def response_schema() -> dict[str, Any]:
    """``response_format`` for endpoints with JSON-schema structured output (strict)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "laws", "strict": True, "schema": LawsReply.model_json_schema()},
    }


@dataclass(frozen=True)
class Extracted:
    """What a reply held: law texts with rationales, and how they were found."""

    laws: tuple[tuple[str, str], ...]
    how: str  # 'json', 'embedded-json', 'lines' or 'none'


_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*$")
_PREFIX = re.compile(r"^\s*(?:[-*\u2022]\s+|\(?\d{1,3}[.):]\s*|law\s*\d*\s*:\s*)?", re.IGNORECASE)
_LAW = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)\s*\S")
_TRAILING_NOTE = re.compile(r"\s+(?:--|\u2014|\u2013|#|//)\s.*$")
_QUOTES = "`\"' "


def extract_laws(reply: str, *, outputs: Sequence[str] = ("y",), limit: int = 64) -> Extracted:
    """Up to ``limit`` (law, rationale) pairs from ``reply``."""
    text = reply[:MAX_REPLY_CHARS]
    whole = _strip_fences(text)
    data = _loads(whole)
    found = _from_json(data, limit)
    if found is not None:
        return Extracted(found, "json")
    decoder = json.JSONDecoder()
    starts = [m.start() for m in re.finditer(r"\{", text)][:_MAX_JSON_STARTS]
    for start in starts:
        try:
            data, _ = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            continue
        found = _from_json(data, limit)
        if found is not None:
            return Extracted(found, "embedded-json")
    lines = _from_lines(text, outputs, limit)
    return Extracted(lines, "lines" if lines else "none")


def _strip_fences(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if not _FENCE.match(line.strip())]
    return "\n".join(lines).strip()


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _from_json(data: Any, limit: int) -> tuple[tuple[str, str], ...] | None:
    """The laws of a ``{"laws": [...]}`` object (items as objects or strings), else None."""
    if isinstance(data, list):
        data = {"laws": data}
    if not isinstance(data, dict) or not isinstance(data.get("laws"), list):
        return None
    out: list[tuple[str, str]] = []
    for item in data["laws"][:limit]:
        if isinstance(item, str):
            law, why = item, ""
        elif isinstance(item, dict) and isinstance(item.get("law"), str):
            law = item["law"]
            rationale = item.get("rationale")
            why = rationale if isinstance(rationale, str) else ""
        else:
            continue
        out.append((law.strip()[:MAX_LAW_CHARS], " ".join(why.split())[:MAX_RATIONALE_CHARS]))
    return tuple(out)


def _note(line: str) -> str:
    """The hypothesis after a trailing ``# ``, ``-- `` or ``// `` marker, as one line."""
    found = _TRAILING_NOTE.search(line)
    if found is None:
        return ""
    text = found.group(0).strip().lstrip("-#/\u2014\u2013").strip(_QUOTES)
    return " ".join(text.split())[:MAX_RATIONALE_CHARS]


def _from_lines(text: str, outputs: Sequence[str], limit: int) -> tuple[tuple[str, str], ...]:
    laws: list[tuple[str, str]] = []
    pending: dict[str, str] = {}
    notes: list[str] = []
    for raw in text.splitlines():
        line = _PREFIX.sub("", raw, count=1).strip(_QUOTES).rstrip(".,")
        note = _note(line)
        line = _TRAILING_NOTE.sub("", line).strip(_QUOTES)
        match = _LAW.match(line)
        if match is None:
            continue
        law = line[:MAX_LAW_CHARS]
        if len(outputs) > 1 and match.group("name") in outputs and ";" not in law:
            pending[match.group("name")] = law
            notes.append(note)
            if len(pending) == len(outputs):
                why = " ".join(n for n in notes if n)[:MAX_RATIONALE_CHARS]
                laws.append(("; ".join(pending[o] for o in outputs), why))
                pending, notes = {}, []
        else:
            laws.append((law, note))
        if len(laws) >= limit:
            break
    return tuple(laws)
