"""Behaviour of sld.law on valid laws: parsing, canonical keys, complexity, exports."""

from __future__ import annotations

import ast
import pathlib
import random

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sld.errors import ParseError, TaskError
from sld.law import FUNCTIONS, Law, input_symbol, parameter_symbol, parse_law

PARALLEL = dict(
    inputs=("num_params", "parallel_size"),
    outputs=("loss",),
    aliases={"N": "num_params", "P": "parallel_size"},
)
SFT = dict(inputs=("sft_data_size",), outputs=("loss",), aliases={"D": "sft_data_size"})
DOMAINS = 5
MIXTURE = dict(
    inputs=tuple(f"proportion_{j}" for j in range(1, DOMAINS + 1)),
    outputs=tuple(f"loss_{i}" for i in range(1, DOMAINS + 1)),
    aliases={f"r{j}": f"proportion_{j}" for j in range(1, DOMAINS + 1)},
)
N, P = input_symbol("num_params"), input_symbol("parallel_size")


def _mixture_lines() -> list[str]:
    return [
        f"loss_{i} = c{i} + k{i}*exp("
        + " + ".join(f"t{i}{j}*r{j}" for j in range(1, DOMAINS + 1))
        + ")"
        for i in range(1, DOMAINS + 1)
    ]


# --- parsing -----------------------------------------------------------------


def test_parse_parallel_reference_law_resolves_aliases_to_inputs():
    law = parse_law("L = E + (A*1e9/(N*(k*log(P)+1)))**alpha", **PARALLEL)
    E, A, k, alpha = (parameter_symbol(n) for n in ("E", "A", "k", "alpha"))
    expected = E + (A * sympy.Integer(10**9) / (N * (k * sympy.log(P) + 1))) ** alpha
    assert law.expressions == (expected,)
    assert law.parameters == ("E", "A", "k", "alpha")
    assert law.inputs == PARALLEL["inputs"] and law.outputs == ("loss",)
    assert law.text.startswith("loss = E + ")
    assert "num_params" in law.text and "N" not in law.text.replace("num_params", "")


def test_parse_sft_reference_law():
    law = parse_law("L = B/(Dl + D**beta) + E", **SFT)
    D = input_symbol("sft_data_size")
    B, Dl, beta, E = (parameter_symbol(n) for n in ("B", "Dl", "beta", "E"))
    assert law.expressions == (B / (Dl + D**beta) + E,)
    assert law.parameters == ("B", "Dl", "beta", "E")


def test_parse_domain_mixture_with_five_outputs_shares_one_parameter_namespace():
    lines = _mixture_lines()
    law = parse_law("\n".join(lines), **MIXTURE)
    assert len(law.expressions) == DOMAINS
    assert len(law.parameters) == DOMAINS * (DOMAINS + 2)
    assert law.parameters[:3] == ("c1", "k1", "t11")
    for i, expr in enumerate(law.expressions, start=1):
        assert parameter_symbol(f"c{i}") in expr.free_symbols
        assert input_symbol("proportion_3") in expr.free_symbols


def test_parse_multi_output_accepts_any_order_list_and_bare_expressions():
    lines = _mixture_lines()
    reference = parse_law("; ".join(lines), **MIXTURE)
    shuffled = parse_law(list(reversed(lines)), **MIXTURE)
    bare = parse_law([line.split("=", 1)[1] for line in lines], **MIXTURE)
    assert shuffled.expressions == reference.expressions == bare.expressions
    assert shuffled.text == reference.text


