"""Residual-guided proposals and tried keys: aimed at the trend, never a wasted duplicate."""

from __future__ import annotations

import asyncio
import dataclasses

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from sld.config import RunConfig, TaskSpec
from sld.evolve.engine import Engine
from sld.evolve.offline import OfflineProposer, offline_proposals
from sld.law import input_symbol
from sld.proposer import Parent, ProposalRequest
from sld.scoring import InputTrend, ResidualDiagnostics
from sld.store import RunStore
from tests.test_offline_proposer import BRIEFS, EXPERTS, _parse, _request


def _diagnostics(brief, *, input_index: int = -1, **trend) -> ResidualDiagnostics:
    name = brief.inputs[input_index]
    values = dict(slope=-0.6, corr=-0.9, top=-0.5, bend=0.0)
    values.update(trend)
    return ResidualDiagnostics(
        rows=20,
        rms=0.6,
        bias=0.0,
        trends=[
            InputTrend(input=name, output=brief.outputs[0], log=brief.log_scale[name], **values)
        ],
    )


def _uses(law, name: str) -> int:
    """How many times input ``name`` appears in the law's trees."""
    symbol = input_symbol(name)
    return sum(1 for e in law.expressions for n in sympy.preorder_traversal(e) if n == symbol)


def _parents(brief, diagnostics=None):
    first = offline_proposals(_request(brief, count=3, seed=9))
    return [
        Parent(
            id=10 + i,
            text=p.text,
            error=0.1 * (i + 1),
            r2=0.9,
            complexity=9,
            diagnostics=diagnostics if diagnostics is not None else _diagnostics(brief),
        )
        for i, p in enumerate(first)
    ]


@settings(max_examples=15, deadline=None)
@given(
    brief=st.sampled_from(BRIEFS),
    seed=st.integers(0, 10_000),
    generation=st.integers(1, 50),
    share=st.floats(0.0, 1.0),
)
def test_the_proposer_never_proposes_a_tried_key(brief, seed, generation, share):
    request = _request(brief, _parents(brief), count=8, generation=generation, seed=seed)
    first = offline_proposals(request)
    keys = sorted(_parse(p.text, brief).key for p in first)
    tried = frozenset(keys[: round(share * len(keys))])
    again = offline_proposals(dataclasses.replace(request, tried=tried))
    assert not {_parse(p.text, brief).key for p in again} & tried
    if len(tried) < len(keys):  # it still finds new forms for the untried share
        assert again


def test_guided_children_aim_at_the_input_whose_residual_trends():
    brief = EXPERTS  # inputs E (experts) and N
    request = _request(brief, _parents(brief, _diagnostics(brief, input_index=0)), count=24)
    parents = {p.id: p for p in request.parents}
    guided = [p for p in offline_proposals(request) if p.operator.startswith("guided_")]
    assert guided
    for p in guided:
        assert "log E" in p.rationale
        before = _uses(_parse(parents[p.parents[0]].text, brief), "num_experts")
        assert _uses(_parse(p.text, brief), "num_experts") > before


def test_a_bend_at_the_top_asks_for_a_floor_or_saturation_and_a_changing_trend_for_an_interaction():
    brief = EXPERTS
    bend = _diagnostics(brief, input_index=1, slope=0.01, corr=0.1, bend=0.4)
    out = offline_proposals(_request(brief, _parents(brief, bend), count=24))
    assert {p.operator for p in out if p.operator.startswith("guided_")} == {"guided_bend"}
    mixed = _diagnostics(brief, input_index=1, varies_with="num_experts", slope_change=2.0)
    out = offline_proposals(_request(brief, _parents(brief, mixed), count=24))
    assert {p.operator for p in out if p.operator.startswith("guided_")} == {"guided_interaction"}


def test_weak_trends_never_guide():
    brief = EXPERTS
    weak = _diagnostics(brief, slope=0.001, corr=0.05, bend=0.001, top=0.0)
    out = offline_proposals(_request(brief, _parents(brief, weak), count=24))
    assert not [p for p in out if p.operator.startswith("guided_")]


def test_guided_proposals_are_deterministic_for_a_seed():
    brief = EXPERTS
    parents = _parents(brief)
    tried = frozenset({_parse(p.text, brief).key for p in parents[:1]})
    request = ProposalRequest(brief, tuple(parents), 12, 4, 1, 7, tried=tried)
    assert offline_proposals(request) == offline_proposals(request)
    other = dataclasses.replace(request, seed=8)
    assert offline_proposals(other) != offline_proposals(request)


class _Recording:
    """The offline proposer, keeping every request it was sent."""

    name = "offline"

    def __init__(self) -> None:
        self.inner = OfflineProposer()
        self.requests: list[ProposalRequest] = []

    async def propose(self, request: ProposalRequest):
        self.requests.append(request)
        return await self.inner.propose(request)


def test_the_engine_tells_the_proposer_every_tried_key_and_each_parents_diagnostics(tmp_path):
    config = RunConfig(
        task=TaskSpec(source="parallel_scaling_law"),
        seed=3,
        generations=4,
        islands=2,
        proposals_per_island=4,
        restarts=4,
        capacity=8,
    )
    task = config.task.load()
    store = RunStore.create(
        tmp_path / "run", task=task.name, seed=3, config=config.model_dump(mode="json"), versions={}
    )
    proposer = _Recording()
    asyncio.run(Engine(task=task, config=config, store=store, proposer=proposer).run())
    late = [r for r in proposer.requests if r.generation >= 2]
    assert late and all(r.tried for r in late)
    assert all(p.diagnostics is not None and p.folds for r in late for p in r.parents)
    by_generation = {}
    for c in store.candidates():
        by_generation.setdefault(c.generation, set()).add(c.key)
    for r in late:  # everything fitted two generations back is known as tried
        assert by_generation[r.generation - 2] <= r.tried
    # no offline proposal repeats a law fitted earlier; only islands of one generation can collide
    assert not [c for c in store.candidates() if c.reason == "same law as a fitted candidate"]
