"""Each indicator's sidecar fixture (sql/indicators/<id>.test.yaml), like a dbt unit test: given the rows of its
basis and of any other table its statement reads, the indicator gives exactly the cells expected, generated totals
included, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from sqlalchemy import BigInteger, Boolean, Column, Connection, Float, MetaData, Table, Text
from sqlalchemy.types import TypeEngine

from pop import paths
from pop.db import get_engine
from tasks.snapshot.indicators import indicator_cells, load_indicator, load_indicators

SUFFIX = ".test.yaml"
FIXTURES = sorted(paths.INDICATORS.glob(f"*{SUFFIX}"))
FRACTION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$")  # a value written as a/b


def column_type(values: list[Any]) -> TypeEngine:
    """The SQL type of a given column, from its values (text when all are null)."""
    kinds = {type(v) for v in values if v is not None}
    if bool in kinds:
        return Boolean()
    if float in kinds:
        return Float()
    return BigInteger() if int in kinds else Text()


def given_table(conn: Connection, name: str, rows: list[dict[str, Any]]) -> None:
    """The rows as a temporary table, which stands in for a warehouse table or view of the same name."""
    columns = list(dict.fromkeys(column for row in rows for column in row))
    table = Table(
        name,
        MetaData(),
        *(Column(c, column_type([row.get(c) for row in rows])) for c in columns),
        prefixes=["TEMPORARY"],
    )
    table.create(conn)
    conn.execute(table.insert(), [{c: row.get(c) for c in columns} for row in rows])


def same(actual: Any, expected: Any) -> bool:
    """Whether a cell's value is the one expected (numbers to 1e-9, a fraction 'a/b' as its quotient)."""
    if expected is None or actual is None or (not isinstance(actual, str) and pd.isna(actual)):
        return expected is None and (actual is None or pd.isna(actual))
    if isinstance(expected, str) and (fraction := FRACTION.match(expected)) and not isinstance(actual, str):
        expected = float(fraction[1]) / float(fraction[2])
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return actual == pytest.approx(expected, rel=1e-9, abs=1e-12)
    return actual == expected


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda path: path.name.removesuffix(SUFFIX))
def test_an_indicator_gives_the_cells_its_fixture_expects(fixture: Path, database_url: str) -> None:
    spec = yaml.safe_load(fixture.read_text(encoding="utf-8"))
    assert set(spec) == {"given", "expect"}, f"{fixture.name}: a fixture has 'given' and 'expect'"
    indicator = load_indicator(fixture.with_name(fixture.name.removesuffix(SUFFIX) + ".sql"))
    engine = get_engine(database_url)
    try:
        with engine.connect() as conn:
            for name, rows in spec["given"].items():
                given_table(conn, name, rows)
            cells = indicator_cells(conn, indicator)
    finally:
        engine.dispose()  # the temporary tables go with the connection (SQLite does not roll DDL back)
    dims = list(indicator.dimensions)
    actual = {tuple(row[d] for d in dims): row for row in cells.to_dict(orient="records")}
    expected = {tuple(str(row[d]) for d in dims): row for row in spec["expect"]}
    assert len(expected) == len(spec["expect"]), f"{fixture.name}: a cell is expected twice"
    assert sorted(actual) == sorted(expected)
    for key, row in expected.items():
        wrong = {c: (actual[key][c], v) for c, v in row.items() if c not in dims and not same(actual[key][c], v)}
        assert not wrong, f"cell {key}: (got, expected) {wrong}"


def test_every_indicator_with_margins_has_a_fixture() -> None:
    have = {path.name.removesuffix(SUFFIX) for path in FIXTURES}
    assert {i.id for i in load_indicators() if i.margins} <= have


@pytest.mark.parametrize(
    "actual, expected, result",
    [(0.3, "3/10", True), (0.3, "1/3", False), (1, 1, True), (None, None, True), (float("nan"), 0, False)],
)
def test_a_fixture_value_is_compared_as_written(actual: Any, expected: Any, result: bool) -> None:
    assert same(actual, expected) is result