def test_parse_degree_five_polynomial():
    law = parse_law(
        "y = c0 + c1*x + c2*x^2 + c3*x**3 + c4*x^4 + c5*x**5", inputs=("x",), outputs=("y",)
    )
    x = input_symbol("x")
    c = [parameter_symbol(f"c{i}") for i in range(6)]
    assert sympy.expand(law.expressions[0] - sum(c[i] * x**i for i in range(6))) == 0
    assert law.parameters == tuple(f"c{i}" for i in range(6))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("E + A*exp(-b*log(N))", lambda E, A, b: E + A * sympy.exp(-b * sympy.log(N))),
        ("a*log10(N) + b", lambda a, b: a * sympy.log(N) / sympy.log(10) + b),
        ("a*log2(N) + b", lambda a, b: a * sympy.log(N) / sympy.log(2) + b),
        ("a*tanh(b*N) + c", lambda a, b, c: a * sympy.tanh(b * N) + c),
        ("a*sqrt(N) + abs(b)", lambda a, b: a * sympy.sqrt(N) + sympy.Abs(b)),
        ("max(a, b*N) + min(c, N, d)", lambda a, b, c, d: sympy.Max(a, b * N) + sympy.Min(c, N, d)),
        ("a - -N", lambda a: a + N),
        ("+N * 0.5 + a", lambda a: N / 2 + a),
    ],
)
def test_parse_function_forms(text, expected):
    law = parse_law(text, **PARALLEL)
    symbols = [parameter_symbol(name) for name in law.parameters]
    assert law.expressions == (expected(*symbols),)


def test_parse_caret_means_power():
    assert (
        parse_law("A*N^-a", **PARALLEL).expressions == parse_law("A*N**-a", **PARALLEL).expressions
    )


def test_parse_numbers_are_exact_rationals():
    (expr,) = parse_law("N*0.1 + 1e-3", **PARALLEL).expressions
    assert expr == N / 10 + sympy.Rational(1, 1000)


def test_parse_unicode_minus_and_times_are_accepted():
    assert parse_law("A \u00d7 N\u2212B", **PARALLEL).expressions == (
        parameter_symbol("A") * N - parameter_symbol("B"),
    )


def test_parse_multiline_expression_inside_brackets():
    law = parse_law("L = E + (A\n   / N**alpha)", **PARALLEL)
    assert law.parameters == ("E", "A", "alpha")


def test_parse_generic_left_side_with_one_output():
    for left in ("y", "L", "loss", "f"):
        assert parse_law(f"{left} = E + A/N", **PARALLEL).text == "loss = E + A/num_params"


def test_parse_drops_parameters_that_cancel():
    law = parse_law("A*N - A*N + B*N", **PARALLEL)
    assert law.parameters == ("B",)


def test_parse_keeps_names_that_look_like_sympy_constants_as_parameters():
    law = parse_law("E + I*N + pi*S + oo", **PARALLEL)
    assert law.parameters == ("E", "I", "pi", "S", "oo")
    assert all(s.is_Symbol for s in law.expressions[0].free_symbols)


def test_parse_rejects_too_many_parameters_with_named_list():
    with pytest.raises(ParseError, match=r"too many parameters \(3 > limit 2\): A, B, C"):
        parse_law("A + B*N + C*N**2", max_params=2, **PARALLEL)


def test_a_law_built_before_still_meets_each_callers_parameter_limit():
    # Built laws are kept by text (a search parses each text several times), with the
    # parameter limit checked before the memo, so a law kept for one caller is not handed
    # to another whose limit it breaks.
    text = "A + B*N + C*N**2"
    free = parse_law(text, **PARALLEL)
    assert parse_law(text, max_params=3, **PARALLEL) == free
    with pytest.raises(ParseError, match=r"too many parameters \(3 > limit 2\)"):
        parse_law(text, max_params=2, **PARALLEL)


def test_a_law_built_before_is_the_law_a_fresh_build_gives():
    import sld.law._parse as parse_module

    text = "E + A/N**alpha + B*log(N)"
    parse_module._built.cache_clear()
    cold = parse_law(text, **PARALLEL)
    warm = parse_law(text, **PARALLEL)
    names = (PARALLEL["inputs"], PARALLEL["outputs"], tuple(sorted(PARALLEL["aliases"].items())))
    limits = dict(max_length=2000, max_depth=32, max_nodes=200, max_exponent=64.0)
    fresh = parse_module._built.__wrapped__(text, *names, **limits)
    assert cold == warm == fresh
    assert parse_module._built.cache_info().hits == 1
    for _ in range(2):  # a text that fails to build fails again: errors are not kept
        with pytest.raises(ParseError, match="division by zero"):
            parse_law("A*N/0", **PARALLEL)
    assert parse_module._built.cache_info().currsize == 1


