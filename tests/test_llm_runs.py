"""Whole discovery runs with the LLM proposer against a scripted server on 127.0.0.1."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sld.cli import main
from sld.config import LlmConfig, RunConfig, TaskSpec
from sld.corpus import load_task
from sld.evolve.offline import OfflineProposer
from sld.llm import LlmProposer, MixedProposer
from sld.run import Run, make_proposer, replay_config
from sld.store import RunStore
from tests.llm_server import REPLY_SECONDS, FakeOpenAI, Reply, closed_port_url, laws_json

HUMAN = "L = E + (A*1e9/(N*(k*log(P)+1)))**alpha"
POOL = (
    "L = E + A/N**alpha",
    "L = E + A/(N**alpha*P**beta)",
    "L = E + A*N**(-alpha)/(1 + k*log(P))",
    "L = E + A/(N*P**k)**alpha",
    "L = E + A*exp(-k*log(N*P))",
    "L = E + A/N**alpha + B*log(P)",
    "L = c + A/(N*(1 + k*log(P)))**alpha",
)
SMALL = dict(
    islands=2,
    proposals_per_island=2,
    generations=2,
    restarts=4,
    final_restarts=4,
    bootstrap=0,
    capacity=8,
)


def _config(url: str, *, proposer: str = "llm", **overrides) -> RunConfig:
    llm = dict(base_url=url, model="scripted", backoff=0.01, timeout=REPLY_SECONDS, attempts=3)
    llm.update(overrides.pop("llm", {}))
    return RunConfig(
        task=TaskSpec(source="parallel_scaling_law"),
        proposer=proposer,
        llm=LlmConfig(**llm),
        **{**SMALL, **overrides},
    )


def _pick(body: dict, k: int = 2) -> list[str]:
    """Laws chosen by the request's own seed, so a request always gets the same answer."""
    rng = np.random.default_rng(int(body.get("seed", 0)))
    return [POOL[i] for i in rng.choice(len(POOL), size=k, replace=False)]


def _run(config: RunConfig, tmp_path: Path, *, report: bool = False):
    run = Run.create(config, out=tmp_path / "runs")
    final = run.execute(report=report)
    return run.run_dir, final, RunStore.open(run.run_dir, readonly=True)


def _stopped_by(store: RunStore) -> str:
    return store.events(kind="stopped")[-1].payload["reason"]


def _sequence(store: RunStore) -> list[tuple]:
    return [(c.generation, c.island, c.text, c.status, c.reason) for c in store.candidates()]


def _scores(store: RunStore) -> list[tuple]:
    # a screened-out law has no validation R² (NaN, which equals nothing): compare it as None
    return [
        (f.candidate.text, None if math.isnan(f.r2) else round(f.r2, 9)) for f in store.fitted()
    ]


def test_run_with_every_kind_of_bad_reply_completes_and_records_the_reasons(tmp_path):
    sentinel = tmp_path / "pwned"
    hostile = f"L = __import__('os').system('touch {sentinel}')"
    script_replies = [
        Reply(laws_json(*POOL[:2])),
        Reply("{definitely not json"),
        Reply("Here are ideas:\n" + laws_json(hostile, "L = E + A/D**alpha") + "\nbye"),
        Reply(laws_json("L = a + b*N + c*N**2 + d*P + f*P**2")),
        Reply(status=429, error="rate limited", headers={"Retry-After": "0"}),
        Reply(status=500, error="internal"),
        Reply(laws_json(*POOL[2:4]), stall=True),  # held past the timeout
        Reply(laws_json(*POOL[4:6])),
    ]

    def script(body, n):
        return script_replies[n % len(script_replies)]

    with FakeOpenAI(script) as server:
        config = _config(server.base_url, generations=3)
        run_dir, report, store = _run(config, tmp_path)
    with store:
        outcomes = {c.outcome for c in store.llm_calls()}
        errors = " ".join(c.error or "" for c in store.llm_calls())
        assert {"ok", "malformed", "invalid", "rate_limited", "server_error", "timeout"} <= outcomes
        assert "too many parameters" in errors and "no law found" in errors
        assert store.fitted(), "valid laws were fitted"
        assert all(c.proposer == "llm" for c in store.candidates())
        assert "generation budget" in _stopped_by(store)
    assert not sentinel.exists()


def test_fault_injection_at_30_percent_completes_a_run(tmp_path):
    faults = [
        Reply(status=500, error="injected"),
        Reply(status=429, error="injected", headers={"Retry-After": "0"}),
        Reply("garbage ]]]"),
        Reply(status=503, error="injected"),
        Reply(laws_json("L = import os")),
    ]

    def script(body, n):
        rng = np.random.default_rng(n)
        if rng.random() < 0.3:
            return faults[int(rng.integers(len(faults)))]
        return Reply(laws_json(*_pick(body)))

    with FakeOpenAI(script) as server:
        run_dir, report, store = _run(_config(server.base_url, generations=3), tmp_path)
    with store:
        assert "generation budget" in _stopped_by(store)
        assert len(server.requests) == len(store.llm_calls())
        assert store.fitted()


