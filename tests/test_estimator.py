"""LawModel: scikit-learn's estimator contract, and the same per-group fits as sld.score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sld
from sld.errors import ConfigError, SldError

LAW = "E + A/N**alpha"
RESTARTS = 4


def _sweep() -> pd.DataFrame:
    """Two model families, eight sizes each, loss = E + A/N**alpha with 0.5 % noise."""
    rng = np.random.default_rng(7)
    parts = []
    for family, (E, A, alpha) in {"a": (1.8, 400.0, 0.33), "b": (2.1, 250.0, 0.29)}.items():
        N = np.logspace(7, 10, 8)
        loss = (E + A / N**alpha) * (1 + 0.005 * rng.standard_normal(N.size))
        parts.append(pd.DataFrame({"family": family, "N": N, "loss": loss}))
    return pd.concat(parts, ignore_index=True)


def _model(**overrides) -> sld.LawModel:
    return sld.LawModel(LAW, output="loss", group="family", restarts=RESTARTS, **overrides)


def test_cross_val_score_with_group_k_fold_fits_what_sld_score_fits():
    from sklearn.model_selection import GroupKFold, cross_val_score, cross_validate

    frame = _sweep()
    folds = GroupKFold(n_splits=4)  # cross-validation groups: model sizes, so every fold
    by_size = frame["N"]  # holds out whole sizes of both families
    scores = cross_val_score(_model(), frame, groups=by_size, cv=folds)
    result = cross_validate(
        _model(), frame, groups=by_size, cv=folds, return_estimator=True, return_indices=True
    )
    assert np.array_equal(scores, result["test_score"])
    for model, test_rows, fold_score in zip(
        result["estimator"], result["indices"]["test"], scores, strict=True
    ):
        split = np.where(np.isin(np.arange(len(frame)), test_rows), "test", "train")
        task = sld.load_task(
            frame.assign(split=split), inputs=["N"], outputs=["loss"], group="family"
        )
        report = sld.score(LAW, task, split="test", restarts=RESTARTS)
        expected = report.parameters_frame()
        assert list(model.params_.index) == ["a", "b"] == list(expected.index)
        assert model.params_.equals(expected)  # the same rows, restarts and seed: the same fit
        assert fold_score == pytest.approx(report.metrics.r2, rel=1e-12)
    assert np.all(scores > 0.5)


def test_params_are_kept_verbatim_and_clone_round_trips():
    from sklearn.base import clone

    inputs = ["N"]
    model = sld.LawModel(LAW, inputs=inputs, output="loss", restarts=3, loss="huber")
    assert model.get_params()["inputs"] is inputs
    twin = clone(model)
    assert twin.get_params() == model.get_params() and twin is not model
    assert model.set_params(restarts=5) is model and model.restarts == 5
    with pytest.raises(ConfigError, match="no parameter 'alpha'; parameters are: law, inputs"):
        model.set_params(alpha=1)
    assert not hasattr(twin, "params_")


def test_fit_infers_inputs_and_output_and_predicts_per_group_in_row_order():
    frame = _sweep()
    model = sld.LawModel("loss = E + A/N**alpha", group="family", restarts=RESTARTS).fit(frame)
    assert model.inputs_ == ("N",) and model.outputs_ == ("loss",)
    assert model.groups_ == ("a", "b") and list(model.params_.columns) == ["E", "A", "alpha"]
    shuffled = frame.sample(frac=1.0, random_state=1)
    predicted = model.predict(shuffled)
    assert predicted.shape == (len(frame),)
    np.testing.assert_allclose(predicted, shuffled["loss"], rtol=0.02)
    assert model.score(shuffled) == pytest.approx(model.score(frame), rel=1e-12)


def test_fit_takes_y_apart_and_a_task():
    frame = _sweep()
    X, y = frame.drop(columns="loss"), frame["loss"]
    apart = sld.LawModel(LAW, group="family", restarts=RESTARTS).fit(X, y)
    whole = _model().fit(frame)
    assert apart.params_.equals(whole.params_)
    task = sld.load_task("parallel_scaling_law")
    model = sld.LawModel("E + A/(N**alpha * P**beta)", restarts=RESTARTS).fit(task)
    report = sld.score("E + A/(N**alpha * P**beta)", task, split="test", restarts=RESTARTS)
    assert model.params_.equals(report.parameters_frame())
    assert model.score(task.heldout_frame()) == pytest.approx(report.metrics.r2, rel=1e-12)


@pytest.mark.parametrize(
    ("model", "data", "says"),
    [
        (sld.LawModel(LAW, restarts=0), None, "restarts must be a positive integer"),
        (sld.LawModel(LAW, loss="l1"), None, "loss must be one of squared, huber"),
        (sld.LawModel(LAW, group="family"), None, "which column is the output"),
        (sld.LawModel("E + A/M**a", output="loss"), None, "the law names no column"),
        (sld.LawModel(LAW, output="loss", group="team"), None, "missing group column 'team'"),
        (sld.LawModel(LAW, output="loss"), np.ones((3, 2)), "takes a pandas DataFrame"),
    ],
)
def test_bad_configuration_or_data_is_one_line(model, data, says):
    with pytest.raises(SldError, match=says) as info:
        model.fit(_sweep() if data is None else data)
    assert "\n" not in str(info.value)


def test_predicting_a_group_it_was_not_fitted_on_is_refused():
    frame = _sweep()
    model = _model().fit(frame[frame["family"] == "a"])
    with pytest.raises(ConfigError, match="group 'b' was not in the data"):
        model.predict(frame)
    with pytest.raises(ConfigError, match="not fitted yet"):
        _model().predict(frame)