def test_parse_caps_parameters_at_64():
    text = " + ".join(f"a{i}*N**{i % 5}" for i in range(65))
    with pytest.raises(ParseError, match="65 > limit 64"):
        parse_law(text, max_params=1000, max_nodes=10**4, max_length=10**4, **PARALLEL)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("loss_1 = A*r1", "no expression for output"),
        ("loss_9 = A*r1", "unknown output 'loss_9'"),
        ("loss_1 = A*r1; A*r2", "no left side"),
        ("loss_1 = a*r1; loss_1 = b*r1", "defined twice"),
        ("a*r1; b*r2", "expected 5 expressions"),
        (
            "; ".join(f"loss_{i} = loss_2*r1" for i in range(1, DOMAINS + 1)),
            "cannot appear on the right side",
        ),
    ],
)
def test_parse_rejects_mismatched_outputs(text, message):
    with pytest.raises(ParseError, match=message):
        parse_law(text, **MIXTURE)


def test_parse_rejects_two_expressions_for_one_output():
    with pytest.raises(ParseError, match="expected one expression"):
        parse_law("loss = A*N; loss = B*N", **PARALLEL)


def test_parse_accepts_long_sums_within_node_limit():
    text = " + ".join(f"a{i}*N**{i % 5}" for i in range(60))
    assert len(parse_law(text, max_nodes=1000, max_length=10**4, **PARALLEL).parameters) == 60


def test_parse_rejects_expression_without_input():
    with pytest.raises(ParseError, match="uses no input"):
        parse_law("A + B", **PARALLEL)


def test_parse_rejects_generic_left_side_used_on_the_right():
    with pytest.raises(ParseError, match="output 'L'"):
        parse_law("L = L*N", **PARALLEL)


@pytest.mark.parametrize(
    "task",
    [
        dict(inputs=("x", "x"), outputs=("y",)),
        dict(inputs=("x",), outputs=("x",)),
        dict(inputs=("data size",), outputs=("y",)),
        dict(inputs=(), outputs=("y",)),
        dict(inputs=("x",), outputs=("y",), aliases={"N": "z"}),
        dict(inputs=("x", "z"), outputs=("y",), aliases={"z": "x"}),
        dict(inputs="x", outputs=("y",)),
        dict(inputs=("numpy",), outputs=("y",)),
    ],
)
def test_parse_rejects_inconsistent_task_names(task):
    with pytest.raises(TaskError):
        parse_law("a*x", **task)


# --- canonical key -------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("E + A/N**alpha", "A/N**alpha + E"),
        ("E + A/N**alpha", "c + k/N**b"),
        ("E + A/N**alpha", "E + A/num_params**alpha"),
        ("E + A/N**alpha", "E + A*N^(-alpha)"),
        ("a*N*b + c", "c + N*b*a"),
        ("A*N + B*N**2 + A*P", "B*N + A*N**2 + B*P"),
        ("A*N + B*N + A*P", "B*N + A*N + B*P"),
        ("max(a, b*N) + c", "c + max(N*b, a)"),
        ("E + A*1e9/N", "E + 1000000000*A/N"),
    ],
)
def test_key_is_equal_for_trivially_equivalent_forms(first, second):
    one, two = parse_law(first, **PARALLEL), parse_law(second, **PARALLEL)
    assert one.key == two.key
    renamed = dict(zip(two.canonical_parameters, one.canonical_parameters, strict=True))
    mapped = two.expressions[0].xreplace(
        {parameter_symbol(k): parameter_symbol(v) for k, v in renamed.items()}
    )
    assert mapped == one.expressions[0]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("E + A/N**alpha + B/P**alpha", "E + A*N**alpha + B/P**alpha"),
        ("E + A/N**alpha", "A/N**alpha"),
        ("E + A/N**alpha", "E + A/P**alpha"),
        ("E + A/N**alpha", "E + A/N**alpha + B/P**beta"),
        ("E + 2*A/N + A/P", "E + 3*A/N + A/P"),
        ("A*N + B*N + A*P", "A*N + B*N + C*P"),
        ("a*log(N)", "a*log10(N)"),
        ("min(a, N)", "max(a, N)"),
        ("a**N", "N**a"),
    ],
)
def test_key_differs_for_different_structures(first, second):
    assert parse_law(first, **PARALLEL).key != parse_law(second, **PARALLEL).key


