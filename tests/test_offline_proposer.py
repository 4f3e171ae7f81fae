"""The offline proposer: valid, bounded, deterministic, diverse law proposals."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest
import sympy

import sld.law._parse as parse_module
from sld.evolve import families, mutate, offline
from sld.evolve.families import offset_power, param_budget, seeds, sum_of_powers
from sld.evolve.features import Params, features, placeholders_in
from sld.evolve.mutate import MUTATIONS, tie_exponents
from sld.evolve.offline import OfflineProposer, offline_proposals
from sld.evolve.text import law_text
from sld.law import input_symbol, parameter_symbol, parse_law
from sld.proposer import Parent, ProposalRequest, Proposer, TaskBrief


def _brief(inputs, aliases, outputs, log_scale, max_params, ranges=None) -> TaskBrief:
    return TaskBrief(
        name="test",
        inputs=tuple(inputs),
        aliases=dict(aliases),
        outputs=tuple(outputs),
        log_scale=dict(log_scale),
        max_params=max_params,
        ranges=dict(ranges or {}),
    )


ONE_INPUT = _brief(["size"], {"X": "size"}, ["y"], {"size": True}, 4, {"size": (200.0, 8e5)})
# "E" is an input alias here, as for mixture-of-experts tasks.
EXPERTS = _brief(
    ["num_experts", "dense_params"],
    {"E": "num_experts", "N": "dense_params"},
    ["loss"],
    {"num_experts": True, "dense_params": True},
    6,
    {"num_experts": (1.0, 512.0), "dense_params": (1e7, 1.3e9)},
)
THREE_INPUTS = _brief(
    ["tokens", "params", "unique"],
    {"D": "tokens", "N": "params", "U": "unique"},
    ["loss"],
    {"tokens": True, "params": True, "unique": True},
    7,
)
FIVE_OUTPUTS = _brief(
    [f"proportion_{i}" for i in range(1, 6)],
    {f"p{i}": f"proportion_{i}" for i in range(1, 6)},
    [f"loss_{i}" for i in range(1, 6)],
    {f"proportion_{i}": False for i in range(1, 6)},
    35,
    {f"proportion_{i}": (0.0, 1.0) for i in range(1, 6)},
)
LINEAR_INPUT = _brief(
    ["log_flops"],
    {"C": "log_flops"},
    ["score"],
    {"log_flops": False},
    None,
    {"log_flops": (-2.0, 3.0)},
)
NO_LIMIT_FOUR = _brief(
    ["lr", "bsz", "data", "params"],
    {"lr": "lr", "B": "bsz", "D": "data", "N": "params"},
    ["loss"],
    {"lr": True, "bsz": True, "data": True, "params": True},
    None,
    {"lr": (1e-4, 1e-2), "bsz": (32.0, 4096.0), "data": (1e9, 1e11), "params": (5e7, 1e9)},
)
BRIEFS = [ONE_INPUT, EXPERTS, THREE_INPUTS, FIVE_OUTPUTS, LINEAR_INPUT, NO_LIMIT_FOUR]
IDS = ["one_input", "experts", "three_inputs", "five_outputs", "linear_input", "four_no_limit"]


def _parse(text: str, brief: TaskBrief):
    return parse_law(
        text,
        inputs=brief.inputs,
        outputs=brief.outputs,
        aliases=brief.aliases,
        max_params=brief.max_params,
    )


def _request(brief, parents=(), *, count=8, generation=0, island=0, seed=0) -> ProposalRequest:
    return ProposalRequest(brief, tuple(parents), count, generation, island, seed)


def _evolve(brief: TaskBrief, *, generations: int, count: int = 8, seed: int = 0):
    """Proposals of a few generations, each generation's proposals becoming the parents."""
    batches = [offline_proposals(_request(brief, count=count, seed=seed))]
    for generation in range(1, generations + 1):
        parents = [
            Parent(id=100 * generation + i, text=p.text, error=float(i), r2=0.5, complexity=10)
            for i, p in enumerate(batches[-1])
        ]
        batch = offline_proposals(
            _request(brief, parents, count=count, generation=generation, seed=seed)
        )
        batches.append(batch)
    return [p for batch in batches for p in batch]


