"""A law with its per-group parameters as one text in a chosen format: what ``sld export`` prints
and the TUI's export key writes.

Formats: ``latex`` (an equation block), ``python`` (a NumPy function and a ``PARAMETERS`` table),
``sympy`` (source rebuilding the expressions), ``json`` (everything, strict JSON), ``csv`` (the
per-group parameters).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, get_args

from sld.law._export import parameters_csv
from sld.strict_json import dumps

if TYPE_CHECKING:  # pragma: no cover
    from sld.law._law import Law

ExportFormat = Literal["latex", "python", "sympy", "json", "csv"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)
SUFFIXES: dict[ExportFormat, str] = {
    "latex": ".tex",
    "python": ".py",
    "sympy": ".py",
    "json": ".json",
    "csv": ".csv",
}


def law_export(
    law: Law,
    form: ExportFormat,
    *,
    title: str,
    parameters: Mapping[str, Mapping[str, float]],
    parameters_from: str,
    facts: Mapping[str, Any] | None = None,
) -> str:
    """``law`` as text in ``form``.

    ``title`` heads the text (a comment or docstring); ``parameters`` (group -> name -> value)
    and ``parameters_from`` (which rows fitted them) go into ``python``, ``json`` and ``csv``;
    ``facts`` (task, candidate id, scores, ...) into ``json`` only.
    """
    if form == "latex":
        return law.latex_block(comments=[title, law.text])
    if form == "sympy":
        return f"# {title}\n" + law.sympy_source()
    if form == "csv":
        return parameters_csv(parameters, law.parameters)
    table = {g: dict(v) for g, v in parameters.items()}
    if form == "python":
        return (
            f'"""{title}"""\n\n'
            + law.python()
            + f"\n\n# Parameters per group, fitted on {parameters_from}.\n"
            + f"PARAMETERS = {json.dumps(table, indent=4, sort_keys=True)}\n"
        )
    if form == "json":
        record = {
            "title": title,
            **(facts or {}),
            "law": law.text,
            "key": law.key,
            "complexity": law.complexity,
            "inputs": list(law.inputs),
            "outputs": list(law.outputs),
            "parameters": list(law.parameters),
            "latex": law.latex(),
            "fitted_parameters": table,
            "parameters_from": parameters_from,
        }
        return dumps(record) + "\n"
    raise ValueError(f"unknown export format {form!r}; choose one of {', '.join(EXPORT_FORMATS)}")