def test_key_covers_all_outputs_in_order():
    lines = _mixture_lines()
    law = parse_law(lines, **MIXTURE)
    swapped = lines[:]
    swapped[0] = swapped[0].replace("k1*exp(", "k1*r1*exp(")
    assert parse_law(swapped, **MIXTURE).key != law.key


def test_canonical_parameters_are_a_permutation_of_parameters():
    law = parse_law("L = E + (A*1e9/(N*(k*log(P)+1)))**alpha", **PARALLEL)
    assert sorted(law.canonical_parameters) == sorted(law.parameters)


_POOL = ["a", "b", "c", "d", "k", "E", "alpha", "beta"]
_FACTORS = [
    "N",
    "P",
    "log(N)",
    "log(P)",
    "exp(-{p}*N)",
    "N**{p}",
    "P**(-{p})",
    "{p}",
    "(1 + {p}*N)",
]


@st.composite
def law_templates(draw):
    """A sum of products with parameter slots ``{p}``, as lists of factor lists."""
    terms = draw(
        st.lists(
            st.lists(st.sampled_from(_FACTORS), min_size=1, max_size=3), min_size=1, max_size=4
        )
    )
    terms[0].append("N")  # every law uses an input
    return terms


def _render(terms, names, rng: random.Random, *, shuffle: bool) -> str:
    slots = iter(names)
    rendered = []
    for term in terms:
        factors = [
            factor.replace("{p}", next(slots)) if "{p}" in factor else factor for factor in term
        ]
        if shuffle:
            rng.shuffle(factors)
        rendered.append("*".join(factors))
    if shuffle:
        rng.shuffle(rendered)
    return " + ".join(rendered)


def _slot_count(terms) -> int:
    return sum(factor.count("{p}") for term in terms for factor in term)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(terms=law_templates(), data=st.data())
def test_key_is_invariant_under_renaming_and_shuffling(terms, data):
    slots = _slot_count(terms)
    names = data.draw(st.lists(st.sampled_from(_POOL), min_size=slots, max_size=slots))
    fresh = {
        name: f"q{i}"
        for i, name in enumerate(sorted(set(names), key=lambda _: data.draw(st.floats(0, 1))))
    }
    seed = data.draw(st.integers(0, 2**32))
    original = parse_law(_render(terms, names, random.Random(seed), shuffle=False), **PARALLEL)
    variant_text = _render(terms, [fresh[n] for n in names], random.Random(seed + 1), shuffle=True)
    variant = parse_law(variant_text, **PARALLEL)
    assert variant.key == original.key
    assert variant.complexity == original.complexity


@settings(max_examples=300, deadline=None)
@given(terms=law_templates(), data=st.data())
def test_text_round_trip_keeps_key_and_expressions(terms, data):
    names = data.draw(
        st.lists(st.sampled_from(_POOL), min_size=_slot_count(terms), max_size=_slot_count(terms))
    )
    law = parse_law(_render(terms, names, random.Random(0), shuffle=False), **PARALLEL)
    again = parse_law(law.text, inputs=law.inputs, outputs=law.outputs)
    assert again == law


