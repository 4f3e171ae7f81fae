"""Extrapolation checks on hand-made laws: inputs only, demote what turns the wrong way."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from sld.corpus import load_task
from sld.fit import FitResult, fit_law
from sld.law import parse_law
from sld.scoring import extrapolation_checks, selection_scores

CHINCHILLA = dict(E=1.69, A=406.4, a=0.34, B=410.7, b=0.28)


def _sweep(tmp_path) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    N = np.repeat(np.geomspace(7e7, 2e9, 7), 6)
    D = np.tile(np.geomspace(2e9, 2e11, 6), 7)
    p = CHINCHILLA
    loss = p["E"] + p["A"] / N ** p["a"] + p["B"] / D ** p["b"] + rng.normal(0, 0.004, len(N))
    frame = pd.DataFrame({"N": N, "D": D, "loss": loss})
    frame.to_csv(tmp_path / "chinchilla.csv", index=False)
    return frame


def _task(tmp_path, **options):
    _sweep(tmp_path)
    return load_task(
        str(tmp_path / "chinchilla.csv"), inputs=["N", "D"], outputs=["loss"], test="N >= 2e9"
    )


def _fit(law, parameters: dict[str, float], group: str = "all_data") -> FitResult:
    names = list(law.parameters)
    return FitResult(
        ok=True,
        groups=[group],
        parameter_names=names,
        parameters={group: {n: float(parameters[n]) for n in names}},
        train_loss=0.0,
        group_loss={group: 0.0},
        converged=True,
        group_converged={group: True},
        gradient_norm=0.0,
        restarts=1,
        finite_restarts=1,
        iterations=1,
        seconds=0.0,
        compile_seconds=0.0,
    )


def _check(task, text: str, parameters: dict[str, float], **options):
    law = parse_law(text, inputs=task.inputs, outputs=task.outputs)
    return extrapolation_checks(
        law,
        _fit(law, parameters, task.groups[0]),
        task.train(),
        log_scale=task.log_scale,
        monotone=options.pop("monotone", {"N": -1, "D": -1}),
        probe=options.pop("probe", 10.0),
        **options,
    )


def test_the_chinchilla_form_passes_every_check(tmp_path):
    task = _task(tmp_path)
    law = parse_law("E + A/N**a + B/D**b", inputs=task.inputs, outputs=task.outputs)
    fit = fit_law(law, task.train(), restarts=16, seed=0)
    report = extrapolation_checks(
        law, fit, task.train(), log_scale=task.log_scale, monotone={"N": -1, "D": -1}
    )
    assert report.passed, report.reasons
    assert report.probes > 0


def test_an_extra_d_term_that_turns_upward_beyond_the_range_is_demoted(tmp_path):
    task = _task(tmp_path)
    # within the training range C*D**c adds at most 0.005 and the law still falls in D;
    # a decade beyond the largest D it climbs by several std of the loss
    params = {**CHINCHILLA, "C": 1.25e-25, "c": 2.0}
    report = _check(task, "E + A/N**a + B/D**b + C*D**c", params)
    assert not report.passed
    assert any("rises against its declared direction in D" in r for r in report.reasons)
    # the same law with no declared direction only has to stay finite and positive
    assert _check(task, "E + A/N**a + B/D**b + C*D**c", params, monotone={}).passed


def test_a_wider_probe_catches_a_turn_that_a_decade_out_does_not(tmp_path):
    task = _task(tmp_path)
    assert task.card.validation.probe == 10.0
    train = task.train()
    n_max = max(float(x[:, 0].max()) for x in train.X)
    spread = float(np.std(np.concatenate(train.y)))
    # C*N**2 adds 5e-4 std at the largest training N and 0.05 std a decade out: the law
    # still falls in N there; three decades out it has climbed by hundreds of std
    params = {**CHINCHILLA, "C": 5e-4 * spread / n_max**2}
    text = "E + A/N**a + B/D**b + C*N**2"
    assert _check(task, text, params, probe=10.0).passed
    far = _check(task, text, params, probe=1000.0)
    assert not far.passed
    assert any("rises against its declared direction in N" in r for r in far.reasons)
    # the card's default probes the declared directions alone that far, and names the reach
    assert task.card.validation.monotone_probe == 1000.0
    directions = _check(task, text, params, probe=10.0, monotone_probe=1000.0)
    assert not directions.passed
    assert any(f"N up to {1000 * n_max:.3g}" in r for r in directions.reasons)
    # with no declared direction there is nothing to probe that far
    assert _check(task, text, params, probe=10.0, monotone_probe=1000.0, monotone={}).passed


def test_beyond_the_probe_only_the_declared_directions_are_judged(tmp_path):
    task = _task(tmp_path)
    d_max = max(float(x[:, 1].max()) for x in task.train().X)
    # falls in D everywhere, positive a decade out (ln 10 < 3), negative three decades out
    params = {"E": float(np.log(d_max)) + 3.0, "C": 1.0}
    law = "E - C*log(D)"
    assert _check(task, law, params, probe=10.0, monotone={"D": -1}).passed
    assert _check(task, law, params, probe=10.0, monotone_probe=1000.0, monotone={"D": -1}).passed
    every = _check(task, law, params, probe=1000.0, monotone={"D": -1})
    assert any("turns non-positive" in r for r in every.reasons)
    # falls in D and stays finite a decade out, undefined from e**3 times the largest D on:
    # the far grid cannot be judged for direction, so it is skipped, not failed
    law = "E + A*log(c - log(D))"
    params = {"E": 2.0, "A": 1.0, "c": float(np.log(d_max)) + 3.0}
    assert _check(task, law, params, probe=10.0, monotone_probe=1000.0, monotone={"D": -1}).passed
    assert not _check(task, law, params, probe=1000.0, monotone={"D": -1}).passed


def test_a_law_that_turns_non_positive_or_non_finite_beyond_the_range_is_demoted(tmp_path):
    task = _task(tmp_path)
    negative = _check(task, "E - C*log(D)", {"E": 30.0, "C": 1.2}, monotone={})
    assert not negative.passed
    assert any("turns non-positive" in r for r in negative.reasons)
    blowup = _check(task, "E + A/(c - log(D))", {"E": 2.0, "A": 1.0, "c": 27.0}, monotone={})
    assert not blowup.passed


def test_within_range_wiggles_under_the_tolerance_are_allowed(tmp_path):
    task = _task(tmp_path)
    # a tiny upward tilt in N, far under 0.1 std over the whole probe, is noise-sized
    tilt = _check(task, "E + A/N**a + B/D**b + C*log(N)", {**CHINCHILLA, "C": 1e-4})
    assert tilt.passed, tilt.reasons
    steep = _check(task, "E + A/N**a + B/D**b + C*log(N)", {**CHINCHILLA, "C": 0.2})
    assert not steep.passed


@pytest.mark.parametrize("directions", [{"N": -1, "D": -1}, {}])
def test_selection_scores_carry_the_checks_and_a_demoted_law_keeps_its_fold_scores(
    tmp_path, directions
):
    task = _task(tmp_path)
    laws = [
        parse_law(t, inputs=task.inputs, outputs=task.outputs)
        for t in ("E + A/N**a + B/D**b", "E + A*N**a + B/D**b")
    ]
    reports = selection_scores(laws, task, seed=0, restarts=8, monotone=directions)
    assert all(r.checks is not None for r in reports)
    assert reports[0].checks.passed
    assert len(reports[0].folds) == len(task.folds())
    assert all(f.nmse is not None for f in reports[0].folds)


def test_selection_scores_probe_the_directions_as_far_as_the_card_says(tmp_path):
    task = _task(tmp_path)
    # a fixed (N/6e11)**2 adds 1e-5 std at the largest training N, 1e-3 std a decade out
    # and about 10 std three decades out, whatever the fitted parameters
    law = parse_law("E + A/N**a + B/D**b + (N/6e11)**2", inputs=task.inputs, outputs=task.outputs)
    directions = {"N": -1, "D": -1}
    far = selection_scores([law], task, seed=0, restarts=4, monotone=directions)[0]
    assert not far.checks.passed
    assert any("rises against its declared direction in N" in r for r in far.checks.reasons)
    validation = task.card.validation.model_copy(update={"monotone_probe": 10.0})
    near = dataclasses.replace(task, card=task.card.model_copy(update={"validation": validation}))
    report = selection_scores([law], near, seed=0, restarts=4, monotone=directions)[0]
    assert report.checks.passed, report.checks.reasons
