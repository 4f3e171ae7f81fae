"""The LLM proposer: prompt → chat transport → laws → parse_law, with one repair turn.

Per :class:`~sld.proposer.ProposalRequest`: render the propose prompt, send it
(bounded concurrency; retries with exponential backoff on 429/5xx/timeouts/connection
errors; no retry on 401/403), read laws out of the reply, check each with
:func:`sld.law.parse_law` against the task, and send the rejected ones back with
their reasons in up to ``repair_turns`` follow-up turns. Every attempt is recorded in
the run store with its exact request, so ``--replay`` can answer it again.

Determinism: messages hold no clock or random text; the request carries a tag
(generation, island, turn) and a seed derived from the run seed; backoff jitter is
drawn from a generator seeded the same way. Budgets are checked when a request
enters :meth:`LlmProposer.propose` (before any of a generation's requests await), so
whether a request is sent never depends on timing; the call that crosses a budget
finishes and the run stops after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sld.config import LlmConfig
from sld.errors import ParseError, SldError
from sld.law import parse_law
from sld.llm._answer import extract_laws
from sld.llm._client import (
    ChatReply,
    ChatTransport,
    LlmCallError,
    Quirks,
    learn_quirk,
    quirks_for,
    request_params,
)
from sld.llm._grammar import law_grammar
from sld.llm._ledger import Ledger, call_cost, price_for
from sld.llm._prompts import propose_messages, repair_message
from sld.proposer import Proposal, ProposalRequest
from sld.store import RunStore

NAME = "llm"
_MAX_QUIRK_STEPS = 4  # capability downgrades learned from 400s per exchange


class LlmProposer:
    """Proposes laws by asking a chat model; see the module docstring.

    ``ledger`` holds running totals (tokens, dollars, calls by outcome, laws proposed
    and valid); ``budget_exhausted`` is non-empty once a budget is spent or the
    endpoint refused the credentials, which ends the run.
    """

    def __init__(
        self,
        transport: ChatTransport,
        settings: LlmConfig,
        *,
        store: RunStore | None = None,
        group: str = "",
        max_params: int | None = None,
        notice: Callable[[str], None] = lambda message: None,
        name: str = NAME,
    ) -> None:
        self.name = name
        self.transport = transport
        self.settings = settings
        self.store = store
        self.group = group
        self.max_params = max_params
        self.notice = notice
        self.model = settings.model_name()
        self.ledger = Ledger()
        self.budget_exhausted = ""
        self.quirks: Quirks = quirks_for(self.model)
        self.answer = "lines" if self._grammar_decoding else settings.answer_format()
        self._semaphores: dict[int, asyncio.Semaphore] = {}
        self._price = price_for(self.model, settings.prices)
        if self._price is None and settings.provider != "local":
            notice(
                f"no price is known for model {self.model}: its calls count as $0 "
                "(set [prices.<model>] in --llm-config to track cost)"
            )

    @property
    def _grammar_decoding(self) -> bool:
        return self.settings.provider == "local" and self.settings.decoding == "grammar"

    # -- the proposer interface --------------------------------------------------

    async def propose(self, request: ProposalRequest) -> list[Proposal]:
        """Up to ``request.count`` laws that parse for the task (fewer when the model fails)."""
        if not self.budget_exhausted:
            self.budget_exhausted = self.ledger.over_budget(
                usd=self.settings.budget_usd, tokens=self.settings.budget_tokens
            )
        if self.budget_exhausted:
            return []
        brief = request.brief
        messages = propose_messages(
            request, group=self.group, answer=self.answer, budget=self.settings.prompt_budget()
        )
        accepted: list[Proposal] = []
        seen = self._parent_keys(request)
        for turn in range(self.settings.repair_turns + 1):
            wanted = request.count - len(accepted)
            exchange = await self._exchange(messages, request, turn=turn, count=wanted)
            if exchange is None:
                break
            wire, reply, latency = exchange
            failures = self._read(reply.text, request, accepted, seen, turn=turn)
            outcome = self._outcome(reply, failures, request.count - len(accepted) < wanted)
            self._record(wire, reply.text, reply.usage, latency, outcome, request, failures)
            if not self.budget_exhausted:
                self.budget_exhausted = self.ledger.over_budget(
                    usd=self.settings.budget_usd, tokens=self.settings.budget_tokens
                )
            if len(accepted) >= request.count or not failures:
                break
            messages = [
                *messages,
                {"role": "assistant", "content": reply.text},
                repair_message(
                    brief,
                    failures[:8],
                    count=request.count - len(accepted),
                    group=self.group,
                    answer=self.answer,
                ),
            ]
        return accepted

    # -- one exchange, with retries ------------------------------------------------

    def _semaphore(self) -> asyncio.Semaphore:
        """The in-flight bound for the running event loop (tests run several loops)."""
        loop = id(asyncio.get_running_loop())
        if loop not in self._semaphores:
            self._semaphores = {loop: asyncio.Semaphore(self.settings.concurrency)}
        return self._semaphores[loop]

    def _seed(self, request: ProposalRequest, turn: int, salt: int) -> np.random.Generator:
        return np.random.default_rng([request.seed, request.generation, request.island, turn, salt])

    async def _exchange(
        self, messages: list[dict[str, str]], request: ProposalRequest, *, turn: int, count: int
    ) -> tuple[dict[str, Any], ChatReply, float] | None:
        """The first reply to ``messages`` within the attempt budget, else None (each attempt recorded)."""
        s = self.settings
        seed = int(self._seed(request, turn, 17).integers(2**31 - 1))
        attempt = steps = 0
        while True:
            used = self.quirks
            params = request_params(
                used,
                model=self.model,
                temperature=s.temperature,
                max_tokens=s.max_tokens,
                seed=seed,
                answer=self.answer,
            )
            if self._grammar_decoding:
                params["grammar"] = law_grammar(request.brief, count=count)
            wire = {
                "messages": messages,
                "params": params,
                "tag": {"generation": request.generation, "island": request.island, "turn": turn},
            }
            started = time.monotonic()
            try:
                async with self._semaphore():
                    reply = await self.transport.complete(wire, timeout=s.timeout)
            except LlmCallError as exc:
                error = exc
            except Exception as exc:  # a transport bug must not end the run
                error = LlmCallError("error", f"{type(exc).__name__}: {exc}")
            else:
                return wire, reply, time.monotonic() - started
            latency = time.monotonic() - started
            self._record(wire, None, {}, latency, error.outcome, request, error=str(error))
            if error.outcome == "auth":
                self._refused(error)
                return None
            if error.outcome == "bad_request" and steps < _MAX_QUIRK_STEPS:
                learned = self.quirks if self.quirks != used else learn_quirk(used, str(error))
                if learned is not None:
                    self.quirks = learned
                    steps += 1
                    continue
            if not error.retryable or attempt + 1 >= s.attempts:
                return None
            delay = min(s.backoff * 2**attempt, s.backoff_max)
            delay *= 0.5 + 0.5 * float(self._seed(request, turn, 100 + attempt).random())
            if error.retry_after is not None:
                delay = max(delay, min(error.retry_after, s.backoff_max))
            attempt += 1
            if not self.transport.instant and delay > 0:
                await asyncio.sleep(delay)

    def _refused(self, error: LlmCallError) -> None:
        if self.budget_exhausted:
            return
        key = "the local model" if self.settings.provider == "local" else "the API key"
        self.budget_exhausted = (
            f"LLM endpoint refused {key} ({error}); set ${self.settings.api_key_env} "
            "to a valid key or use --proposer offline"
        )
        self.notice(self.budget_exhausted)

    # -- reading a reply ------------------------------------------------------------

    def _parent_keys(self, request: ProposalRequest) -> set[str]:
        keys = set()
        for parent in request.parents:
            try:
                keys.add(self._parse(parent.text, request, bounded=False).key)
            except SldError:
                continue
        return keys

    def _parse(self, text: str, request: ProposalRequest, *, bounded: bool = True) -> Any:
        brief = request.brief
        limit = self.max_params if self.max_params is not None else brief.max_params
        return parse_law(
            text,
            inputs=brief.inputs,
            outputs=brief.outputs,
            aliases=brief.aliases,
            max_params=limit if bounded else None,
        )

    def _read(
        self,
        text: str,
        request: ProposalRequest,
        accepted: list[Proposal],
        seen: set[str],
        *,
        turn: int,
    ) -> list[tuple[str, str]]:
        """Add the reply's valid, new laws to ``accepted``; return (law, reason) for the rest."""
        found = extract_laws(text, outputs=request.brief.outputs, limit=3 * request.count)
        if not found.laws:
            self.ledger.proposed += 1
            expected = (
                "a JSON object with a 'laws' list" if self.answer == "json" else "one law per line"
            )
            return [("(the whole reply)", f"no law found in the reply; expected {expected}")]
        failures: list[tuple[str, str]] = []
        parents = tuple(p.id for p in request.parents)
        for law_text, rationale in found.laws:
            if len(accepted) >= request.count:
                break
            self.ledger.proposed += 1
            try:
                law = self._parse(law_text, request)
            except ParseError as exc:
                failures.append((law_text, str(exc)))
                continue
            except SldError as exc:
                failures.append((law_text, str(exc)))
                continue
            if law.key in seen:
                failures.append((law_text, "same law as a parent or an earlier proposal"))
                continue
            if law.key in request.tried:
                failures.append((law_text, "already tried in this run: propose a different form"))
                continue
            seen.add(law.key)
            self.ledger.valid += 1
            accepted.append(
                Proposal(
                    text=" ".join(law_text.split()),
                    parents=parents,
                    proposer=self.name,
                    operator="llm" if turn == 0 else "llm_repair",
                    rationale=rationale,
                )
            )
        return failures

    @staticmethod
    def _outcome(reply: ChatReply, failures: list[tuple[str, str]], any_valid: bool) -> str:
        if any_valid:
            return "ok"
        if failures and failures[0][0] == "(the whole reply)":
            return "malformed"
        return "invalid"

    # -- recording ------------------------------------------------------------------

    def _record(
        self,
        wire: dict[str, Any],
        reply: str | None,
        usage: dict[str, Any],
        latency: float,
        outcome: str,
        request: ProposalRequest,
        failures: list[tuple[str, str]] | None = None,
        *,
        error: str | None = None,
    ) -> None:
        usd = call_cost(usage, self._price)
        self.ledger.count(outcome)
        if reply is not None:
            self.ledger.replies += 1
            self.ledger.charge(usage, usd)
        if failures and error is None:
            error = "; ".join(f"{law[:120]} -> {reason[:200]}" for law, reason in failures[:8])
        if self.store is not None:
            self.store.record_llm_call(
                request=wire,
                reply=reply,
                usage=usage,
                usd=usd,
                latency=latency,
                outcome=outcome,
                error=error,
                generation=request.generation,
            )
