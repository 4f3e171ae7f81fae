"""A GBNF grammar (llama.cpp's constrained decoding) for a task's law grammar.

The grammar admits a numbered list of ``count`` laws, one per line, each
``output = expression`` over the task's short variable names, a fixed set of
parameter names, numbers and one-argument functions, with bounded nesting (two
levels of parentheses, at most four terms of at most three factors). It offers only
as many parameter names as the task allows parameters, so the limit holds by
construction; :func:`sld.law.parse_law` still checks every law.
"""

from __future__ import annotations

from sld.llm._prompts import free_names
from sld.proposer import TaskBrief

# In order of use: a task allowing p parameters gets the first p names, so no law the
# grammar admits can exceed the limit (names may repeat; a repeat is the same parameter).
PARAMETERS = ("E", "A", "alpha", "k", "B", "beta", "C", "gamma", "D", "c")
FUNCTIONS = ("log", "exp", "sqrt", "tanh")


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _choice(options: list[str]) -> str:
    # longest first, so no option is a prefix that shadows another
    return " | ".join(_literal(o) for o in sorted(set(options), key=lambda o: (-len(o), o)))


def law_grammar(brief: TaskBrief, *, count: int) -> str:
    """GBNF text for a numbered list of ``count`` laws for ``brief``."""
    variables = [brief.alias_of(name) for name in brief.inputs]
    allowed = PARAMETERS if brief.max_params is None else PARAMETERS[: max(1, brief.max_params)]
    parameters = free_names(brief, allowed)
    if len(brief.outputs) == 1:
        law = f"{_literal(brief.outputs[0] + ' = ')} expr"
    else:
        law = ' "; " '.join(f"{_literal(o + ' = ')} expr" for o in brief.outputs)
    items = " ".join(f'{_literal(f"{i}. ")} law "\\n"' for i in range(1, count + 1))
    rules = [
        f"root ::= {items}",
        f"law ::= {law}",
        'expr ::= "-"? term (addop term)? (addop term)? (addop term)?',
        'addop ::= " + " | " - "',
        'mulop ::= "*" | "/"',
        "term ::= factor (mulop factor)? (mulop factor)?",
        'factor ::= atom ("**" power)?',
        'atom ::= var | param | number | fn "(" sub ")" | "(" sub ")"',
        'sub ::= "-"? subterm (addop subterm)? (addop subterm)?',
        "subterm ::= subfactor (mulop subfactor)?",
        'subfactor ::= leaf ("**" power)?',
        'leaf ::= var | param | number | fn "(" var ")" | fn "(" param "*" var ")"',
        'power ::= param | number | "(-" param ")" | "(" param mulop var ")" '
        '| "(-" param "*" var ")"',
        f"var ::= {_choice(variables)}",
        f"param ::= {_choice(parameters)}",
        f"fn ::= {_choice(list(FUNCTIONS))}",
        'number ::= [0-9] [0-9]? ("." [0-9] [0-9]?)? ("e" "-"? [1-9] [0-9]?)?',
    ]
    return "\n".join(rules) + "\n"
