"""Conversion and harmonisation, value by value: what senders write → what the warehouse stores."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.countries import countries, resolve_country
from schemas.kinds import ParseOptions
from schemas.spec import load_schema
from schemas.values import parse_age_band, parse_number, parse_period, plausible_age_band, pop_age_band
from tasks.ingest.convert import parse_field
from tasks.ingest.issues import RowIssues

HELPLINE = load_schema("helplines_services")
SURVEY = load_schema("children_youth")
OPTIONS = ParseOptions(as_of=dt.date(2024, 3, 1))  # a fixed day, so that what is "in the future" does not move
DECIMAL_COMMA = ParseOptions(as_of=OPTIONS.as_of, decimal=",")


@pytest.mark.parametrize(
    ("text", "start", "end", "granularity"),
    [
        ("2023", "2023-01-01", "2023-12-31", "year"),
        ("2023-Q2", "2023-04-01", "2023-06-30", "quarter"),
        ("Q4 2023", "2023-10-01", "2023-12-31", "quarter"),
        ("2023-H2", "2023-07-01", "2023-12-31", "half"),
        ("2024-02", "2024-02-01", "2024-02-29", "month"),
    ],
)
def test_periods_senders_write(text: str, start: str, end: str, granularity: str) -> None:
    assert parse_period(text) == (pd.Timestamp(start), pd.Timestamp(end), granularity)


@pytest.mark.parametrize("text", ["2023-Q5", "2023-13", "Spring 2023", "23", "1850"])
def test_periods_that_are_not(text: str) -> None:
    assert parse_period(text) is None


@given(st.integers(min_value=1990, max_value=2100), st.integers(min_value=1, max_value=12))
def test_every_month_is_one_calendar_month(year: int, month: int) -> None:
    start, end, granularity = parse_period(f"{year}-{month:02d}")
    assert (start.day, start.month, granularity) == (1, month, "month")
    assert (end + pd.Timedelta(days=1)).day == 1 and end.month == month


@given(st.integers(min_value=0, max_value=10**12))
def test_counts_with_thousands_separators_round_trip(value: int) -> None:
    issues = RowIssues()
    column = pd.Series([f"{value:,}", str(value)], dtype="string")
    converted = parse_field(column, HELPLINE.fields["contacts"], issues, OPTIONS)["contacts"]
    assert converted.tolist() == [value, value] and not issues.parts


def test_values_that_are_not_counts_are_flagged_with_what_was_sent() -> None:
    issues = RowIssues()
    column = pd.Series(["12", "twelve", "1.5", None, "16,200,000"], dtype="string", index=[2, 3, 4, 5, 6])
    converted = parse_field(column, HELPLINE.fields["contacts"], issues, OPTIONS)["contacts"]
    assert converted.tolist() == [12, pd.NA, pd.NA, pd.NA, 16_200_000]
    found = issues.frame()
    assert found[["row", "check", "value"]].values.tolist() == [
        [3, "not_a_whole_number", "twelve"],
        [4, "not_a_whole_number", "1.5"],
    ]


def test_decimal_numbers() -> None:
    issues = RowIssues()
    column = pd.Series(["1.04", "0,9x", "16,200,000.5"], dtype="string")
    converted = parse_field(column, SURVEY.fields["weight"], issues, OPTIONS)["weight"]
    assert converted.tolist()[0] == 1.04 and converted.tolist()[2] == 16_200_000.5
    assert issues.frame()["value"].tolist() == ["0,9x"]


@pytest.mark.parametrize(
    ("name", "iso3"),
    [
        ("Kenya", "KEN"),
        ("KEN", "KEN"),
        ("Viet Nam", "VNM"),
        ("Côte d'Ivoire", "CIV"),
        ("Brasil", "BRA"),
        ("United Republic of Tanzania", "TZA"),
        ("UK", "GBR"),
        ("Global", "WLD"),
        ("Philippines", "PHL"),
        ("Türkiye", "TUR"),
        ("Perú", "PER"),
        ("NA", "NAM"),
    ],
)
def test_country_names_senders_use(name: str, iso3: str) -> None:
    assert resolve_country(name) == iso3


def test_unknown_country_and_regions() -> None:
    assert resolve_country("Narnia") is None
    assert (countries()["KEN"].region, countries()["KEN"].sub_region, countries()["KEN"].m49_code) == (
        "Africa",
        "Eastern Africa",
        "404",
    )
    assert countries()["BRA"].region == "Americas"


@pytest.mark.parametrize(
    ("band", "low", "high", "pop"),
    [
        ("13-15", 13, 15, "13-15"),
        ("0-6", 0, 6, "0-9"),
        ("7-9", 7, 9, "0-9"),
        ("18-25", 18, 25, "mixed"),
        ("25+", 25, None, "25+"),
        ("16", 16, 16, "16-17"),
        ("unknown", None, None, "unknown"),
        ("10 to 12", 10, 12, "10-12"),
    ],
)
def test_age_bands(band: str, low: int | None, high: int | None, pop: str) -> None:
    assert parse_age_band(band) == (low, high)
    assert pop_age_band(low, high) == pop


@pytest.mark.parametrize("band", ["15-13", "abc", "200", "-3"])
def test_not_age_bands(band: str) -> None:
    assert parse_age_band(band) is None


def test_vocabulary_synonyms_and_unknown_codes() -> None:
    issues = RowIssues()
    column = pd.Series(["WhatsApp", "e-mail", "Web chat", "pigeon"], dtype="string")
    codes = parse_field(column, HELPLINE.fields["channel"], issues, OPTIONS)["channel"]
    assert codes.tolist()[:3] == ["messaging_app", "email", "web_chat"] and pd.isna(codes.iloc[3])
    assert issues.frame()["check"].tolist() == ["unknown_code"]
    assert "phone, sms, web_chat" in issues.frame()["message"].iloc[0]


def test_multi_select_cells_keep_known_codes_and_name_unknown_ones() -> None:
    issues = RowIssues()
    column = pd.Series(["helpline chat;blocked", "search|telepathy", None], dtype="string")
    codes = parse_field(column, SURVEY.fields["help_tools_used"], issues, OPTIONS)["help_tools_used"]
    assert codes.tolist() == [["helpline_chat_or_app", "platform_report_or_block"], ["search_engine"], []]
    assert issues.frame()[["row", "value"]].values.tolist() == [[1, "telepathy"]]


@pytest.mark.parametrize(
    ("text", "number"),
    [("1.234,5", 1234.5), ("0,75", 0.75), ("1.200", 1200), ("16 200 000", 16_200_000), ("-0,25", -0.25), ("7", 7)],
)
def test_numbers_with_a_decimal_comma(text: str, number: float) -> None:
    assert parse_number(text, decimal=",") == number


@pytest.mark.parametrize("text", ["1.5", "1234.5", "1,2,3", "1.23,4", "0,7x"])
def test_numbers_a_decimal_comma_source_cannot_have_meant(text: str) -> None:
    """A point that cannot group thousands, where the decimal mark is a comma: which number was meant?"""
    assert parse_number(text, decimal=",") is None


def test_the_default_decimal_mark_is_a_point() -> None:
    assert (parse_number("1,200"), parse_number("0.75"), parse_number("0,75")) == (1200, 0.75, None)


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=0, max_value=99))
def test_decimal_comma_numbers_round_trip(whole: int, cents: int) -> None:
    """Any number written with points between thousands and a decimal comma reads as the same number."""
    sign = "-" if whole < 0 else ""
    grouped = f"{abs(whole):,}".replace(",", ".")
    assert parse_number(f"{sign}{grouped},{cents:02d}", decimal=",") == float(f"{sign}{abs(whole)}.{cents:02d}")


def test_decimal_comma_fields_and_their_hint() -> None:
    issues = RowIssues()
    column = pd.Series(["1,04", "0.9", "16.200.000,5"], dtype="string")
    converted = parse_field(column, SURVEY.fields["weight"], issues, DECIMAL_COMMA)["weight"]
    assert converted.tolist()[0] == 1.04 and converted.tolist()[2] == 16_200_000.5
    found = issues.frame()
    assert found[["check", "value"]].values.tolist() == [["not_a_number", "0.9"]]
    assert "e.g. 1200, 1.200 or 0,75" in found["message"].iloc[0]
    counts = parse_field(pd.Series(["1.234", "12,0"]), HELPLINE.fields["contacts"], RowIssues(), DECIMAL_COMMA)
    assert counts["contacts"].tolist() == [1234, 12]


def test_periods_that_have_not_begun_are_in_the_future() -> None:
    """On 2024-03-01, 2024-Q1 is under way (its figures so far load); 2024-Q2 and 2031 have not begun."""
    issues = RowIssues()
    column = pd.Series(["2023-Q4", "2024-Q1", "2024-Q2", "2031", "2023-Q9"], dtype="string")
    periods = parse_field(column, HELPLINE.fields["period"], issues, OPTIONS)["period"]
    assert periods.tolist()[:2] == ["2023-Q4", "2024-Q1"] and periods.iloc[2:].isna().all()
    found = issues.frame()
    assert found[["row", "check", "value"]].values.tolist() == [
        [2, "future_period", "2024-Q2"],
        [3, "future_period", "2031"],
        [4, "bad_period", "2023-Q9"],
    ]
    assert "had not begun by 2024-03-01" in found["message"].iloc[0]


@pytest.mark.parametrize(
    ("low", "plausible"), [(None, True), (0, True), (18, True), (25, True), (26, False), (67, False), (99, False)]
)
def test_an_age_band_must_start_at_an_age_pop_counts(low: int | None, plausible: bool) -> None:
    assert plausible_age_band(low) is plausible


def test_impossible_ages_are_quarantined_and_adult_callers_load() -> None:
    issues = RowIssues()
    column = pd.Series(["13-15", "18-25", "25+", "99-120", "67", "over 80", "abc"], dtype="string")
    bands = parse_field(column, HELPLINE.fields["age_band"], issues, OPTIONS)
    assert bands["pop_age_band"].tolist()[:3] == ["13-15", "mixed", "25+"] and bands.iloc[3:, 0].isna().all()
    found = issues.frame()
    assert found[["row", "check", "value"]].values.tolist() == [
        [3, "implausible_age", "99-120"],
        [4, "implausible_age", "67"],
        [5, "implausible_age", "over 80"],
        [6, "bad_age_band", "abc"],
    ]
    assert "POP counts them up to 24" in found["message"].iloc[0] and "25+" in found["message"].iloc[0]


def test_multi_select_cells_split_at_the_source_delimiter() -> None:
    options = ParseOptions(as_of=OPTIONS.as_of, delimiter="/")
    column = pd.Series(["helpline chat/blocked"], dtype="string")
    codes = parse_field(column, SURVEY.fields["help_tools_used"], RowIssues(), options)["help_tools_used"]
    assert codes.tolist() == [["helpline_chat_or_app", "platform_report_or_block"]]
