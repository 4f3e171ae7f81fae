"""What one cell of a data file holds: numbers round-trip, suffixes multiply, empty is Missing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sld.corpus.cells import (
    MISSING_WORDS,
    SUFFIXES,
    Missing,
    expand_suffixes,
    is_suffixed,
    read_cell,
)
from sld.errors import TaskError

WHERE = "sweep.csv line 3, column 'N'"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_written_with_repr_reads_back_exactly(value):
    assert read_cell(repr(value), where=WHERE) == value


@given(
    st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
    st.sampled_from(sorted(SUFFIXES)),
    st.booleans(),
)
def test_a_suffix_multiplies_the_number_in_either_case(number, letter, upper):
    text = f"{number}{letter.upper() if upper else letter}"
    assert is_suffixed(text)
    assert read_cell(text, where=WHERE) == pytest.approx(float(number) * SUFFIXES[letter])


@pytest.mark.parametrize(
    ("text", "value"),
    [("70M", 7e7), ("1.4B", 1.4e9), ("300G", 3e11), ("2T", 2e12), ("500k", 5e5), (" 6.9b ", 6.9e9)],
)
def test_sizes_as_model_names_write_them(text, value):
    assert read_cell(text, where=WHERE) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "  ", *sorted(MISSING_WORDS), "NaN", "NULL"])
def test_nothing_in_a_cell_is_missing_not_an_error(text):
    cell = read_cell(text, where=WHERE)
    assert isinstance(cell, Missing) and cell.text == text.strip()


@pytest.mark.parametrize(
    "text", ["lots", "70X", "1.5 MB", "M", "1,5", "0x10", "1e9e9", "__import__"]
)
def test_anything_else_is_a_one_line_error_naming_the_cell(text):
    with pytest.raises(TaskError, match=rf"^{WHERE}: .* is not a number; write e.g. 1.5e9") as info:
        read_cell(text, where=WHERE)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text", ["inf", "-Infinity", "1e999"])
def test_an_infinite_value_is_refused(text):
    with pytest.raises(TaskError, match="infinite value"):
        read_cell(text, where=WHERE)


def test_a_plain_number_is_not_suffixed():
    assert not is_suffixed("1.5e9") and read_cell("1.5e9", where=WHERE) == 1.5e9


@given(st.integers(min_value=1, max_value=99999), st.integers(0, 4), st.sampled_from("kMBT"))
def test_a_suffix_reads_as_the_float_of_its_e_notation(digits, point, letter):
    number = f"{digits / 10**point:.{point}f}"
    exponent = {"k": "e3", "M": "e6", "B": "e9", "T": "e12"}[letter]
    assert read_cell(number + letter, where=WHERE) == float(number + exponent)


def test_expand_suffixes_leaves_names_and_quotes_alone():
    text = "x1B > 3 and N < 70M and name == '7B' and D >= 1.5T"
    assert expand_suffixes(text) == (
        "x1B > 3 and N < 70000000.0 and name == '7B' and D >= 1500000000000.0"
    )


def test_a_long_cell_is_cut_in_the_message():
    with pytest.raises(TaskError) as info:
        read_cell("x" * 100_000, where=WHERE)
    assert len(str(info.value)) < 200 and "xxx…'" in str(info.value)