@pytest.mark.parametrize("brief", BRIEFS, ids=IDS)
def test_every_proposal_parses_within_the_parameter_limit(brief):
    proposals = _evolve(brief, generations=4)
    assert len(proposals) >= 30
    budget = param_budget(brief)
    for proposal in proposals:
        law = _parse(proposal.text, brief)
        assert len(law.parameters) <= budget
        assert len(law.expressions) == len(brief.outputs)
        assert proposal.proposer == "offline"


@pytest.mark.parametrize("brief", BRIEFS, ids=IDS)
def test_batches_are_full_and_free_of_duplicate_keys(brief):
    for generation, batch in enumerate([offline_proposals(_request(brief, count=6))]):
        keys = [_parse(p.text, brief).key for p in batch]
        assert len(keys) == 6, generation
        assert len(set(keys)) == len(keys)


def test_proposals_never_repeat_a_parent():
    parents = [Parent(1, "y = E + A/X**a", 0.1, 0.9, 7)]
    parent_key = _parse(parents[0].text, ONE_INPUT).key
    for generation in range(1, 6):
        batch = offline_proposals(_request(ONE_INPUT, parents, generation=generation))
        assert all(_parse(p.text, ONE_INPUT).key != parent_key for p in batch)


def test_same_request_gives_same_proposals():
    parents = [
        Parent(i, p.text, float(i), 0.5, 9) for i, p in enumerate(_evolve(EXPERTS, generations=1))
    ]
    request = _request(EXPERTS, parents[:6], generation=3, island=2, seed=11)
    assert offline_proposals(request) == offline_proposals(request)


class _Forgetful(dict):
    """A memo that keeps nothing."""

    def __contains__(self, key: object) -> bool:
        return False

    def __setitem__(self, key: object, value: object) -> None:
        pass


@pytest.mark.parametrize("brief", BRIEFS, ids=IDS)
def test_the_memos_change_no_proposal(brief, monkeypatch):
    # The proposer's memos (validated trees: three in four trees a run validates were seen
    # before; trees tidy leaves as they are; laws built by text; seed libraries; free
    # symbols) are caches, not rules: with them cold, warm, or bypassed, every batch is the
    # same.
    def batches():
        return _evolve(brief, generations=3, count=6, seed=5)

    offline._CHECKED.clear()
    mutate._TIDY.clear()
    mutate._free.cache_clear()
    parse_module._built.cache_clear()
    families._seeds.cache_clear()
    cold = batches()
    assert offline._CHECKED and mutate._TIDY, "the memos were not used"
    assert parse_module._built.cache_info().hits > 0
    warm = batches()
    monkeypatch.setattr(
        offline, "_checked", lambda trees, brief, **kw: offline._check(trees, brief, **kw)
    )
    monkeypatch.setattr(mutate, "_TIDY", _Forgetful())
    monkeypatch.setattr(mutate, "_free", lambda expr: frozenset(expr.free_symbols))
    monkeypatch.setattr(parse_module, "_built", parse_module._built.__wrapped__)
    monkeypatch.setattr(families, "_seeds", families._seeds.__wrapped__)
    bypassed = batches()
    assert cold == warm == bypassed
    assert len(cold) >= 20


def test_the_validation_memo_keys_on_the_briefs_names():
    # The same trees print with the brief's aliases: another brief never reads this one's entry.
    p = Params()
    n, a, e = input_symbol("params"), p(), p()
    other = dataclasses.replace(NO_LIMIT_FOUR, aliases={**NO_LIMIT_FOUR.aliases, "M": "params"})
    del other.aliases["N"]
    trees = (e + a * n,)
    offline._CHECKED.clear()
    first = offline._checked(trees, NO_LIMIT_FOUR, budget=4, cap=80)
    second = offline._checked(trees, other, budget=4, cap=80)
    assert first is not None and second is not None
    assert "N" in first[0] and "M" in second[0] and "N" not in second[0].split("=", 1)[1]
    assert first[1] == second[1]  # the same law, so the same key
    assert offline._checked(trees, NO_LIMIT_FOUR, budget=1, cap=80) is None  # over the budget