def test_scripted_human_law_is_found_and_scored(tmp_path):
    def script(body, n):
        return Reply(laws_json(HUMAN, *_pick(body, 1)))

    with FakeOpenAI(script) as server:
        run_dir, report, store = _run(_config(server.base_url), tmp_path, report=True)
    with store:
        human = [f for f in store.fitted() if f.candidate.text == " ".join(HUMAN.split())]
        assert human and human[0].r2 > 0.9
    assert report["chosen"] is not None
    assert report["heldout"]["chosen"]["test_r2"] > 0.9


def test_ledger_totals_equal_scripted_usage_and_token_budget_stops_the_run(tmp_path):
    def script(body, n):
        return Reply(laws_json(*_pick(body)), prompt_tokens=100 + n, completion_tokens=7)

    with FakeOpenAI(script) as server:
        config = _config(server.base_url, generations=20, llm={"budget_tokens": 500})
        run_dir, report, store = _run(config, tmp_path)
    sent = sum(p + c for p, c in server.sent)
    with store:
        summary = store.summary()
        assert summary.prompt_tokens + summary.completion_tokens == sent
        assert "token budget (500)" in _stopped_by(store)
        # the budget is checked as each generation's requests start (never mid-generation,
        # so the run replays): the run stops after the generation that crossed the cap
        calls = store.llm_calls()
        last = max(c.request["tag"]["generation"] for c in calls)
        before = sum(
            c.prompt_tokens + c.completion_tokens
            for c in calls
            if c.request["tag"]["generation"] < last
        )
        assert before < 500 <= sent and last < 19
        assert summary.llm_calls == len(server.requests)


def test_replay_reproduces_a_recorded_run_without_network(tmp_path):
    def script(body, n):
        if n == 1:
            return Reply("nothing to see")  # malformed: a repair turn follows
        if n == 3:
            return Reply(status=500, error="flaky")
        return Reply(laws_json(*_pick(body)))

    with FakeOpenAI(script) as server:
        config = _config(server.base_url, generations=3)
        source_dir, _, source = _run(config, tmp_path)
    with source:
        expected, scores, calls = _sequence(source), _scores(source), source.llm_calls()
    assert any(c.outcome == "server_error" for c in calls)
    replay_dir, _, replayed = _run(replay_config(source_dir), tmp_path)
    with replayed:
        assert _sequence(replayed) == expected
        assert _scores(replayed) == scores

        # concurrent islands record in arrival order: compare as sets of exchanges
        def exchanges(rows):
            return sorted(json.dumps([c.request, c.reply, c.outcome], sort_keys=True) for c in rows)

        assert exchanges(replayed.llm_calls()) == exchanges(calls)
        assert RunConfig.model_validate(replayed.config()).replay_from == str(source_dir)
    assert replay_dir != source_dir


