"""Cells we write to CSV and xlsx cannot run as spreadsheet formulas (OWASP CSV injection), whatever text comes in;
numbers and plain text are written as they are."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pop.files import restore_cell, safe_cell

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula


def is_number(text: str) -> bool:
    """Text a spreadsheet reads as a number: what float() reads, written with digits, signs, a point, an exponent."""
    try:
        float(text)
    except ValueError:
        return False
    return set(text) <= set("0123456789+-.eE")


@given(st.text())
def test_no_cell_starts_like_a_formula_unless_it_is_a_number(text: str) -> None:
    cell = safe_cell(text)
    assert not cell.startswith(DANGEROUS) or is_number(cell)
    assert cell in (text, "'" + text)


@given(st.text().filter(lambda text: not text.startswith(DANGEROUS)))
def test_a_plain_value_is_unchanged(text: str) -> None:
    assert safe_cell(text) == text


@given(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
def test_numbers_stay_numbers(number: float) -> None:
    assert safe_cell(number) == number and safe_cell(str(number)) == str(number)


def test_formulas_are_quoted() -> None:
    assert [safe_cell(v) for v in ["=cmd|' /C calc'!A0", "+1+1", "@SUM(A1)", "-2+3", "\t=1", "-"]] == [
        "'=cmd|' /C calc'!A0",
        "'+1+1",
        "'@SUM(A1)",
        "'-2+3",
        "'\t=1",
        "'-",
    ]
    assert [safe_cell(v) for v in ["-5", "-0.25", None, 3]] == ["-5", "-0.25", None, 3]


@given(st.text().filter(lambda text: not text.startswith("'")))
def test_what_comes_back_is_what_the_sender_wrote(text: str) -> None:
    assert restore_cell(safe_cell(text)) == text
