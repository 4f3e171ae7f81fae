"""The row-selection rule grammar: what it accepts, what it rejects, how it evaluates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sld.corpus.rules import MAX_RULE_CHARS, parse_rule
from sld.errors import TaskError

NAMES = ("N", "P", "group")
COLUMNS = {
    "N": np.array([1e8, 5e8, 1e9, 2e9]),
    "P": np.array([1.0, 2.0, 4.0, 8.0]),
    "group": np.array(["a", "b", "a", "b"]),
}


def _select(text: str) -> list[bool]:
    return parse_rule(text, names=NAMES).evaluate(COLUMNS, n_rows=4).tolist()


def test_comparison_with_scientific_literal():
    assert _select("N >= 1e9") == [False, False, True, True]


def test_sizes_written_with_a_suffix_read_as_numbers_outside_quotes():
    assert _select("N >= 1B") == _select("N >= 1e9")
    assert _select("500M < N < 1.5b") == [False, False, True, False]
    assert _select('group == "1B" or N == 2B') == [False, False, False, True]
    rule = parse_rule("N >= 1.4B", names=NAMES)
    assert rule.text == "N >= 1.4B"  # messages quote the rule as written


def test_a_name_ending_in_a_digit_and_a_letter_is_still_a_name():
    with pytest.raises(TaskError, match="unknown name 'x1B'"):
        parse_rule("x1B > 3", names=NAMES)


def test_chained_comparison_means_both_sides():
    assert _select("2 <= P < 8") == [False, True, True, False]


def test_and_or_not_and_parentheses():
    assert _select('(group == "a" and N > 1e8) or not P < 8') == [False, False, True, True]


def test_products_and_quotients_select_by_compute_or_ratio():
    assert _select("6*N*P >= 2.4e10") == [False, False, True, True]
    assert _select("P/N > 5e-9") == [True, False, False, False]
    rule = parse_rule("6 * N * P >= 2.4e10", names=NAMES)
    assert rule.compared_product() == ("N", "P")
    assert parse_rule("N >= 1e9", names=NAMES).compared_product() is None
    assert parse_rule("N*P > 1 and N > 1", names=NAMES).compared_product() is None
    with pytest.raises(TaskError, match="multiplies or divides text"):
        _select("group * N > 1")


def test_rule_names_the_columns_it_compares_with_text():
    assert parse_rule('group == "a" and N > 1', names=NAMES).text_names() == {"group"}
    assert parse_rule("'a' != group or 1 < P < 3", names=NAMES).text_names() == {"group"}
    assert parse_rule("N > 1", names=NAMES).text_names() == set()


def test_string_literal_selects_group():
    assert _select("group != 'b'") == [True, False, True, False]


def test_negative_literal_is_a_number():
    assert _select("P > -1") == [True] * 4


def test_rule_reports_names_it_reads():
    assert parse_rule("N > 1 and P < 3", names=NAMES).names == {"N", "P"}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("log(N) > 1", "function call"),
        ("N.real > 1", "attribute access"),
        ("N[0] > 1", "subscript"),
        ("N + 2 > 1", "arithmetic"),
        ("N ** 2 > 1", "arithmetic"),
        ("__import__('os')", "function call"),
        ("lambda: N", "Lambda"),
        ("[N][0] > 1", "subscript"),
        ("N if P else P", "IfExp"),
        ("N in (1, 2)", "Compare"),
        ("True", "Constant"),
        ("-N > 1", "UnaryOp"),
    ],
)
def test_rejects_constructs_outside_the_grammar(text, kind):
    with pytest.raises(TaskError, match="not allowed"):
        parse_rule(text, names=NAMES)


def test_unknown_name_is_named_with_the_valid_ones():
    with pytest.raises(TaskError, match=r"unknown name 'D'.*valid names are: N, P, group"):
        parse_rule("D > 1", names=NAMES)


def test_syntax_error_is_one_line_task_error():
    with pytest.raises(TaskError, match="syntax error") as info:
        parse_rule("N >= ", names=NAMES)
    assert "\n" not in str(info.value)


def test_empty_rule_is_rejected():
    with pytest.raises(TaskError, match="empty"):
        parse_rule("   ", names=NAMES)


def test_overlong_rule_is_rejected():
    with pytest.raises(TaskError, match="characters"):
        parse_rule("N > 1 or " * (MAX_RULE_CHARS // 8) + "N > 1", names=NAMES)


def test_overdeep_rule_is_rejected():
    with pytest.raises(TaskError, match="nests deeper"):
        parse_rule("not " * 40 + "N > 1", names=NAMES)


def test_bare_name_is_not_a_condition():
    with pytest.raises(TaskError, match="not a condition"):
        _select("N")


def test_comparing_text_with_number_is_rejected():
    with pytest.raises(TaskError, match="compares text with a number"):
        _select("group > 1")


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_threshold_rule_matches_numpy(threshold):
    text = f"N >= {threshold!r}"
    assert _select(text) == (COLUMNS["N"] >= threshold).tolist()