def test_different_seeds_give_different_proposals():
    first = offline_proposals(_request(THREE_INPUTS, seed=1))
    second = offline_proposals(_request(THREE_INPUTS, seed=2))
    assert [p.text for p in first] != [p.text for p in second]
    parents = [Parent(i, p.text, float(i), 0.5, 9) for i, p in enumerate(first)]
    later = [
        offline_proposals(_request(THREE_INPUTS, parents, generation=1, seed=s)) for s in (1, 2)
    ]
    assert [p.text for p in later[0]] != [p.text for p in later[1]]


def test_islands_start_from_different_seeds():
    first = offline_proposals(_request(NO_LIMIT_FOUR, island=0, count=4))
    second = offline_proposals(_request(NO_LIMIT_FOUR, island=1, count=4))
    seeded = lambda batch: {p.text for p in batch if p.operator == "seed"}  # noqa: E731
    assert seeded(first).isdisjoint(seeded(second))


def test_every_operator_is_used():
    operators = {p.operator for p in _evolve(THREE_INPUTS, generations=8)}
    assert operators >= set(MUTATIONS) | {"seed", "crossover"}


def test_mutations_name_their_parent():
    batch = _evolve(EXPERTS, generations=2)
    for proposal in batch:
        if proposal.operator in MUTATIONS and "seed" not in proposal.rationale:
            assert len(proposal.parents) == 1
        if proposal.operator == "seed":
            assert proposal.parents == ()


def test_crossover_mixes_two_parents():
    parents = [
        Parent(1, "loss = A + B/N**a", 0.1, 0.9, 7),
        Parent(2, "loss = C*log(E)", 0.2, 0.8, 4),
    ]
    children = []
    for generation in range(10):
        request = _request(EXPERTS, parents, generation=generation)
        batch = offline_proposals(request, seed_share=0.0, crossover_share=1.0)
        children += [p for p in batch if p.operator == "crossover"]
    assert children
    assert all(sorted(p.parents) == [1, 2] for p in children)
    mixed = [
        p for p in children if {"dense_params", "num_experts"} <= _input_names(p.text, EXPERTS)
    ]
    assert mixed, [p.text for p in children]


def _input_names(text: str, brief: TaskBrief) -> set[str]:
    law = _parse(text, brief)
    present = set().union(*(e.free_symbols for e in law.expressions))
    return {name for name in brief.inputs if input_symbol(name) in present}


def test_multi_output_laws_have_one_expression_per_output():
    for proposal in _evolve(FIVE_OUTPUTS, generations=3):
        law = _parse(proposal.text, FIVE_OUTPUTS)
        assert law.outputs == FIVE_OUTPUTS.outputs
        assert all(any(s.is_positive for s in e.free_symbols) for e in law.expressions)


def test_multi_output_seeds_include_exponential_of_linear_mixture():
    # c_i + k_i * exp(sum_j t_ij * x_j) for each output: 7 parameters per output.
    library = seeds(FIVE_OUTPUTS)
    assert library[0].family == "exp_linear"
    text = law_text(library[0].expressions, FIVE_OUTPUTS)
    law = _parse(text, FIVE_OUTPUTS)
    assert len(law.parameters) == 35
    assert all(
        len(e.free_symbols & {input_symbol(n) for n in FIVE_OUTPUTS.inputs}) == 5
        for e in law.expressions
    )


def test_alias_e_for_experts_is_never_a_parameter():
    for proposal in _evolve(EXPERTS, generations=4):
        law = _parse(proposal.text, EXPERTS)
        assert "E" not in law.parameters
        assert parameter_symbol("E") not in set().union(*(e.free_symbols for e in law.expressions))
    assert any(
        "num_experts" in _input_names(p.text, EXPERTS) for p in _evolve(EXPERTS, generations=0)
    )


def test_parameter_names_avoid_every_task_name():
    brief = _brief(
        ["a", "A", "E"],
        {"B": "a", "b": "A", "D": "E"},
        ["C"],
        {"a": True, "A": True, "E": True},
        None,
    )
    for proposal in _evolve(brief, generations=3):
        law = _parse(proposal.text, brief)
        assert not set(law.parameters) & {"a", "A", "E", "B", "b", "D", "C"}


def test_tiny_parameter_limit_is_respected():
    brief = dataclasses.replace(EXPERTS, max_params=3)
    proposals = _evolve(brief, generations=3)
    assert proposals
    assert all(len(_parse(p.text, brief).parameters) <= 3 for p in proposals)