@pytest.mark.parametrize(
    "text",
    [
        "L = E + (A*1e9/(N*(k*log(P)+1)))**alpha",
        "E + 0.1*A/N**alpha - 1e-12 + 1.5e20*B*P",
        "max(a, b*N) + abs(c)*log2(P) + tanh(d)*sqrt(N) + exp(-N/k)",
        "(-2)**2*N + 2**0.5*P",
    ],
)
def test_text_round_trip_of_reference_laws(text):
    law = parse_law(text, **PARALLEL)
    assert parse_law(law.text, **PARALLEL) == law


# --- complexity and exports -------------------------------------------------------


def test_complexity_counts_sympy_nodes():
    # Add(E, Mul(A, Pow(N, Mul(-1, alpha)))) -> Add, E, Mul, A, Pow, N, Mul, -1, alpha
    assert parse_law("E + A/N**alpha", **PARALLEL).complexity == 9
    assert parse_law("a*N", **PARALLEL).complexity == 3


def test_complexity_sums_outputs():
    law = parse_law(_mixture_lines(), **MIXTURE)
    assert law.complexity == sum(
        sum(1 for _ in sympy.preorder_traversal(e)) for e in law.expressions
    )


def test_latex_has_one_line_per_output():
    law = parse_law(_mixture_lines(), **MIXTURE)
    lines = law.latex().splitlines()
    assert len(lines) == DOMAINS
    assert lines[0].startswith(r"\mathrm{loss\_1} = ")
    assert r"\alpha" in parse_law("E + A/N**alpha", **PARALLEL).latex()


def test_sympy_returns_expressions():
    law = parse_law("E + A/N**alpha", **PARALLEL)
    assert law.sympy() == law.expressions


def _load(source: str):
    namespace: dict = {}
    exec(compile(source, "<law>", "exec"), namespace)  # noqa: S102 - our own printed source, in a test
    return namespace["law"]


def test_python_export_computes_the_law_with_numpy():
    np = pytest.importorskip("numpy")
    law = parse_law("E + A/N**alpha + max(k, P)*abs(-k)*log10(N)*min(N, P, 3)**0.5", **PARALLEL)
    function = _load(law.python())
    n, p = np.array([1e6, 2e7]), np.array([1.0, 8.0])
    values = function(n, p, 1.5, 400.0, 0.3, 2.0)
    assert values == pytest.approx(
        1.5
        + 400 / n**0.3
        + np.maximum(2.0, p) * 2.0 * np.log10(n) * np.minimum(n, np.minimum(p, 3)) ** 0.5
    )


def test_python_export_returns_tuple_for_several_outputs():
    np = pytest.importorskip("numpy")
    law = parse_law(_mixture_lines(), **MIXTURE)
    function = _load(law.python())
    arguments = [np.full(2, 0.2)] * DOMAINS + [0.1] * len(law.parameters)
    assert len(function(*arguments)) == DOMAINS


def test_law_is_a_frozen_hashable_contract():
    law = parse_law("E + A/N**alpha", **PARALLEL)
    assert isinstance(law, Law)
    with pytest.raises(AttributeError):
        law.key = "x"  # type: ignore[misc]
    assert hash(law) == hash(parse_law("E + A/N**alpha", **PARALLEL))


def test_function_whitelist_is_small_and_documented():
    assert set(FUNCTIONS) == {"log", "log10", "log2", "exp", "sqrt", "abs", "tanh", "min", "max"}
    import sld.law

    assert all(name in (sld.law.__doc__ or "") for name in FUNCTIONS)


def test_law_package_never_evaluates_or_sympifies_text():
    builtins = {"eval", "exec", "compile", "__import__"}
    sympy_parsers = {"sympify", "parse_expr", "S", "parse_latex"}
    package = pathlib.Path(__file__).resolve().parents[1] / "sld" / "law"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name):
                    assert func.id not in builtins | sympy_parsers, f"{path.name}:{node.lineno}"
                elif isinstance(func, ast.Attribute):
                    assert func.attr not in sympy_parsers, f"{path.name}:{node.lineno}"


_LEAVES = st.sampled_from(["N", "P", "a", "b", "c", "2", "0.5", "3", "1e3"])


