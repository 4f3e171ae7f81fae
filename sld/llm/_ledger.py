"""The cost ledger: tokens and dollars per call, totals, budgets.

Cost of one call = prompt_tokens × input price + completion_tokens × output price,
prices in US dollars per million tokens. The built-in table holds list prices at the
time of writing; override them with ``[prices.<model>]`` in ``--llm-config``. A model
without a price costs 0 and is noted once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sld.config import Price

# $/1M tokens (input, output). A dated model name matches its longest listed prefix.
PRICES: dict[str, Price] = {
    name: Price(input=i, output=o)
    for name, (i, o) in {
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4o": (2.50, 10.00),
        "gpt-4.1-nano": (0.10, 0.40),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1": (2.00, 8.00),
        "gpt-5-nano": (0.05, 0.40),
        "gpt-5-mini": (0.25, 2.00),
        "gpt-5": (1.25, 10.00),
        "o3-mini": (1.10, 4.40),
        "o4-mini": (1.10, 4.40),
        "o3": (2.00, 8.00),
    }.items()
}


def price_for(model: str, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """The price of ``model``: an exact or longest-prefix match, overrides first."""
    for table in (overrides or {}, PRICES):
        if model in table:
            return table[model]
        prefixes = [name for name in table if model.startswith(name)]
        if prefixes:
            return table[max(prefixes, key=len)]
    return None


def call_cost(usage: Mapping[str, Any], price: Price | None) -> float:
    """US dollars for one call's ``usage`` (``prompt_tokens``, ``completion_tokens``)."""
    if price is None:
        return 0.0
    prompt, completion = tokens_of(usage)
    return (prompt * price.input + completion * price.output) / 1e6


def tokens_of(usage: Mapping[str, Any]) -> tuple[int, int]:
    """(prompt, completion) token counts; missing or junk counts are 0."""

    def count(key: str) -> int:
        value = usage.get(key)
        return value if isinstance(value, int) and value >= 0 else 0

    return count("prompt_tokens"), count("completion_tokens")


@dataclass
class Ledger:
    """Running totals of one proposer's LLM calls.

    ``calls`` counts every attempt (errors included); ``replies`` those that came
    back with text; ``valid``/``proposed`` count laws that passed/entered parsing.
    """

    calls: int = 0
    replies: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0
    proposed: int = 0
    valid: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def charge(self, usage: Mapping[str, Any], usd: float) -> None:
        """Add one reply's tokens and cost."""
        prompt, completion = tokens_of(usage)
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.usd += usd

    def count(self, outcome: str) -> None:
        """Count one attempt by outcome."""
        self.calls += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def over_budget(self, *, usd: float | None, tokens: int | None) -> str:
        """Why the budget is spent (``""`` while it is not)."""
        if tokens is not None and self.tokens >= tokens:
            return f"token budget ({tokens}) reached: {self.tokens} tokens used"
        if usd is not None and self.usd >= usd:
            return f"dollar budget (${usd:g}) reached: ${self.usd:.4f} spent"
        return ""

    def totals(self) -> dict[str, Any]:
        """A JSON-able snapshot for progress displays."""
        return {
            "calls": self.calls,
            "replies": self.replies,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "usd": self.usd,
            "proposed": self.proposed,
            "valid": self.valid,
            "outcomes": dict(self.outcomes),
        }
