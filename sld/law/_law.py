"""``Law``: a parsed, checked law (:func:`sld.law._parse.parse_law` makes one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sympy

from sld.law._canonical import frozen_terms, shape
from sld.law._export import latex_equation, law_latex, law_python, law_sympy


@dataclass(frozen=True)
class Law:
    """A parsed, checked law for one task.

    ``text`` is the normalized law, one ``output = expr`` per output in task
    order joined by ``"; "`` (aliases replaced by input names, ``^`` by
    ``**``); ``parse_law(law.text, inputs=law.inputs, outputs=law.outputs)``
    gives back an equal law. ``expressions`` hold one SymPy expression per
    output whose free symbols are ``input_symbol(name)`` for inputs and
    ``parameter_symbol(name)`` for parameters. ``parameters`` are listed in
    order of first appearance in ``text``; ``canonical_parameters`` are the
    same names in the order of the law's canonical form, so laws that differ
    only by renaming and reordering match parameters position by position.
    ``key`` (:func:`sld.law._reparam.law_key`) is shared, beyond those, by laws
    that are one family of functions under an exact reparametrization
    (``A/N**a`` and ``A*N**a``) and are written with as many parameters.
    ``complexity`` is the node count of the SymPy trees (see
    ``sld.law._canonical.complexity``).
    """

    text: str
    outputs: tuple[str, ...]
    inputs: tuple[str, ...]
    parameters: tuple[str, ...]
    expressions: tuple[sympy.Expr, ...]
    key: str
    complexity: int
    canonical_parameters: tuple[str, ...] = field(default=())

    def sympy(self) -> tuple[sympy.Expr, ...]:
        """The SymPy expressions, one per output."""
        return self.expressions

    @property
    def shape(self) -> str:
        """The top of the trees with parameters and most constants erased
        (:func:`sld.law._canonical.shape`): near-variants of one form share it."""
        return shape(self.expressions)

    @property
    def frozen_terms(self) -> int:
        """Summands that depend on an input and hold no parameter, beside one that holds
        both (:func:`sld.law._canonical.frozen_terms`): the search set them, not a fit."""
        return frozen_terms(self.expressions)

    def latex(self) -> str:
        """LaTeX, one ``output = expression`` line per output."""
        return law_latex(self.outputs, self.expressions)

    def python(self) -> str:
        """Source of ``def law(<inputs>, <parameters>)`` computing the outputs with NumPy."""
        return law_python(
            text=self.text,
            inputs=self.inputs,
            parameters=self.parameters,
            outputs=self.outputs,
            expressions=self.expressions,
        )

    def sympy_source(self) -> str:
        """Source that rebuilds :attr:`expressions` after ``import sympy`` (symbols, then one
        ``output = ...`` line per output)."""
        return law_sympy(
            text=self.text,
            inputs=self.inputs,
            parameters=self.parameters,
            outputs=self.outputs,
            expressions=self.expressions,
        )

    def latex_block(self, *, comments: Sequence[str] = ()) -> str:
        """A LaTeX ``equation`` (``gather`` for several outputs), after ``%`` comment lines."""
        return latex_equation(self.outputs, self.expressions, comments=comments)
