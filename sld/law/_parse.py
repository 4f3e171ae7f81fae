"""``parse_law``: untrusted law text in, a checked :class:`~sld.law._law.Law` out."""

from __future__ import annotations

import ast
import functools
import keyword
import time
from collections.abc import Mapping, Sequence

import sympy

from sld.errors import ParseError, TaskError
from sld.law._build import (
    BUILD_SECONDS,
    NOT_FINITE,
    build_expression,
    input_symbol,
    parameter_symbol,
)
from sld.law._canonical import canonicalize, complexity
from sld.law._grammar import MAX_MAGNITUDE, MIN_MAGNITUDE, RESERVED, Names, check_tree
from sld.law._law import Law
from sld.law._print import law_text
from sld.law._reparam import law_key
from sld.law._syntax import Locator, parse_piece
from sld.law._text import Piece, split_law

MAX_PARAMETERS = 64  # absolute cap, whatever max_params says
MAX_DEPTH = 100  # absolute cap: keeps the recursive builder far from Python's stack limit


def parse_law(
    text: str | Sequence[str],
    *,
    inputs: Sequence[str],
    outputs: Sequence[str] = ("y",),
    aliases: Mapping[str, str] | None = None,
    max_params: int | None = None,
    max_length: int = 2000,
    max_depth: int = 32,
    max_nodes: int = 200,
    max_exponent: float = 64.0,
) -> Law:
    """Parse untrusted law text into a checked ``Law``; never evaluates the text.

    ``text`` holds one expression per output, separated by ``;`` or newlines
    (or is a list of them), each written ``output = expr`` or bare. With one
    output any single name is accepted on the left; with several, either every
    expression names its output or there are exactly as many bare expressions
    as outputs, in output order. Names of inputs and of their ``aliases``
    (alias → input name) are inputs; every other name is a free parameter
    shared by all expressions. ``max_params`` (capped at 64) bounds the
    parameter count, ``max_length`` the characters, ``max_depth`` (capped at
    100) the nesting, ``max_nodes`` the syntax nodes per expression and
    ``max_exponent`` the magnitude of numeric exponents.

    Raises ``ParseError`` (one line, with ``position`` and ``token``; for a
    list, positions count in its items joined by ``"; "``) for anything outside
    the grammar or its bounds, and ``TaskError`` when the
    task's ``inputs``/``outputs``/``aliases`` themselves are inconsistent.
    """
    names = _task_names(inputs, outputs, aliases)
    source = _join(text)
    depth = min(max_depth, MAX_DEPTH)
    _, parameters = _syntax(
        source, names, outputs, max_length=max_length, max_depth=depth, max_nodes=max_nodes
    )
    _check_parameter_count(parameters, max_params)
    return _built(
        source,
        tuple(inputs),
        tuple(outputs),
        tuple(sorted((aliases or {}).items())),
        max_length=max_length,
        max_depth=depth,
        max_nodes=max_nodes,
        max_exponent=max_exponent,
    )


def _syntax(
    source: str,
    names: Names,
    outputs: Sequence[str],
    *,
    max_length: int,
    max_depth: int,
    max_nodes: int,
) -> tuple[list[tuple[ast.expr, Locator]], list[str]]:
    """The checked syntax tree of each output's expression, in output order, and the
    parameter names in order of first appearance. Cheap: no SymPy."""
    if len(source) > max_length:
        raise ParseError(
            f"law: text is {len(source)} characters (> limit {max_length}); shorten the law",
            position=max_length,
            token=source[max_length : max_length + 1],
        )
    pieces = split_law(source, max_depth=max_depth)
    if not pieces:
        raise ParseError("law: empty law; write an expression such as 'E + A/N**alpha'")
    ordered = _assign_outputs(pieces, outputs=tuple(outputs), names=names)
    right_names = Names(names.inputs, names.outputs | {p.left for p in pieces if p.left})

    trees: list[tuple[ast.expr, Locator]] = []
    parameters: dict[str, None] = {}
    for piece in ordered:
        body, locator = parse_piece(piece)
        found = check_tree(
            body, locator, names=right_names, max_depth=max_depth, max_nodes=max_nodes
        )
        parameters.update(dict.fromkeys(found))
        trees.append((body, locator))
    return trees, list(parameters)


# Laws built, by text, task names and limits (the parameter limit apart: it is checked
# before building). A search parses each text more than once: the offline proposer
# validates a proposal, and parses every parent again for each batch; the engine parses
# each proposal once more (measured on a 12-generation vocab search: 2,110 parses of 961
# distinct texts). Building is a pure function of the key, so a hit returns the law a
# miss would build; the returned ``Law`` is immutable. Errors are not kept: the few texts
# that fail are rebuilt, and a text that ran out of CPU time may build on a later try.
BUILT_LAWS = 4096


