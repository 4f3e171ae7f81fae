"""Strict JSON: no NaN or Infinity in anything sld writes for other programs."""

from __future__ import annotations

import json
import math

from sld.strict_json import NON_FINITE_KEY, dumps, finite


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON")


def test_non_finite_numbers_become_null_and_are_listed_with_their_place():
    report = {
        "chosen": {"validation_r2": 0.9, "train_loss": math.inf},
        "bootstrap_95": [math.nan, 0.99],
        "elapsed": -math.inf,
        "name": "nan",
    }
    text = dumps(report)
    back = json.loads(text, parse_constant=_refuse)
    assert back["chosen"] == {"validation_r2": 0.9, "train_loss": None}
    assert back["bootstrap_95"] == [None, 0.99] and back["elapsed"] is None
    assert back["name"] == "nan"  # text is text
    assert back[NON_FINITE_KEY] == {
        "chosen.train_loss": "inf",
        "bootstrap_95.0": "nan",
        "elapsed": "-inf",
    }


def test_finite_data_is_written_unchanged_and_without_the_extra_key():
    data = {"a": [1, 2.5, None, True], "b": {"c": "x"}}
    assert json.loads(dumps(data), parse_constant=_refuse) == data
    assert finite((1.0, math.nan)) == [1.0, None]
