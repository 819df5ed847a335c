"""Indicator files: the metadata header, the basis and the indicator statement."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.spec import GROUPS
from tasks.snapshot.indicators import IndicatorError, cells_of, load_indicator, load_indicators

GOOD = """-- id: demo_share
-- title: A share
-- description: What it measures,
--   over two lines.
-- unit: share
-- numerator: a
-- denominator: b
-- dimensions: country_iso3, year
-- margins: country_iso3
-- values: value
-- counts: cases, base
-- sums: cases, base
-- computed: value = cases / base
-- groups: helplines_services
-- caveats: None.
SELECT source_id, country_iso3, period FROM approved_fact_helpline_contacts;

WITH x AS (SELECT 1 AS one)
SELECT country_iso3 FROM basis, x
"""


def write(tmp_path: Path, text: str, name: str = "demo_share.sql") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_gives_its_metadata_and_two_statements(tmp_path: Path) -> None:
    ind = load_indicator(write(tmp_path, GOOD))
    assert ind.description == "What it measures, over two lines."
    assert ind.dimensions == ("country_iso3", "year") and ind.margins == ("country_iso3",)
    assert ind.counts == ("cases", "base") and ind.columns == ("country_iso3", "year", "value", "cases", "base")
    # each count the statement returns comes with its cell key, summed along the margins like the count
    assert ind.keyed == ("cases", "base") and ind.keys == ("cases_key", "base_key") == ind.kept
    assert ind.basis_sql.startswith("SELECT source_id") and ind.indicator_sql.startswith("WITH x AS")
    assert ind.metadata()["stakeholder_groups"] == ["helplines_services"]
    assert ind.totals is not None and ind.totals.targets == ("value",)
    assert ind.totals.sums == ("cases", "base", "cases_key", "base_key")
    assert ind.returned == ("country_iso3", "year", "cases", "base", "cases_key", "base_key")
    assert "sums" not in ind.metadata() and "computed" not in ind.metadata()  # how totals are made is not published


@pytest.mark.parametrize(
    "change, message",
    [
        (("-- unit: share\n", ""), "the header lacks unit"),
        (("-- unit: share", "-- unit: furlongs"), "unit 'furlongs' is not one of"),
        (("-- groups: helplines_services", "-- groups: parents"), "unknown stakeholder group"),
        (("-- margins: country_iso3", "-- margins: region"), "margins region not among the dimensions"),
        (("-- counts: cases, base", "-- counts: none"), "must say under 'disclosure' why"),
        (("FROM approved_fact_helpline_contacts;", "FROM approved_fact_helpline_contacts"), "expected two statements"),
        (("-- sums: cases, base\n", ""), "must name under 'sums' the columns that add up"),
        (("-- margins: country_iso3\n", ""), "sums without margins"),
        (("-- computed: value = cases / base", "-- computed: share = cases / base"), "value must be summed"),
        (("value = cases / base", "value = cases / total"), "reads unknown column\\(s\\) total"),
        (("value = cases / base", "value = cases per base"), "must read 'column = a' or 'column = a / b'"),
        (("-- sums: cases, base", "-- sums: cases, base\n-- one_way: year"), "one_way year not among the margins"),
    ],
)
def test_a_wrong_file_is_refused_with_what_to_fix(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(IndicatorError, match=message):
        load_indicator(write(tmp_path, GOOD.replace(*change)))


def test_the_statement_returns_inner_cells_and_the_totals_are_generated(tmp_path: Path) -> None:
    ind = load_indicator(write(tmp_path, GOOD))
    keys = {"cases_key": 7, "base_key": 30}
    rows = [
        {"country_iso3": "KEN", "year": "2023", "cases": 1, "base": 4} | keys,
        {"country_iso3": "UGA", "year": "2023", "cases": 2, "base": 4, "cases_key": 300, "base_key": 500},
    ]
    cells = cells_of(ind, rows)
    assert list(cells.columns) == [*ind.columns, *ind.kept]
    first = {"country_iso3": "KEN", "year": "2023", "value": 0.25, "cases": 1, "base": 4}
    assert cells.iloc[0].to_dict() == first | keys
    total = {"country_iso3": "all", "year": "2023", "value": 3 / 8, "cases": 3, "base": 8}
    assert cells.iloc[-1].to_dict() == total | {"cases_key": 307, "base_key": 530}
    with pytest.raises(IndicatorError, match=r"demo_share\.sql: the query returns total rows"):
        cells_of(ind, [*rows, {"country_iso3": "all", "year": "2023", "cases": 3, "base": 8} | keys])
    with pytest.raises(IndicatorError, match="does not return the column\\(s\\) base, base_key its header declares"):
        cells_of(ind, [{"country_iso3": "KEN", "year": "2023", "cases": 1, "cases_key": 1}])
    assert cells_of(ind, []).empty


def test_the_id_must_be_the_file_name(tmp_path: Path) -> None:
    with pytest.raises(IndicatorError, match="must equal the file name 'other'"):
        load_indicator(write(tmp_path, GOOD, "other.sql"))


def test_the_project_indicators_cover_every_group_and_declare_their_disclosure() -> None:
    indicators = load_indicators()
    assert {g for i in indicators for g in i.groups} == set(GROUPS)
    assert any(len(i.groups) >= 3 for i in indicators), "a triangulation indicator draws on several groups"
    for ind in indicators:
        assert ind.counts or ind.disclosure, ind.id
        assert "children_youth" not in ind.groups or ind.counts, f"{ind.id}: survey counts must be protected"
        assert set(ind.margins) <= set(ind.dimensions)


def test_an_indicator_can_share_the_basis_of_another(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    shared = GOOD.replace("-- id: demo_share", "-- id: demo_trend").replace(
        "-- caveats: None.", "-- caveats: None.\n-- basis: demo_share"
    )
    shared = shared[: shared.index("SELECT source_id")] + "SELECT country_iso3 FROM basis\n"
    ind = load_indicator(write(tmp_path, shared, "demo_trend.sql"))
    assert ind.basis_sql == load_indicator(tmp_path / "demo_share.sql").basis_sql
    assert ind.indicator_sql == "SELECT country_iso3 FROM basis"
    with pytest.raises(IndicatorError, match="basis 'nowhere' must name another indicator file"):
        load_indicator(write(tmp_path, shared.replace("basis: demo_share", "basis: nowhere"), "demo_trend.sql"))
    with pytest.raises(IndicatorError, match="expected one statement"):
        load_indicator(write(tmp_path, shared + ";\nSELECT 1", "demo_trend.sql"))
