"""Prompt templates, the safe renderer, reply extraction, settings, ledger and quirks."""

from __future__ import annotations

import re

import pytest

from sld.config import LlmConfig, Price, llm_config
from sld.corpus import list_tasks, load_task
from sld.errors import ConfigError
from sld.law import parse_law
from sld.llm import extract_laws, law_grammar, price_for
from sld.llm._client import Quirks, learn_quirk, quirks_for, request_params
from sld.llm._ledger import Ledger, call_cost
from sld.llm._prompts import (
    PLACEHOLDERS,
    TEMPLATES,
    example_laws,
    prompt_values,
    propose_messages,
    render,
    template,
)
from sld.proposer import Parent, ProposalRequest, task_brief

TASKS = list_tasks()
_UNFILLED = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


@pytest.fixture(scope="module")
def briefs():
    return {name: task_brief(load_task(name)) for name in TASKS}


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("answer", ["json", "lines"])
def test_every_template_renders_for_every_curated_task(briefs, name, answer):
    brief = briefs[name]
    parent = Parent(id=3, text=example_laws(brief)[0], error=0.1, r2=0.91, complexity=9)
    values = prompt_values(
        brief,
        count=4,
        parents=[parent],
        failures=[("L = foo(N)", "unknown function foo")],
        group="a group note",
        answer=answer,
    )
    assert set(values) == PLACEHOLDERS
    for kind in TEMPLATES:
        text = render(template(kind), values)
        assert not _UNFILLED.search(text), (kind, _UNFILLED.findall(text))
        assert "{{" not in text and "}}" not in text
    user = render(template("propose"), values)
    for input_name in brief.inputs:
        assert brief.alias_of(input_name) in user
    assert "0.91" in user and "unknown function foo" in user


@pytest.mark.parametrize("name", TASKS)
def test_example_laws_parse_for_every_task(briefs, name):
    brief = briefs[name]
    for law in example_laws(brief):
        parse_law(law, inputs=brief.inputs, outputs=brief.outputs, aliases=brief.aliases)


def test_templates_use_only_known_placeholders():
    for kind in TEMPLATES:
        names = set(_UNFILLED.findall(template(kind)))
        assert {n[1:-1] for n in names} <= PLACEHOLDERS


def test_render_rejects_attribute_and_index_lookups():
    for text in ("{count.__class__}", "{values[0]}", "{count!r}", "{count:>10}"):
        with pytest.raises(ConfigError):
            render(text, {"count": "3", "values": ["x"]})


def test_render_inserts_values_verbatim_without_formatting_them_again():
    hostile = "{count} {__import__} {0.__class__}"
    assert render("say {x}", {"x": hostile, "count": "3"}) == f"say {hostile}"


def test_render_reports_a_missing_value():
    with pytest.raises(ConfigError, match="no value"):
        render("{task_name}", {})


def test_same_request_renders_the_same_messages(briefs):
    brief = briefs["parallel_scaling_law"]
    request = ProposalRequest(brief=brief, parents=(), count=3, generation=0, island=1, seed=7)
    assert propose_messages(request) == propose_messages(request)


# --- extraction -------------------------------------------------------------------------


def test_extract_reads_a_structured_reply():
    found = extract_laws('{"laws": [{"law": "L = a*N**b", "rationale": "power law"}]}')
    assert found.how == "json" and found.laws == (("L = a*N**b", "power law"),)


def test_extract_finds_json_inside_prose_and_fences():
    reply = 'Sure!\n```json\n{"laws": ["L = E + A/N**alpha"]}\n```\nGood luck.'
    assert extract_laws(reply).laws == (("L = E + A/N**alpha", ""),)
    prose = 'Here you go: {"laws": [{"law": "L = A*N**(-a)", "rationale": "x"}]} done'
    assert extract_laws(prose).how == "embedded-json"


def test_extract_falls_back_to_numbered_lines():
    reply = (
        "Ideas:\n1. L = E + A/N**alpha\n2) `L = E + A*P**(-b)`  -- streams\n- L = c*log(N)\nthanks"
    )
    found = extract_laws(reply)
    assert found.how == "lines"
    assert [law for law, _ in found.laws] == [
        "L = E + A/N**alpha",
        "L = E + A*P**(-b)",
        "L = c*log(N)",
    ]


