import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sld.metrics import metrics_or_reason, nmae, nmse, r2

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


def _pair(draw_rows: int, outputs: int):
    return st.tuples(
        arrays(np.float64, (draw_rows, outputs), elements=finite),
        arrays(np.float64, (draw_rows, outputs), elements=finite),
    )


@st.composite
def prediction_pairs(draw):
    rows = draw(st.integers(2, 30))
    outputs = draw(st.integers(1, 4))
    p, y = draw(_pair(rows, outputs))
    # keep every target column non-constant so the metrics are defined
    y = y + np.arange(rows, dtype=np.float64)[:, None]
    return p, y


@settings(max_examples=200, deadline=None)
@given(prediction_pairs())
def test_metrics_match_plain_numpy_formulas(pair):
    p, y = pair
    per_output_nmse = [
        np.mean((p[:, j] - y[:, j]) ** 2) / np.var(y[:, j]) for j in range(y.shape[1])
    ]
    per_output_nmae = [
        np.mean(np.abs(p[:, j] - y[:, j])) / np.mean(np.abs(y[:, j] - np.mean(y[:, j])))
        for j in range(y.shape[1])
    ]
    assert nmse(p, y) == pytest.approx(np.mean(per_output_nmse), rel=1e-12)
    assert nmae(p, y) == pytest.approx(np.mean(per_output_nmae), rel=1e-12)
    assert r2(p, y) == pytest.approx(1 - np.mean(per_output_nmse), rel=1e-12, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(prediction_pairs())
def test_perfect_prediction_scores_one_and_clip_bounds(pair):
    _, y = pair
    m, reason = metrics_or_reason(y, y)
    assert reason is None and m is not None
    assert m.r2 == 1.0 and m.nmse == 0.0 and m.nmae == 0.0
    bad, _ = metrics_or_reason(y + 1e6, y)
    assert bad is not None and bad.r2 < -1 and bad.r2_clipped == -1.0


def test_predicting_the_mean_gives_zero_r2():
    y = np.array([1.0, 2.0, 3.0, 10.0])
    assert r2(np.full_like(y, y.mean()), y) == pytest.approx(0.0)
    assert nmae(np.full_like(y, y.mean()), y) == pytest.approx(1.0)


def test_one_dimensional_inputs_equal_single_output_column():
    y = np.array([1.0, 4.0, 9.0])
    p = np.array([1.5, 3.0, 9.5])
    assert r2(p, y) == r2(p[:, None], y[:, None])


def test_undefined_metrics_give_reasons_not_exceptions():
    y = np.array([[2.0], [2.0], [2.0]])
    m, reason = metrics_or_reason(np.array([[1.0], [2.0], [3.0]]), y)
    assert m is None and "zero variance" in reason
    m, reason = metrics_or_reason(np.array([np.nan, 1.0]), np.array([1.0, 2.0]))
    assert m is None and "non-finite" in reason


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="shape"):
        r2(np.zeros(3), np.zeros(4))
