"""A library of law families, instantiated over a task's inputs as SymPy trees.

Families are chosen from what a task brief says, never from its name: inputs that
span orders of magnitude (``log_scale``) get power laws, logs and saturating forms
in ``log X``; linear inputs (proportions, already-log quantities such as log-FLOPs)
get polynomials, exponentials of linear combinations, sigmoids and ``tanh``.

The trees are built over the task's :class:`~sld.evolve.features.Feature` s with
placeholder parameters (both in :mod:`sld.evolve.features`).

Where a family has a location parameter inside a nonlinear function (the midpoint
of a sigmoid, the break of a broken power law), the input is centred on the middle
of its training range (``log(N) - 20.7``), so that parameter starts near zero
instead of near ``-a * log(1e9)`` — an affine reparameterisation the fitter would
otherwise have to discover.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from sld.evolve.features import Feature, Params, features, placeholders_in
from sld.proposer import DEFAULT_PARAMS_PER_OUTPUT, TaskBrief

# --- single-expression families -------------------------------------------------------
# Each builder takes the features it works on and a parameter source, and returns
# one expression. Coefficients enter linearly where possible: the fitter solves
# linear parameters exactly (variable projection), so they cost almost nothing.


def power_term(f: Feature, p: Params) -> sympy.Expr:
    """``A * X**(-a)``: a decaying power of one input."""
    return p() * f.raw ** (-p())


def offset_power(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``E + A * X**(-a)``."""
    return p() + power_term(fs[0], p)