@functools.lru_cache(maxsize=BUILT_LAWS)
def _built(
    source: str,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    aliases: tuple[tuple[str, str], ...],
    *,
    max_length: int,
    max_depth: int,
    max_nodes: int,
    max_exponent: float,
) -> Law:
    """The law ``source`` writes, built and checked (:func:`parse_law` after its
    parameter-count check)."""
    deadline = time.thread_time() + BUILD_SECONDS
    names = _task_names(inputs, outputs, dict(aliases))
    trees, parameters = _syntax(
        source, names, outputs, max_length=max_length, max_depth=max_depth, max_nodes=max_nodes
    )

    def symbol(name: str) -> sympy.Symbol:
        if name in names.inputs:
            return input_symbol(names.inputs[name])
        return parameter_symbol(name)

    expressions = []
    for (body, locator), out in zip(trees, outputs, strict=True):
        expr = build_expression(
            body, locator, symbol=symbol, max_exponent=max_exponent, deadline=deadline
        )
        _check_built(expr, out, locator, inputs=inputs, max_exponent=max_exponent)
        expressions.append(expr)

    present = set().union(*(e.free_symbols for e in expressions))
    kept = tuple(p for p in parameters if parameter_symbol(p) in present)
    canonical = canonicalize(expressions, parameters=kept)
    printed = _printed_names(names.inputs)
    normalized = "; ".join(
        f"{out} = {law_text(body, names=printed)}"
        for (body, _), out in zip(trees, outputs, strict=True)
    )
    return Law(
        text=normalized,
        outputs=outputs,
        inputs=inputs,
        parameters=kept,
        expressions=tuple(expressions),
        key=law_key(
            expressions,
            parameters=kept,
            inputs=[input_symbol(i) for i in inputs],
            canonical=canonical,
        ),
        complexity=complexity(expressions),
        canonical_parameters=canonical.parameters,
    )


def _printed_names(resolved: Mapping[str, str]) -> dict[str, str]:
    """Written name (input or alias) -> the name the normalized text prints: the input's own
    name, or, for a column a law cannot name (``model size``), its first alias in sorted order,
    so the text always parses again."""
    spoken: dict[str, str] = {}
    for written, target in sorted(resolved.items()):
        if written.isidentifier():
            spoken.setdefault(target, target if target.isidentifier() else written)
    return {written: spoken.get(target, target) for written, target in resolved.items()}


def _task_names(
    inputs: Sequence[str], outputs: Sequence[str], aliases: Mapping[str, str] | None
) -> Names:
    """Validate the task's names; map every input name and alias to its input."""
    if isinstance(inputs, str) or isinstance(outputs, str):
        raise TaskError("law: inputs and outputs must be sequences of names, not one string")
    if not inputs or not outputs:
        raise TaskError("law: a task needs at least one input and one output")
    aliased = set((aliases or {}).values())
    for name in (*inputs, *outputs, *(aliases or {})):
        if not isinstance(name, str):
            raise TaskError(f"law: task name {name!r} is not a plain identifier; rename the column")
        if name in aliased and name in inputs and not name.isidentifier():
            continue  # laws name this input by its alias; text that is no name cannot clash
        if not name.isidentifier() or name.startswith("_"):
            fix = f"give it an alias (--aliases X='{name}')" if name in inputs else ""
            raise TaskError(
                f"law: task name {name!r} is not a plain identifier; "
                f"{fix + ' or ' if fix else ''}rename the column"
            )
        if keyword.iskeyword(name) or name in RESERVED:
            raise TaskError(f"law: task name {name!r} is reserved; rename the column")
    if len(set(inputs)) != len(inputs) or len(set(outputs)) != len(outputs):
        raise TaskError("law: task input and output names must be unique")
    if set(inputs) & set(outputs):
        raise TaskError(
            f"law: names {sorted(set(inputs) & set(outputs))} are both input and output"
        )
    resolved = {name: name for name in inputs}
    for alias, target in (aliases or {}).items():
        if target not in resolved or resolved.get(alias, target) != target or alias in outputs:
            raise TaskError(
                f"law: alias {alias!r} -> {target!r} must name a task input and not clash "
                "with another input or an output"
            )
        resolved[alias] = target
    return Names(resolved, frozenset(outputs))