def test_cli_replay_makes_a_new_run_from_the_recorded_one(tmp_path, capsys):
    with FakeOpenAI(lambda body, n: Reply(laws_json(*_pick(body)))) as server:
        config = _config(server.base_url, generations=1)
        source_dir, _, source = _run(config, tmp_path)
    source.close()
    code = main(
        ["discover", "--replay", str(source_dir), "--out", str(tmp_path / "r"), "--quiet", "--json"]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    with (
        RunStore.open(report["run_dir"], readonly=True) as replayed,
        RunStore.open(source_dir, readonly=True) as original,
    ):
        assert _sequence(replayed) == _sequence(original)


def test_mixed_proposer_interleaves_llm_and_offline(tmp_path):
    with FakeOpenAI(lambda body, n: Reply(laws_json(*_pick(body)))) as server:
        config = _config(
            server.base_url, proposer="mixed", islands=4, generations=2, llm={"mixed_ratio": 0.5}
        )
        _, _, store = _run(config, tmp_path)
    with store:
        kinds = {c.proposer for c in store.candidates()}
    assert kinds == {"llm", "offline"}


def test_mixed_search_never_waits_for_an_llm_that_has_not_answered(tmp_path):
    """An LLM slower than the whole run (every reply held until the server closes; a
    timeout longer than the run) costs the search nothing: every generation is proposed
    offline and fitted, each island keeps one request in flight and asks no more, and the
    run ends without waiting for them."""
    with FakeOpenAI(lambda body, n: Reply(stall=True)) as server:
        config = _config(
            server.base_url,
            proposer="mixed",
            generations=4,
            llm={"mixed_ratio": 1.0, "timeout": 600.0, "attempts": 1},
        )
        _, final, store = _run(config, tmp_path)
        asked = len(server.requests)
    with store:
        assert _stopped_by(store) == "generation budget (4)"
        candidates = store.candidates()
        assert {c.proposer for c in candidates} == {"offline"}
        assert {(c.generation, c.island) for c in candidates} >= {
            (g, i) for g in range(4) for i in range(2)
        }
        assert store.llm_calls() == [] and store.events(kind="llm_harvest") == []
    assert asked == 2  # one per island, never answered, never asked again


def test_mixed_run_harvests_answers_as_they_come_and_replays_exactly(tmp_path):
    """Answers join the generation being proposed when they arrive (a harvest event each);
    a replay harvests at the recorded generations and reproduces the run."""
    with FakeOpenAI(lambda body, n: Reply(laws_json(*_pick(body)))) as server:
        config = _config(
            server.base_url, proposer="mixed", islands=3, generations=4, llm={"mixed_ratio": 0.5}
        )
        source_dir, _, source = _run(config, tmp_path)
    with source:
        harvests = source.events(kind="llm_harvest")
        expected, scores = _sequence(source), _scores(source)
        llm_made = {(c.generation, c.island) for c in source.candidates() if c.proposer == "llm"}
    assert harvests and llm_made
    harvested = {(e.generation, e.payload["island"]) for e in harvests}
    assert llm_made <= harvested  # an LLM law joins only where an answer was harvested
    assert all(e.payload["launched"] < e.generation for e in harvests)
    _, _, replayed = _run(replay_config(source_dir), tmp_path)
    with replayed:
        assert _sequence(replayed) == expected
        assert _scores(replayed) == scores
        again = {(e.generation, e.payload["island"]) for e in replayed.events(kind="llm_harvest")}
    assert again == harvested


def test_llm_without_endpoint_falls_back_to_offline_with_one_notice(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    notes: list[str] = []
    config = RunConfig(task=TaskSpec(source="parallel_scaling_law"), proposer="llm")
    task = load_task("parallel_scaling_law")
    proposer = make_proposer(config, task=task, store=None, notice=notes.append)
    assert isinstance(proposer, OfflineProposer) and len(notes) == 1
    assert "falls back" in notes[0]


def test_endpoint_from_the_environment_builds_the_llm_proposer(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", closed_port_url())
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    task = load_task("parallel_scaling_law")
    for kind, cls in (("llm", LlmProposer), ("mixed", MixedProposer)):
        config = RunConfig(task=TaskSpec(source="parallel_scaling_law"), proposer=kind)
        assert isinstance(make_proposer(config, task=task, store=None, notice=print), cls)


def test_cli_flags_reach_therun_config(tmp_path, monkeypatch):
    from sld.cli import build_parser
    from sld.cli.discover import run_config

    path = tmp_path / "llm.toml"
    path.write_text('model = "from-file"\nconcurrency = 3\n')
    args = build_parser().parse_args(
        [
            "discover",
            "parallel_scaling_law",
            "--proposer",
            "mixed",
            "--model",
            "m",
            "--base-url",
            "http://127.0.0.1:1/v1",
            "--llm-config",
            str(path),
            "--budget-usd",
            "0.5",
            "--budget-tokens",
            "1000",
            "--llm-ratio",
            "0.25",
        ]
    )
    config = run_config(args)
    assert config.proposer == "mixed" and config.llm.model == "m" and config.llm.concurrency == 3
    assert config.llm.budget_usd == 0.5 and config.llm.budget_tokens == 1000
    assert config.llm.mixed_ratio == 0.25 and config.llm.base_url == "http://127.0.0.1:1/v1"
    local = run_config(
        build_parser().parse_args(["discover", "sft_scaling_law", "--provider", "local"])
    )
    assert local.proposer == "llm" and local.llm.provider == "local"


def test_auth_failure_ends_the_run_cleanly_with_the_reason(tmp_path):
    with FakeOpenAI(lambda body, n: Reply(status=401, error="bad key")) as server:
        _, _, store = _run(_config(server.base_url, generations=5), tmp_path)
    with store:
        assert "bad key" in _stopped_by(store)
        assert [c.outcome for c in store.llm_calls()] == ["auth", "auth"]


@pytest.mark.parametrize("ratio", [0.0])
def test_mixed_with_ratio_zero_never_calls_the_llm(tmp_path, ratio):
    with FakeOpenAI(lambda body, n: Reply(laws_json(*_pick(body)))) as server:
        config = _config(
            server.base_url, proposer="mixed", generations=1, llm={"mixed_ratio": ratio}
        )
        _, _, store = _run(config, tmp_path)
    store.close()
    assert server.requests == []