def _combine(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children).map(
        lambda t: f"({t[0]}){t[1]}({t[2]})"
    )
    unary = st.tuples(st.sampled_from(["-", "+"]), children).map(lambda t: f"{t[0]}({t[1]})")
    call = st.tuples(st.sampled_from(["log", "exp", "tanh", "abs", "sqrt"]), children).map(
        lambda t: f"{t[0]}({t[1]})"
    )
    return binary | unary | call


@settings(max_examples=400, deadline=None)
@given(st.recursive(_LEAVES, _combine, max_leaves=12))
def test_normalized_text_reparses_to_the_same_law(text):
    try:
        law = parse_law(text, **PARALLEL)
    except ParseError:
        return  # random trees may be constant, complex or out of bounds
    assert parse_law(law.text, **PARALLEL) == law


def test_parsing_from_many_threads_at_once_is_safe():
    """CPython 3.11's ast.parse breaks when threads parse concurrently; proposers parse in threads."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"E + A/N**a + B*log(N)**{k % 5 + 1} + ((((C*N))))" for k in range(400)]

    def parse(text):
        return parse_law(text, inputs=["N"], outputs=["L"]).key

    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(parse, texts))
    assert len(set(keys)) == 5


def test_shape_keeps_the_top_of_the_tree_and_erases_parameter_names():
    def shape(text: str) -> str:
        return parse_law(text, inputs=("N", "D"), outputs=("y",)).shape

    sigmoid = shape("A + B/(1 + exp(a*log(N) + b*log(D)))")
    assert sigmoid == "Add(Mul(P,Pow(~,-1)),P)"
    # a variant deep inside, and another naming, share the shape
    assert shape("C + K/(1 + exp(c*log(N) + d*log(D)**2))") == sigmoid
    # other forms do not
    assert shape("A + exp(a*log(N) + b*log(D))") != sigmoid
    assert shape("E + A/N**a + B/D**b") != shape("E + A*N**a*D**b")
    # a frozen term (no parameter, an input) beside or inside the terms is left out
    power = shape("A + exp(a*log(N) + b*log(D))")
    assert shape("A + 12/sqrt(N) + exp(1/sqrt(N) + a*log(N) + b*log(D))") == power
    assert shape("A + 30/sqrt(N) + exp(a*log(N) + b*log(D))") == power
    # a sum without a parameter keeps every term: centring is not a frozen term
    assert shape("A + B*(log(N) - 18.2)") != shape("A + B*log(N)")
    # every output contributes
    two = parse_law("y = A/N**a; z = B/D**b", inputs=("N", "D"), outputs=("y", "z"))
    assert two.shape.count(" ; ") == 1


def test_frozen_terms_are_summands_no_fit_can_scale_beside_one_it_can():
    def frozen(text: str) -> int:
        return parse_law(text, inputs=("N", "D"), outputs=("y",)).frozen_terms

    assert frozen("E + A/N**a + B/D**b") == 0
    assert frozen("E + A/N**a + B/D**b + 93/log(N)") == 1
    assert frozen("E + 2*log(log(N)) + A/log(N)**2 + B*D**a + log(log(D))") == 2
    # at any depth: the inner sum holds one beside A/N**a
    assert frozen("(A/N**a + log(D)**2)**b") == 1
    # a shift inside a sum with no parameter is centring, not a frozen term
    assert frozen("E + A*(log(D) - 22)**2") == 0
    assert frozen("A + B/(1 + exp(a*(log(N) - 18.2) + b*log(D)))") == 0
    # with no term a fit can scale, nothing is frozen beside one
    assert frozen("12/sqrt(N) + 3/D") == 0
    two = parse_law("y = A/N**a + 1/N; z = B/D**b + 2/D", inputs=("N", "D"), outputs=("y", "z"))
    assert two.frozen_terms == 2
    # a term a sibling scales by parameters alone is a shift of that coefficient, not frozen
    assert frozen("E + A/log(N) + 93/log(N) + B/D**b") == 0
    assert frozen("E + B/D**b + N*(A + 2)") == 0
    # a product of a sum with parameter-free factors is read distributed: 89/log(N) is frozen
    assert frozen("E + B/D**b + 89*(1 + A*log(N))/log(N)") == 1
    assert frozen("A*(1 + B*N)/N + C/D**c") == 0  # A scales the whole product
    # ... and a frozen term inside the sum is counted once, in that sum
    assert frozen("E + B/D**b + (log(N) + A*D)/N") == 1


def test_unfreezing_gives_each_frozen_term_a_coefficient_and_leaves_the_rest():
    from sld.law._canonical import unfreeze

    names = iter(["F", "G", "H", "K"])

    def fresh() -> sympy.Symbol:
        return parameter_symbol(next(names))

    def law(text: str) -> Law:
        return parse_law(text, inputs=("N", "D"), outputs=("y",))

    def same(got: tuple[sympy.Expr, ...], text: str) -> bool:
        return sympy.simplify(got[0] - law(text).expressions[0]) == 0

    # the number and sign go into the new parameter; nothing else moves
    got = unfreeze(law("E + A/N**a + B/D**b - 93/log(N)").expressions, fresh)
    assert same(got, "E + A/N**a + B/D**b + F/log(N)")
    assert law("E + A/N**a + B/D**b + F/log(N)").frozen_terms == 0
    # at any depth: inside an outer power
    assert same(
        unfreeze(law("(A/N**a + log(D)**2)**b").expressions, fresh), "(A/N**a + G*log(D)**2)**b"
    )
    # a term a sibling already scales by parameters is only a shift of that coefficient
    assert same(unfreeze(law("E + A/log(N) + 93/log(N)").expressions, fresh), "E + A/log(N)")
    # a frozen term written as a product is unfrozen distributed
    got = unfreeze(law("E + B/D**b + 89*(1 + A*log(N))/log(N)").expressions, fresh)
    assert same(got, "E + B/D**b + 89*A + H/log(N)")
    # no frozen term: the trees come back as they were, and no name is drawn
    for text in ("E + A*(log(D) - 22)**2", "12/sqrt(N) + 3/D", "E + A/N**a + B/D**b"):
        assert unfreeze(law(text).expressions, fresh) == law(text).expressions
    assert next(names) == "K"


def test_a_column_that_is_no_identifier_is_named_by_its_alias_in_text_and_exports():
    """`model size` cannot appear in a law, so laws write its alias; the normalized text
    parses again to the same law, and the code exports name it `model_size`."""
    np = pytest.importorskip("numpy")
    task = dict(inputs=["model size", "train-tokens"], outputs=["loss"])
    aliases = {"N": "model size", "D": "train-tokens"}
    law = parse_law("E + A/N**a + B/D**b", **task, aliases=aliases)
    assert law.text == "loss = E + A/N**a + B/D**b"
    assert parse_law(law.text, **task, aliases=aliases).key == law.key
    function = _load(law.python())
    assert "def law(model_size, train_tokens, E, A, a, B, b):" in law.python()
    assert function(np.array([1e8]), np.array([1e9]), 1.7, 400.0, 0.3, 410.0, 0.3) == (
        pytest.approx(1.7 + 400 / 1e8**0.3 + 410 / 1e9**0.3)
    )
    namespace: dict = {}
    exec(compile(law.sympy_source(), "<law>", "exec"), namespace)  # noqa: S102 - our own output
    assert namespace["loss"].free_symbols >= {namespace["model_size"], namespace["train_tokens"]}
    with pytest.raises(
        TaskError, match=r"'model size' is not a plain identifier; give it an alias"
    ):
        parse_law("E + A/N**a", inputs=["model size"], outputs=["loss"])
    with pytest.raises(TaskError, match=r"'val loss' is not a plain identifier; rename the column"):
        parse_law("E + A/N**a", inputs=["N"], outputs=["val loss"])
