"""Snapshot charts: which cells a chart draws, and an SVG that shows hidden cells by their code, never as a bar."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pop import paths
from tasks.snapshot.charts import bar_chart, chart_rows, format_value, parse_chart
from tasks.snapshot.indicators import load_indicator

SHARE = load_indicator(paths.INDICATORS / "helpline_online_share.sql")
CHOICES = load_indicator(paths.INDICATORS / "youth_choices.sql")


def row(**cells: object) -> dict:
    return {"flag": "", "disclosure": None, **cells}


def test_a_chart_takes_the_totals_of_other_dimensions_and_the_latest_year() -> None:
    rows = [
        row(region="Africa", country_iso3="KEN", year="2022", value=0.2),
        row(region="Africa", country_iso3="KEN", year="2023", value=0.3),
        row(region="Europe", country_iso3="DEU", year="2023", value=0.4),
        row(region="Europe", country_iso3="FRA", year="2023", value="[c]", disclosure="[c]"),
        row(region="Europe", country_iso3="all", year="2023", value=0.35),
    ]
    drawn, fixed = chart_rows(SHARE, rows, parse_chart(SHARE))
    assert [r["country_iso3"] for r in drawn] == ["DEU", "KEN", "FRA"]  # largest first, hidden last
    assert fixed == {"year": "2023"}


def test_for_each_and_where_are_read_from_the_header() -> None:
    spec = parse_chart(CHOICES)
    assert (spec.dimension, spec.each, spec.fixed) == ("answer", "question", {})
    spec = parse_chart(replace(SHARE, chart="bar country_iso3 where year=2022"))
    assert spec.fixed == {"year": "2022"}


@pytest.mark.parametrize("chart", ["pie country_iso3", "bar colour", "bar country_iso3 for each shape"])
def test_a_wrong_chart_line_is_refused(chart: str) -> None:
    with pytest.raises(ValueError, match="chart must be 'bar <dimension>"):
        parse_chart(replace(SHARE, chart=chart, path=Path("x.sql")))


def test_hidden_cells_show_their_code_and_no_bar_and_long_labels_are_shortened() -> None:
    rows = [
        row(country_iso3="KEN", value=0.3),
        row(country_iso3="LONG", value="[c]", disclosure="[c]"),
        row(country_iso3="UGA", value=0.1, flag="[u]"),
    ]
    names = {"KEN": "Kenya", "UGA": "Uganda", "LONG": "A country with a very long name indeed, far too long to fit"}
    svg = bar_chart(SHARE, rows, parse_chart(SHARE), names.get, "c", "caption")
    assert svg.count("<rect") == 2 and "[c] hidden" in svg and "30.0%" in svg and "10.0% [u]" in svg
    assert 'class="bar unstable"' in svg and "far too long to fit" not in svg and "…" in svg
    assert '<title id="c-title">caption</title>' in svg and 'role="img"' in svg


def test_values_read_as_people_write_them() -> None:
    assert format_value(0.3083, "share") == "30.8%"
    assert format_value(-1.087, "percentage_points") == "-1.1 pp"
    assert format_value(2407173, "count") == "2,407,173" and format_value("[c]", "share") == "[c]"