def test_extract_joins_one_line_per_output_for_multi_output_tasks():
    found = extract_laws("y1 = a*x\ny2 = b*x\n", outputs=("y1", "y2"))
    assert found.laws == (("y1 = a*x; y2 = b*x", ""),)


def test_extract_finds_nothing_in_prose():
    assert extract_laws("I cannot help with that.").how == "none"


def test_extract_ignores_non_string_json_items_and_bounds_sizes():
    reply = '{"laws": [1, {"law": 5}, {"law": "L = a*N"}, ["x"]]}'
    assert extract_laws(reply).laws == (("L = a*N", ""),)
    huge = '{"laws": ["L = ' + "a+" * 5000 + 'N"]}'
    assert all(len(law) <= 2000 for law, _ in extract_laws(huge).laws)


# --- settings, ledger, quirks ------------------------------------------------------------


def test_llm_config_file_then_flags(tmp_path):
    path = tmp_path / "llm.toml"
    path.write_text(
        'model = "my-model"\ntemperature = 0.2\nconcurrency = 2\n'
        "[prices.my-model]\ninput = 1.0\noutput = 2.0\n"
    )
    settings = llm_config(config_file=path, model="other", base_url=None)
    assert settings.model == "other" and settings.temperature == 0.2
    assert settings.concurrency == 2 and settings.prices["my-model"].output == 2.0


def test_llm_config_rejects_unknown_keys_and_bad_values(tmp_path):
    path = tmp_path / "llm.toml"
    path.write_text('modle = "x"\n')
    with pytest.raises(ConfigError, match="unknown key"):
        llm_config(config_file=path)
    with pytest.raises(ConfigError, match="budget_usd"):
        llm_config(budget_usd=-1.0)
    with pytest.raises(ConfigError, match="cannot read"):
        llm_config(config_file=tmp_path / "missing.toml")


def test_prices_match_dated_models_and_overrides_win():
    assert price_for("gpt-4o-mini-2024-07-18") == price_for("gpt-4o-mini")
    assert price_for("gpt-4o-2024-08-06") == price_for("gpt-4o")
    assert price_for("mystery-model") is None
    mine = {"mystery-model": Price(input=2.0, output=4.0)}
    assert (
        call_cost(
            {"prompt_tokens": 1_000_000, "completion_tokens": 500_000},
            price_for("mystery-model", mine),
        )
        == 4.0
    )
    assert call_cost({"prompt_tokens": 10}, None) == 0.0


def test_ledger_budgets():
    ledger = Ledger()
    ledger.charge({"prompt_tokens": 60, "completion_tokens": 40}, 0.5)
    assert ledger.over_budget(usd=None, tokens=101) == ""
    assert "token budget (100)" in ledger.over_budget(usd=None, tokens=100)
    assert "dollar budget" in ledger.over_budget(usd=0.5, tokens=None)


def test_capability_table_and_learned_quirks():
    assert quirks_for("o3-mini") == Quirks(temperature=False, token_param="max_completion_tokens")
    assert quirks_for("gpt-5-mini").token_param == "max_completion_tokens"
    assert quirks_for("llama-3-8b") == Quirks()
    params = request_params(
        quirks_for("o1"), model="o1", temperature=0.7, max_tokens=100, seed=1, answer="json"
    )
    assert "temperature" not in params and params["max_completion_tokens"] == 100
    q = Quirks()
    q = learn_quirk(q, "response_format json_schema is not supported")
    assert q.response_format == "json_object"
    q = learn_quirk(q, "Unsupported value: 'response_format'")
    assert q.response_format == "none"
    q = learn_quirk(q, "Unsupported parameter: 'max_tokens'; use 'max_completion_tokens'")
    assert q.token_param == "max_completion_tokens"
    q = learn_quirk(q, "temperature: only the default (1) is supported")
    assert not q.temperature
    assert learn_quirk(q, "the moon is made of cheese") is None


@pytest.mark.parametrize("name", TASKS)
def test_law_grammar_is_gbnf_over_the_task_names(briefs, name):
    brief = briefs[name]
    text = law_grammar(brief, count=3)
    assert text.startswith("root ::=")
    for input_name in brief.inputs:
        assert f'"{brief.alias_of(input_name)}"' in text
    assert LlmConfig().model_name() == "gpt-4o-mini"
