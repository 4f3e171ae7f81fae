"""Laws: untrusted text → checked SymPy expressions, canonical keys, exports.

Grammar (a whitelist, parsed with ``ast.parse(mode="eval")`` and translated
node by node; the text is never evaluated, compiled to code, or sympified):

* ``output = expression`` per output, separated by ``;`` or newlines; the
  left side is optional (see ``parse_law``); a list of strings also works.
* numbers: ``int``/``float`` literals such as ``3``, ``0.5``, ``1e9`` (at most
  30 digits, magnitude within 1e-300..1e300); no complex numbers. Numbers are
  stored as exact rationals.
* names: task inputs and their aliases are inputs; every other name is a free
  parameter. Names may not start with ``_``, exceed 40 characters, name an
  output, be a function name, or be ``numpy``/``np``. There are no named
  constants: ``e``, ``E`` and ``pi`` are parameters like any other name.
* operators: ``+ - * / **``, unary ``-``/``+``, parentheses. ``^`` means
  power: it is rewritten to ``**`` before parsing.
* functions, by bare name with positional arguments: ``log`` (natural),
  ``log10``, ``log2``, ``exp``, ``sqrt``, ``abs``, ``tanh`` (one argument),
  ``min``, ``max`` (two to eight arguments, counting nested calls of the
  same function, which SymPy flattens).

Bounds: ``max_length`` characters (checked first), bracket nesting and tree
depth ``max_depth`` (checked before ``ast.parse`` by a linear scan, and on the
tree without recursion), ``max_nodes`` syntax nodes per expression,
``max_params`` parameters (never more than 64), numeric exponents up to
``max_exponent`` in magnitude, constant subexpressions finite and within
1e300, and 2 s of building time. Each expression must use at least one input
and, after SymPy's automatic simplification, must not contain ``zoo``, ``nan``,
``oo``, ``I`` or a fractional power of a negative number; parameters that
cancel out are dropped. Every violation raises ``sld.errors.ParseError`` with a one-line
message, the 0-based ``position`` in the text and the offending ``token``.
"""

from sld.law._build import input_symbol as input_symbol
from sld.law._build import parameter_symbol as parameter_symbol
from sld.law._document import EXPORT_FORMATS as EXPORT_FORMATS
from sld.law._document import ExportFormat as ExportFormat
from sld.law._document import law_export as law_export
from sld.law._export import parameters_csv as parameters_csv
from sld.law._grammar import FUNCTIONS as FUNCTIONS
from sld.law._law import Law as Law
from sld.law._parse import parse_law as parse_law
from sld.law._print_sympy import LawPrinter as LawPrinter

__all__ = [
    "EXPORT_FORMATS",
    "FUNCTIONS",
    "ExportFormat",
    "Law",
    "LawPrinter",
    "input_symbol",
    "law_export",
    "parameter_symbol",
    "parameters_csv",
    "parse_law",
]