def test_brief_without_ranges_still_works():
    brief = dataclasses.replace(THREE_INPUTS, ranges={})
    assert len(_evolve(brief, generations=2)) >= 20


def test_unparseable_parents_are_skipped():
    parents = [
        Parent(1, "y = __import__('os')", 0.0, 1.0, 1),
        Parent(2, "y = E + A/X**a", 0.1, 0.9, 7),
    ]
    batch = offline_proposals(_request(ONE_INPUT, parents, generation=1))
    assert batch
    assert all(set(p.parents) <= {2} for p in batch)


def test_seeds_contain_the_offset_power_law():
    target = parse_law("E + A/X**a", inputs=("size",), aliases={"X": "size"}, outputs=("y",)).key
    texts = [law_text(s.expressions, ONE_INPUT) for s in seeds(ONE_INPUT)]
    assert target in {_parse(t, ONE_INPUT).key for t in texts}
    first = offline_proposals(_request(ONE_INPUT, count=4))
    assert target in {_parse(p.text, ONE_INPUT).key for p in first}


def test_seeds_contain_chinchilla_and_multiplicative_forms():
    keys = {_parse(law_text(s.expressions, EXPERTS), EXPERTS).key for s in seeds(EXPERTS)}
    for text in ("E0 + A/N**a + B/E**b", "E0 + A/(N**a*E**b)"):
        assert _parse(f"loss = {text}", EXPERTS).key in keys


def test_seeds_contain_the_shared_exponent_form_even_under_a_four_parameter_limit():
    four = dataclasses.replace(EXPERTS, max_params=4)
    keys = {_parse(law_text(s.expressions, four), four).key for s in seeds(four)}
    assert _parse("loss = E0 + A/N**a + B/E**a", four).key in keys
    assert _parse("loss = E0 + A/N**a + B/E**b", EXPERTS).key not in keys  # 5 > 4


def test_tie_exponents_gives_two_powers_one_exponent_and_skips_a_law_with_one_power():
    fs = features(EXPERTS)
    p = Params()
    chinchilla = sum_of_powers(fs, p)
    tied = tie_exponents(chinchilla, fs, Params(chinchilla), np.random.default_rng(0))
    assert len(placeholders_in([tied])) == len(placeholders_in([chinchilla])) - 1
    text = law_text((tied,), EXPERTS)
    assert _parse(text, EXPERTS).key == _parse("loss = E0 + A/N**a + B/E**a", EXPERTS).key
    one = offset_power(fs, Params())
    assert tie_exponents(one, fs, Params(one), np.random.default_rng(0)) is None


def test_proposals_stay_within_parser_bounds_over_many_generations():
    for proposal in _evolve(NO_LIMIT_FOUR, generations=10, count=6, seed=5):
        law = _parse(proposal.text, NO_LIMIT_FOUR)
        assert law.complexity <= 80 * len(NO_LIMIT_FOUR.outputs)


def test_printer_writes_grammar_not_sympy_names():
    x = input_symbol("size")
    a = sympy.Symbol("_q0", real=True)
    text = law_text([sympy.E * sympy.Abs(a) * x + sympy.Max(x, a) + sympy.sqrt(x)], ONE_INPUT)
    assert "exp(1)" in text and "abs(" in text and "max(" in text and "sqrt(X)" in text
    assert "Abs" not in text and "Max" not in text and "size" not in text
    law = _parse(text, ONE_INPUT)
    assert len(law.parameters) == 1


def test_printer_refuses_infinity():
    with pytest.raises(ValueError):
        law_text([sympy.zoo * input_symbol("size")], ONE_INPUT)


def test_centring_uses_training_ranges():
    (feature,) = features(ONE_INPUT)
    assert feature.log_scale and feature.positive
    assert float(feature.center) == pytest.approx(9.45, abs=0.01)


def test_offline_proposer_is_an_async_proposer():
    proposer = OfflineProposer()
    assert isinstance(proposer, Proposer)
    batch = asyncio.run(proposer.propose(_request(ONE_INPUT, count=3)))
    assert len(batch) == 3
    assert batch == offline_proposals(_request(ONE_INPUT, count=3))
