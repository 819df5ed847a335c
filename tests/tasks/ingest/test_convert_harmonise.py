"""Conversion and harmonisation, value by value: what senders write → what the warehouse stores."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.countries import countries, resolve_country
from schemas.spec import load_schema
from schemas.values import parse_age_band, parse_period, pop_age_band
from tasks.ingest.convert import parse_field
from tasks.ingest.issues import RowIssues

HELPLINE = load_schema("helplines_services")
SURVEY = load_schema("children_youth")


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
    converted = parse_field(column, HELPLINE.fields["contacts"], issues, ";")["contacts"]
    assert converted.tolist() == [value, value] and not issues.parts


def test_values_that_are_not_counts_are_flagged_with_what_was_sent() -> None:
    issues = RowIssues()
    column = pd.Series(["12", "twelve", "1.5", None, "16,200,000"], dtype="string", index=[2, 3, 4, 5, 6])
    converted = parse_field(column, HELPLINE.fields["contacts"], issues, ";")["contacts"]
    assert converted.tolist() == [12, pd.NA, pd.NA, pd.NA, 16_200_000]
    found = issues.frame()
    assert found[["row", "check", "value"]].values.tolist() == [
        [3, "not_a_whole_number", "twelve"],
        [4, "not_a_whole_number", "1.5"],
    ]


def test_decimal_numbers() -> None:
    issues = RowIssues()
    column = pd.Series(["1.04", "0,9x", "16,200,000.5"], dtype="string")
    converted = parse_field(column, SURVEY.fields["weight"], issues, ";")["weight"]
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
    codes = parse_field(column, HELPLINE.fields["channel"], issues, ";")["channel"]
    assert codes.tolist()[:3] == ["messaging_app", "email", "web_chat"] and pd.isna(codes.iloc[3])
    assert issues.frame()["check"].tolist() == ["unknown_code"]
    assert "phone, sms, web_chat" in issues.frame()["message"].iloc[0]


def test_multi_select_cells_keep_known_codes_and_name_unknown_ones() -> None:
    issues = RowIssues()
    column = pd.Series(["helpline chat;blocked", "search|telepathy", None], dtype="string")
    codes = parse_field(column, SURVEY.fields["help_tools_used"], issues, ";")["help_tools_used"]
    assert codes.tolist() == [["helpline_chat_or_app", "platform_report_or_block"], ["search_engine"], []]
    assert issues.frame()[["row", "value"]].values.tolist() == [[1, "telepathy"]]