def _join(text: str | Sequence[str]) -> str:
    if isinstance(text, str):
        return text
    if isinstance(text, (bytes, bytearray)) or not isinstance(text, Sequence):
        raise ParseError("law: law text must be a string or a list of strings")
    if not all(isinstance(item, str) for item in text):
        raise ParseError("law: every item of a law list must be a string")
    return "; ".join(text)


def _assign_outputs(pieces: list[Piece], *, outputs: tuple[str, ...], names: Names) -> list[Piece]:
    """Order pieces by output; check left sides and the expression count."""
    for piece in pieces:
        if piece.left in names.inputs:
            raise ParseError(
                f"law: left side '{piece.left}' at position {piece.left_position} is an input; "
                "write 'output = expression'",
                position=piece.left_position,
                token=piece.left,
            )
    if len(outputs) == 1:
        if len(pieces) != 1:
            raise ParseError(
                f"law: expected one expression for output '{outputs[0]}', got {len(pieces)}; "
                "remove the extra expressions",
                position=pieces[1].position(0),
                token=pieces[1].source[:1],
            )
        return pieces
    named = [p for p in pieces if p.left]
    if not named:
        if len(pieces) != len(outputs):
            raise ParseError(
                f"law: expected {len(outputs)} expressions (one per output: "
                f"{', '.join(outputs)}), got {len(pieces)}; write 'output = expression' for each"
            )
        return pieces
    if len(named) != len(pieces):
        bare = next(p for p in pieces if not p.left)
        raise ParseError(
            f"law: expression at position {bare.position(0)} has no left side while others do; "
            "write 'output = expression' for each",
            position=bare.position(0),
            token=bare.source[:1],
        )
    by_output: dict[str, Piece] = {}
    for piece in pieces:
        if piece.left not in outputs:
            raise ParseError(
                f"law: unknown output '{piece.left}' at position {piece.left_position}; "
                f"outputs are {', '.join(outputs)}",
                position=piece.left_position,
                token=piece.left,
            )
        if piece.left in by_output:
            raise ParseError(
                f"law: output '{piece.left}' at position {piece.left_position} is defined twice; "
                "keep one expression per output",
                position=piece.left_position,
                token=piece.left,
            )
        by_output[piece.left] = piece
    missing = [out for out in outputs if out not in by_output]
    if missing:
        raise ParseError(
            f"law: no expression for output(s) {', '.join(missing)}; "
            "write 'output = expression' for each"
        )
    return [by_output[out] for out in outputs]


def _check_parameter_count(parameters: list[str], max_params: int | None) -> None:
    limit = MAX_PARAMETERS if max_params is None else min(max_params, MAX_PARAMETERS)
    if len(parameters) > limit:
        shown = ", ".join(parameters[:8]) + (", ..." if len(parameters) > 8 else "")
        raise ParseError(
            f"law: too many parameters ({len(parameters)} > limit {limit}): {shown}; "
            "merge or drop terms",
            token=parameters[limit],
        )


def _check_built(
    expr: sympy.Expr,
    output: str,
    locator: Locator,
    *,
    inputs: tuple[str, ...],
    max_exponent: float,
) -> None:
    """Reject what only shows after SymPy's automatic simplification."""
    position = locator.piece.position(0)

    def fail(problem: str, hint: str) -> ParseError:
        return ParseError(
            f"law: the expression for '{output}' {problem}; {hint}",
            position=position,
            token=locator.piece.source[:24],
        )

    if not isinstance(expr, sympy.Expr) or expr.has(*NOT_FINITE):
        raise fail("is not a finite real expression", "check divisions, logs and roots")
    for node in sympy.preorder_traversal(expr):
        if (
            isinstance(node, sympy.Pow)
            and node.base.is_Number
            and node.base < 0
            and node.exp.is_Number
            and not node.exp.is_Integer
        ):
            raise fail(
                f"has a complex constant {node}", "avoid fractional powers of negative numbers"
            )
        if isinstance(node, sympy.Pow) and node.exp.is_Number and abs(node.exp) > max_exponent:
            raise fail(
                f"simplifies to a power {node.exp} beyond the limit {max_exponent:g}",
                "use a smaller power",
            )
        if isinstance(node, sympy.Number) and node != 0:
            if not MIN_MAGNITUDE <= abs(node) <= MAX_MAGNITUDE:
                raise fail("has a constant out of range (1e-300 to 1e300)", "rescale the law")
    if not any(input_symbol(name) in expr.free_symbols for name in inputs):
        raise fail(
            f"uses no input ({', '.join(inputs)})",
            "a law must depend on at least one input",
        )
