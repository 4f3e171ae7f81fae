"""The LLM proposer against a real HTTP server on 127.0.0.1 with scripted replies."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
from waiting import HANG

from sld.config import LlmConfig
from sld.corpus import load_task
from sld.evolve.offline import OfflineProposer
from sld.llm import LlmProposer, MixedProposer, OpenAIChat
from sld.proposer import Parent, ProposalRequest, task_brief
from sld.store import RunStore
from tests.llm_server import REPLY_SECONDS, FakeOpenAI, Reply, closed_port_url, laws_json

GOOD = ("L = E + A/N**alpha", "L = E + A/(N**alpha*P**beta)", "L = E + A*exp(-k*log(N)*log(P))")


@pytest.fixture(scope="module")
def brief():
    return task_brief(load_task("parallel_scaling_law"))


@pytest.fixture
def store(tmp_path):
    s = RunStore.create(tmp_path / "run", task="t", seed=0, config={}, versions={})
    yield s
    s.close()


def _proposer(url: str, store: RunStore | None, **settings) -> LlmProposer:
    config = LlmConfig(
        **{"backoff": 0.01, "timeout": REPLY_SECONDS, "model": "scripted", **settings}
    )
    transport = OpenAIChat(base_url=url, api_key="test-key", timeout=config.timeout)
    return LlmProposer(transport, config, store=store)


def _request(brief, *, count=3, island=0, generation=0, parents=()) -> ProposalRequest:
    return ProposalRequest(
        brief=brief,
        parents=tuple(parents),
        count=count,
        generation=generation,
        island=island,
        seed=1,
    )


def _propose(proposer, request):
    return asyncio.run(proposer.propose(request))


def test_good_structured_reply_gives_parsed_proposals_and_records_the_exchange(brief, store):
    with FakeOpenAI(lambda body, n: Reply(laws_json(*GOOD))) as server:
        proposer = _proposer(server.base_url, store)
        out = _propose(proposer, _request(brief))
    assert [p.text for p in out] == list(GOOD)
    assert all(p.proposer == "llm" and p.operator == "llm" for p in out)
    body = server.requests[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["messages"][0]["role"] == "system" and body["seed"] == proposer_seed(body)
    [call] = store.llm_calls()
    assert call.outcome == "ok" and call.prompt_tokens == 100 and call.completion_tokens == 20
    assert call.request["messages"] == body["messages"] and call.reply == laws_json(*GOOD)
    assert call.request["tag"] == {"generation": 0, "island": 0, "turn": 0}


def proposer_seed(body):
    return body["seed"]  # deterministic per (seed, generation, island, turn); checked elsewhere


def test_prose_around_json_and_numbered_lines_are_read(brief, store):
    replies = [
        "Sure, here are laws:\n" + laws_json(*GOOD) + "\nHope this helps!",
        "1. L = E + A/N**alpha\n2. L = E + B*P**(-b)/N**a\n3. L = c + d*log(N)",
    ]
    for reply in replies:
        with FakeOpenAI(lambda body, n, r=reply: Reply(r)) as server:
            out = _propose(_proposer(server.base_url, store), _request(brief))
        assert len(out) == 3


def test_malformed_reply_gets_one_repair_turn_with_the_reason(brief, store):
    def script(body, n):
        return Reply("{not json at all") if n == 0 else Reply(laws_json(*GOOD))

    with FakeOpenAI(script) as server:
        out = _propose(_proposer(server.base_url, store), _request(brief))
    assert len(out) == 3 and all(p.operator == "llm_repair" for p in out)
    repair = server.requests[1]["messages"]
    assert [m["role"] for m in repair] == ["system", "user", "assistant", "user"]
    assert repair[2]["content"] == "{not json at all"
    assert "no law found" in repair[3]["content"]
    assert [c.outcome for c in store.llm_calls()] == ["malformed", "ok"]


def test_repair_turns_are_bounded(brief, store):
    with FakeOpenAI(lambda body, n: Reply("nothing useful")) as server:
        out = _propose(_proposer(server.base_url, store, repair_turns=1), _request(brief))
    assert out == [] and len(server.requests) == 2


def test_unknown_variables_and_too_many_parameters_are_rejected_with_reasons(brief, store):
    bad = (
        "L = E + A/D**alpha + B*Q",  # D and Q are parameters here, but no input is used? N missing
        "L = a + b*N + c*N**2 + d*N**3 + f*P",  # 5 parameters > limit 4
        "L = E + A*foo(N)",  # unknown function
        "L = E + A/N**alpha",
    )

    def script(body, n):
        return Reply(laws_json(*bad)) if n == 0 else Reply(laws_json("L = E + A/P**beta"))

    with FakeOpenAI(script) as server:
        out = _propose(_proposer(server.base_url, store), _request(brief, count=2))
    assert [p.text for p in out] == ["L = E + A/N**alpha", "L = E + A/P**beta"]
    first = store.llm_calls()[0]
    assert first.outcome == "ok"
    assert "parameters" in first.error and "foo" in first.error
    repair = server.requests[1]["messages"][-1]["content"]
    assert "foo" in repair and "Send 1 corrected" in repair


def test_hostile_replies_are_never_executed(brief, store, tmp_path):
    sentinel = tmp_path / "pwned"
    payloads = [
        f"L = __import__('os').system('touch {sentinel}')",
        f"L = E + A*N.__class__.__mro__[1].__subclasses__() ; open('{sentinel}', 'w')",
        f"L = exec(\"open('{sentinel}','w').write('x')\")",
        f"L = eval(\"__import__('os').system('touch {sentinel}')\")",
        "L = (lambda: 1)() + N",
        "L = N if True else P",
        "L = " + "(" * 500 + "N" + ")" * 500,
        "L = 9**9**9**9 + N",
    ]
    with FakeOpenAI(lambda body, n: Reply(laws_json(*payloads))) as server:
        out = _propose(_proposer(server.base_url, store), _request(brief, count=8))
    assert out == []
    assert not sentinel.exists()
    assert all(c.outcome == "invalid" for c in store.llm_calls())


def test_rate_limit_waits_for_retry_after_then_succeeds(brief, store):
    def script(body, n):
        if n == 0:
            return Reply(status=429, error="slow down", headers={"Retry-After": "0.3"})
        return Reply(laws_json(*GOOD))

    with FakeOpenAI(script) as server:
        started = time.monotonic()
        out = _propose(_proposer(server.base_url, store), _request(brief))
        waited = time.monotonic() - started
    assert len(out) == 3 and waited >= 0.3
    calls = store.llm_calls()
    assert [c.outcome for c in calls] == ["rate_limited", "ok"]
    assert "slow down" in calls[0].error


def test_server_errors_are_retried_a_bounded_number_of_times(brief, store):
    with FakeOpenAI(lambda body, n: Reply(status=500, error="boom")) as server:
        out = _propose(_proposer(server.base_url, store, attempts=3), _request(brief))
    assert out == [] and len(server.requests) == 3
    assert [c.outcome for c in store.llm_calls()] == ["server_error"] * 3


def test_a_reply_slower_than_the_timeout_is_a_timeout_and_is_retried(brief, store):
    def script(body, n):
        return Reply(laws_json(*GOOD), stall=n == 0)

    with FakeOpenAI(script) as server:
        out = _propose(_proposer(server.base_url, store), _request(brief))
    assert len(out) == 3
    assert [c.outcome for c in store.llm_calls()] == ["timeout", "ok"]


def test_connection_refused_is_recorded_and_the_proposer_returns_nothing(brief, store):
    proposer = _proposer(closed_port_url(), store, attempts=2)
    assert _propose(proposer, _request(brief)) == []
    assert [c.outcome for c in store.llm_calls()] == ["connection", "connection"]
    assert proposer.budget_exhausted == ""


def test_auth_error_is_not_retried_and_ends_the_run(brief, store):
    notes = []
    with FakeOpenAI(lambda body, n: Reply(status=401, error="invalid api key")) as server:
        proposer = _proposer(server.base_url, store)
        proposer.notice = notes.append
        assert _propose(proposer, _request(brief)) == []
        assert _propose(proposer, _request(brief, island=1)) == []
    assert len(server.requests) == 1
    assert "invalid api key" in proposer.budget_exhausted and len(notes) == 1
    assert [c.outcome for c in store.llm_calls()] == ["auth"]


def test_servers_without_json_schema_are_downgraded_at_runtime(brief, store):
    def script(body, n):
        kind = (body.get("response_format") or {}).get("type")
        if kind in ("json_schema", "json_object"):
            return Reply(status=400, error=f"response_format {kind} is not supported")
        return Reply("1. L = E + A/N**alpha")

    with FakeOpenAI(script) as server:
        proposer = _proposer(server.base_url, store)
        out = _propose(proposer, _request(brief, count=1))
        again = _propose(proposer, _request(brief, count=1, island=1))
    assert [p.text for p in out + again] == ["L = E + A/N**alpha"] * 2
    kinds = [(b.get("response_format") or {}).get("type") for b in server.requests]
    assert kinds == ["json_schema", "json_object", None, None]


def test_reasoning_models_get_max_completion_tokens_and_no_temperature(brief, store):
    with FakeOpenAI(lambda body, n: Reply(laws_json(*GOOD))) as server:
        _propose(_proposer(server.base_url, store, model="o3-mini"), _request(brief))
    body = server.requests[0]
    assert "temperature" not in body and "max_tokens" not in body
    assert body["max_completion_tokens"] == 1024


def test_duplicates_of_parents_are_dropped(brief, store):
    parent = Parent(id=7, text="L = E + A/N**alpha", error=0.1, r2=0.9, complexity=7)
    with FakeOpenAI(lambda body, n: Reply(laws_json("L = F + B/N**a", GOOD[1]))) as server:
        out = _propose(
            _proposer(server.base_url, store, repair_turns=0),
            _request(brief, count=2, parents=[parent]),
        )
    assert [p.text for p in out] == [GOOD[1]] and out[0].parents == (7,)


def test_concurrency_is_bounded(brief, store):
    active = [0, 0]  # requests in flight now, the most ever
    changed = threading.Condition()

    def script(body, n):
        with changed:
            active[0] += 1
            active[1] = max(active[1], active[0])
            changed.notify_all()
            # hold the first request until a second one is in flight beside it: on a loaded
            # machine the two allowed requests may otherwise never overlap (no fixed sleep)
            changed.wait_for(lambda: active[1] >= 2, timeout=HANG)
            active[0] -= 1
        return Reply(laws_json(*GOOD))

    with FakeOpenAI(script) as server:
        proposer = _proposer(server.base_url, store, concurrency=2)

        async def many():
            return await asyncio.gather(
                *(proposer.propose(_request(brief, island=i)) for i in range(6))
            )

        results = asyncio.run(many())
    assert all(len(r) == 3 for r in results)
    assert active[1] == 2


def test_ledger_totals_equal_the_scripted_usage_and_budget_stops(brief, store):
    def script(body, n):
        return Reply(laws_json(*GOOD), prompt_tokens=50 + n, completion_tokens=10)

    with FakeOpenAI(script) as server:
        proposer = _proposer(server.base_url, store, budget_tokens=100)
        _propose(proposer, _request(brief, island=0))
        assert proposer.budget_exhausted == ""
        _propose(proposer, _request(brief, island=1))
        assert "token budget (100)" in proposer.budget_exhausted
        assert _propose(proposer, _request(brief, island=2)) == []
    sent = sum(p + c for p, c in server.sent)
    assert proposer.ledger.tokens == sent == 50 + 51 + 20
    summary = store.summary()
    assert summary.prompt_tokens + summary.completion_tokens == sent
    assert len(server.requests) == 2


def test_unknown_model_costs_zero_with_a_notice_and_known_prices_add_up(brief, store):
    notes = []
    with FakeOpenAI(
        lambda body, n: Reply(laws_json(*GOOD), prompt_tokens=1000, completion_tokens=500)
    ) as server:
        transport = OpenAIChat(base_url=server.base_url, api_key="k", timeout=REPLY_SECONDS)
        unknown = LlmProposer(
            transport, LlmConfig(model="mystery"), store=None, notice=notes.append
        )
        _propose(unknown, _request(brief))
        priced = LlmProposer(transport, LlmConfig(model="gpt-4o-mini"), store=store)
        _propose(priced, _request(brief))
    assert unknown.ledger.usd == 0.0 and "no price" in notes[0]
    assert priced.ledger.usd == pytest.approx((1000 * 0.15 + 500 * 0.60) / 1e6)
    assert store.summary().usd == pytest.approx(priced.ledger.usd)


def test_mixed_choice_is_deterministic_and_follows_the_ratio(brief):
    llm = LlmProposer(OpenAIChat(base_url=closed_port_url(), api_key="k", timeout=1), LlmConfig())
    mixed = MixedProposer(llm, OfflineProposer(), ratio=0.5)
    picks = [
        mixed.uses_llm(_request(brief, island=i, generation=g)) for g in range(20) for i in range(4)
    ]
    again = [
        mixed.uses_llm(_request(brief, island=i, generation=g)) for g in range(20) for i in range(4)
    ]
    assert picks == again and 20 < sum(picks) < 60
    assert not any(
        MixedProposer(llm, OfflineProposer(), ratio=0.0).uses_llm(_request(brief, island=i))
        for i in range(8)
    )


def test_request_seed_is_deterministic_per_island_and_generation(brief, store):
    with FakeOpenAI(lambda body, n: Reply(laws_json(*GOOD))) as server:
        proposer = _proposer(server.base_url, store)
        for island in (0, 1, 0):
            _propose(proposer, _request(brief, island=island))
    seeds = [b["seed"] for b in server.requests]
    assert seeds[0] == seeds[2] != seeds[1]
    requests = [json.dumps(c.request, sort_keys=True) for c in store.llm_calls()]
    assert requests[0] == requests[2] != requests[1]


def test_no_secret_reaches_the_store(brief, store, monkeypatch):
    with FakeOpenAI(lambda body, n: Reply(laws_json(*GOOD))) as server:
        _propose(_proposer(server.base_url, store), _request(brief))
    raw = Path(store.path).read_bytes()
    assert b"test-key" not in raw


def test_a_reparametrized_spelling_in_one_reply_counts_once(brief, store):
    """``A*exp(-k*log(N))`` is ``A/N**alpha`` under ``k = alpha``: one key, one proposal."""
    twice = ("L = E + A/N**alpha", "L = E + A*exp(-k*log(N))")
    with FakeOpenAI(lambda body, n: Reply(laws_json(*twice))) as server:
        out = _propose(_proposer(server.base_url, store), _request(brief, count=2))
    assert [p.text for p in out] == [twice[0]]