def pure_power(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``A * X**(-a)``."""
    return power_term(fs[0], p)


def sum_of_powers(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``E + A/N**a + B/D**b + ...`` (Chinchilla-like)."""
    return p() + sympy.Add(*(power_term(f, p) for f in fs))


def shared_exponent_powers(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``E + A/N**a + B/D**a + ...``: :func:`sum_of_powers` with one exponent for every
    input, a parameter fewer per extra input (e.g. Gadre et al.'s over-training law)."""
    a = p()
    return p() + sympy.Add(*(p() * f.raw ** (-a) for f in fs))


def multiplicative_power(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``E + A / (N**a * D**b * ...)``: one power law in a product of inputs."""
    return p() + p() * sympy.Mul(*(f.raw ** (-p()) for f in fs))


def pure_multiplicative(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``A * N**a * D**b * ...``."""
    return p() * sympy.Mul(*(f.raw ** p() for f in fs))


def power_interaction(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``E + A/N**a + B/D**b + C/(N**a D**b)``: two power laws and their product."""
    (x, y), (a, b) = (fs[0].raw, fs[1].raw), (p(), p())
    return p() + p() * x**-a + p() * y**-b + p() * x**-a * y**-b


def effective_scale(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``E + A * (X*(1 + k*log Y))**(-a)``: a power law in an effective size, one input
    scaled by a slowly growing factor of another (needs ``Y >= 1``)."""
    x, y = fs[0].raw, fs[1].raw
    return p() + p() * (x * (1 + p() * sympy.log(y))) ** (-p())


def kaplan(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``E + (A/N**a + B/D**b)**c``: two limits combined under one power."""
    return p() + (power_term(fs[0], p) + power_term(fs[1], p)) ** p()


def log_quadratic(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``a + b*log X + c*log(X)**2`` (``X`` itself for a linear input)."""
    g = fs[0].log
    return p() + p() * g + p() * g**2


def cubic(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``a + b*x + c*x**2 + d*x**3`` in the natural coordinate: U shapes and inflections."""
    g = fs[0].log
    return p() + p() * g + p() * g**2 + p() * g**3


def saturating(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``E + A / (1 + exp(a*(log X - m) + c))``: a sigmoid in the natural coordinate,
    i.e. ``E + A/(1 + (X/X0)**a)`` for log-scale inputs."""
    return p() + p() / (1 + sympy.exp(p() * fs[0].centred + p()))


def tanh_step(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``E + A * tanh(b*(x - m) + c)``: a smooth step (emergent abilities)."""
    return p() + p() * sympy.tanh(p() * fs[0].centred + p())


def rational(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``E + A / (B + X**a)``: a power law that flattens at small ``X``."""
    return p() + p() / (p() + fs[0].raw ** p())


def exp_decay(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``E + A*exp(-b*x)`` for a linear input; stretched ``E + A*exp(-b*(X/S)**c)`` for a
    log-scale one (``S`` a power of ten near the middle of the range)."""
    f = fs[0]
    if not f.log_scale:
        return p() + p() * sympy.exp(-p() * f.raw)
    return p() + p() * sympy.exp(-p() * (f.raw / f.scale) ** p())


def broken_power(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``E + A*X**(-a) / (1 + exp(b*(log X - m) + c))``: slope ``-a`` bending to
    ``-(a + b)`` around ``X0 = exp(m - c/b)`` (a smoothly broken power law)."""
    f = fs[0]
    return p() + power_term(f, p) / (1 + sympy.exp(p() * f.centred + p()))


def log_bilinear(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``exp(a*u + b*v + c*u*v + d)`` with centred logs ``u, v``: a power law in one input
    whose exponent moves with the other (Clark et al.)."""
    u, v = fs[0].centred, fs[1].centred
    return sympy.exp(p() * u + p() * v + p() * u * v + p())


def offset_log_bilinear(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``E + exp(a*u + b*v + c*u*v + d)``."""
    return p() + log_bilinear(fs, p)


def linear_features(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``c + sum_j t_j * x_j`` in natural coordinates."""
    return p() + sympy.Add(*(p() * f.log for f in fs))


def exp_linear(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``c + k * exp(sum_j t_j * x_j)`` in centred natural coordinates."""
    return p() + p() * sympy.exp(sympy.Add(*(p() * f.centred for f in fs)))


def quadratic_surface(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``a + sum_j (b_j*x_j + c_j*x_j**2)``: a separable response surface (optima in
    learning rate, batch size, ...)."""
    return p() + sympy.Add(*(p() * f.centred + p() * f.centred**2 for f in fs))


def full_quadratic_surface(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``a + sum_j b_j*x_j + sum_{j<=k} c_jk*x_j*x_k``: a quadratic with interactions."""
    linear = [p() * f.centred for f in fs]
    pairs = [p() * f.centred * g.centred for f, g in itertools.combinations_with_replacement(fs, 2)]
    return p() + sympy.Add(*linear, *pairs)


def exp_quadratic_surface(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """``exp(a + sum_j (b_j*x_j + c_j*x_j**2))``: the separable surface in log space."""
    return sympy.exp(quadratic_surface(fs, p))


def powers_with_optimum(fs: Sequence[Feature], p: Params, *, knobs: int = 1) -> sympy.Expr:
    """``E + sum_i A_i/X_i**a_i + sum_j C_j*(x_j - c_j)**2``: power laws in the scale inputs
    plus a quadratic bowl in each of the first ``knobs`` features (an optimum, e.g. in
    ``log lr`` or ``log batch``)."""
    bowls = [p() * (f.centred - p()) ** 2 for f in fs[:knobs]]
    return p() + sympy.Add(*(power_term(f, p) for f in fs[knobs:])) + sympy.Add(*bowls)


def powers_with_two_optima(fs: Sequence[Feature], p: Params) -> sympy.Expr:
    """:func:`powers_with_optimum` with bowls in the first two features."""
    return powers_with_optimum(fs, p, knobs=2)


# --- the seed list ----------------------------------------------------------------------


Builder = Callable[[Sequence[Feature], Params], sympy.Expr]
_Family = tuple[str, Builder, list[tuple[int, ...]]]  # (family, builder, feature-index choices)


@dataclass(frozen=True)
class Seed:
    """One instantiated family: its name and one expression per output."""

    family: str
    expressions: tuple[sympy.Expr, ...]


def param_budget(brief: TaskBrief) -> int:
    """The most parameters a proposal may have (the task's limit, else 10 per output)."""
    if brief.max_params is not None:
        return brief.max_params
    return DEFAULT_PARAMS_PER_OUTPUT * len(brief.outputs)


def _single_output_seeds(fs: Sequence[Feature]) -> Iterator[tuple[str, Builder, tuple[int, ...]]]:
    """(family, builder, feature indices) in priority order, interleaved so that the
    first few seeds cover different families."""
    scale = [i for i, f in enumerate(fs) if f.log_scale and f.positive]
    linear = [i for i, f in enumerate(fs) if not f.log_scale]
    positive = [i for i, f in enumerate(fs) if f.positive]
    usable = [i for i, f in enumerate(fs) if f.positive or not f.log_scale]
    every = tuple(range(len(fs)))
    many = len(fs) >= 2
    pairs: list[tuple[int, ...]] = list(itertools.combinations(scale, 2))
    # (x, y) with log y >= 0 over the training range, for effective sizes x*(1 + k*log y)
    boosted: list[tuple[int, ...]] = [
        (i, j) for i in scale for j in scale if i != j and fs[j].at_least_one
    ]
    # all scale inputs together, then (with three or more) each pair of them
    scale_sets = ([tuple(scale)] + (pairs if len(scale) > 2 else [])) if len(scale) >= 2 else []
    # a quadratic bowl in one feature beside power laws in the other scale inputs
    bowls = [(j, *(i for i in scale if i != j)) for j in every if many and set(scale) - {j}]
    two_bowls = [
        (j, k, *(i for i in scale if i not in (j, k)))
        for j, k in itertools.combinations(every, 2)
        if set(scale) - {j, k}
    ]

    power_families: list[_Family] = [
        ("sum_of_powers", sum_of_powers, scale_sets),
        (
            "offset_power",
            offset_power,
            [(i,) for i in scale + [j for j in positive if j not in scale]],
        ),
        ("multiplicative_power", multiplicative_power, scale_sets),
        ("shared_exponent_powers", shared_exponent_powers, scale_sets),
    ]
    linear_families: list[_Family] = [
        ("exp_linear", exp_linear, [every] if linear else []),
        ("linear_features", linear_features, [every] if linear else []),
        ("cubic", cubic, [(i,) for i in linear]),
    ]
    leading = power_families + linear_families
    if len(linear) > len(scale):
        leading = linear_families + power_families
    families: list[_Family] = leading + [
        ("quadratic_surface", quadratic_surface, [every] if many else []),
        ("powers_with_optimum", powers_with_optimum, bowls),
        ("powers_with_two_optima", powers_with_two_optima, two_bowls),
        ("log_quadratic", log_quadratic, [(i,) for i in usable]),
        ("saturating", saturating, [(i,) for i in usable]),
        ("broken_power", broken_power, [(i,) for i in scale]),
        ("log_bilinear", log_bilinear, pairs),
        ("rational", rational, [(i,) for i in positive]),
        ("exp_decay", exp_decay, [(i,) for i in usable]),
        ("kaplan", kaplan, pairs),
        ("effective_scale", effective_scale, boosted),
        ("power_interaction", power_interaction, pairs),
        ("exp_quadratic_surface", exp_quadratic_surface, [every] if many else []),
        ("full_quadratic_surface", full_quadratic_surface, [every] if many else []),
        ("tanh_step", tanh_step, [(i,) for i in linear]),
        ("offset_log_bilinear", offset_log_bilinear, pairs),
        ("pure_multiplicative", pure_multiplicative, [tuple(scale)] if scale else []),
        ("pure_power", pure_power, [(i,) for i in positive]),
        ("exp_linear", exp_linear, [] if linear else [every]),
    ]
    for rank in range(max(len(choices) for _, _, choices in families)):
        for name, builder, choices in families:
            if rank < len(choices):
                yield name, builder, choices[rank]


def seeds(brief: TaskBrief) -> list[Seed]:
    """Every family instantiated over the brief's inputs, within the parameter budget,
    in priority order (first seeds are the most common shapes, and diverse).

    A k-output task gets each single-output family once per output, each copy with its
    own parameters; when there are as many inputs as outputs, also families pairing
    output ``i`` with input ``i`` (ahead of families that use only some inputs).
    """
    return list(_seeds(features(brief), len(brief.outputs), param_budget(brief)))


@functools.lru_cache(maxsize=64)
def _seeds(fs: tuple[Feature, ...], k: int, budget: int) -> tuple[Seed, ...]:
    """:func:`seeds` for ``k`` outputs over ``fs``: kept, since every batch of a run asks
    for the same library (a twentieth of the offline proposer's time, measured on vocab)."""
    out: list[Seed] = []
    partial: list[Seed] = []  # multi-output: single-input families repeated over outputs
    for name, builder, chosen in _single_output_seeds(fs):
        p = Params()
        picked = [fs[i] for i in chosen]
        expressions = tuple(builder(picked, p) for _ in range(k))
        (partial if k > 1 and len(chosen) < len(fs) else out).append(Seed(name, expressions))
    if k > 1 and len(fs) == k:
        for name, builder in (
            ("paired_exp_decay", exp_decay),
            ("paired_offset_power", offset_power),
            ("paired_log_quadratic", log_quadratic),
        ):
            if name == "paired_offset_power" and not all(f.positive for f in fs):
                continue
            p = Params()
            out.append(Seed(name, tuple(builder([fs[i]], p) for i in range(k))))
    return tuple(s for s in out + partial if len(placeholders_in(s.expressions)) <= budget)


def fragment(fs: Sequence[Feature], p: Params, rng: np.random.Generator) -> sympy.Expr:
    """A small random term over one or two random inputs, for mutations to splice in."""
    f = fs[int(rng.integers(len(fs)))]
    g = fs[int(rng.integers(len(fs)))]
    choices: list[Callable[[], sympy.Expr]] = [
        lambda: p() * f.log,
        lambda: p() * f.centred**2,
        lambda: p() * sympy.exp(p() * f.centred),
        lambda: p(),
    ]
    if f.positive:
        choices += [lambda: power_term(f, p), lambda: power_term(f, p), lambda: p() * f.raw ** p()]
        if g is not f and g.positive:
            choices.append(lambda: p() * f.raw ** (-p()) * g.raw ** (-p()))
    if g is not f:
        choices.append(lambda: p() * f.centred * g.centred)
    if not f.log_scale:
        choices.append(lambda: p() * f.raw)
    return choices[int(rng.integers(len(choices)))]()
