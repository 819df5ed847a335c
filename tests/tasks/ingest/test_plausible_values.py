"""Values that parse but cannot be true are quarantined with a reason the sender understands: a period that has not
begun by the as-of date, an age no child or young person has. Numbers are read in the source's own locale. On
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from pop.db import get_engine
from pop.models import QuarantineRow
from pop.registry import load_registry
from pop.settings import reset_settings
from tests.helpers import HELPLINE_COLUMNS, helpline_source, write_file
from tests.tasks.ingest.test_ingest_file import run_ingest

AS_OF = dt.date(2024, 3, 1)
TECH_COLUMNS = {
    "Company": "company",
    "Service": "product",
    "Reported by": "reporter",
    "Metric": "metric",
    "Unit": "unit",
    "Value": "value",
    "Period": "period",
}


@pytest.fixture
def as_of(monkeypatch: pytest.MonkeyPatch) -> Iterator[dt.date]:
    """POP_AS_OF set to AS_OF while the test runs."""
    monkeypatch.setenv("POP_AS_OF", AS_OF.isoformat())
    reset_settings()
    yield AS_OF
    reset_settings()


def quarantined(database_url: str) -> dict[int, list[tuple[str, str, str]]]:
    """Row number → its reasons: (field, check, value sent)."""
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(select(QuarantineRow.row_number, QuarantineRow.reasons_json)).all()
    return {r.row_number: [(i["field"], i["check"], i["value"]) for i in json.loads(r.reasons_json)] for r in rows}


def test_future_periods_and_impossible_ages_are_quarantined(tmp_path: Path, database_url: str, as_of: dt.date) -> None:
    source = helpline_source(tmp_path, delimiter=";", decimal=",")
    rows = [
        "2024-Q1;Kenya;counselling;TEL;bullying;13-15;girl;1.234",  # row 2: under way on the as-of date; 1234
        "2023-Q4;Kenya;counselling;TEL;bullying;18-25;girl;12,0",  # row 3: the helpline's adult band; 12
        "2023-Q4;Kenya;counselling;TEL;bullying;25+;girl;7",  # row 4: adult callers
        "2031;Kenya;counselling;TEL;bullying;13-15;girl;5",  # row 5: has not begun
        "2023-Q4;Kenya;counselling;TEL;bullying;99-120;boy;5",  # row 6: no child is 99
        "2023-Q4;Kenya;counselling;TEL;bullying;67;boy;5",  # row 7: nor 67
        "2023-Q4;Kenya;counselling;TEL;bullying;13-15;boy;2,5",  # row 8: half a contact
    ]
    write_file(tmp_path, "q.csv", "\n".join([";".join(HELPLINE_COLUMNS), *rows]) + "\n")
    [batch] = run_ingest(tmp_path, database_url, source)
    assert (batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == (7, 3, 4)
    with get_engine(database_url).connect() as conn:
        loaded = conn.execute(
            text(
                "SELECT f.row_number, f.period, f.age_band, a.pop_age_band, f.contacts FROM fact_helpline_contacts f "
                "JOIN dim_source_age_band a ON a.age_band = f.age_band ORDER BY f.row_number"
            )
        ).all()
        periods = {r.period for r in conn.execute(text("SELECT period FROM dim_period"))}
    assert [tuple(r) for r in loaded] == [
        (2, "2024-Q1", "13-15", "13-15", 1234),
        (3, "2023-Q4", "18-25", "mixed", 12),
        (4, "2023-Q4", "25+", "25+", 7),
    ]
    assert "2031" not in periods
    assert quarantined(database_url) == {
        5: [("period", "future_period", "2031")],
        6: [("age_band", "implausible_age", "99-120")],
        7: [("age_band", "implausible_age", "67")],
        8: [("contacts", "not_a_whole_number", "2,5")],
    }
    hints = {(f.column, f.check): f.hint for f in batch.failures}
    assert "had not begun by 2024-03-01" in hints[("period", "future_period")]
    assert "POP counts them up to 24" in hints[("age_band", "implausible_age")]
    assert "e.g. 1200 or 1.200" in hints[("contacts", "not_a_whole_number")]


def test_decimal_comma_numbers_load_as_the_sender_meant(tmp_path: Path, database_url: str, as_of: dt.date) -> None:
    entry = {
        "id": "tech_de",
        "group": "tech_companies",
        "schema": "tech_companies",
        "organisation": "Test compilers",
        "format": "csv",
        "delimiter": ";",
        "decimal": ",",
        "files": "tech/*.csv",
        "columns": TECH_COLUMNS,
        "licence": "CC-BY-4.0",
        "contact": "data@example.org",
        "update_frequency": "quarterly",
    }
    registry = tmp_path / "sources.yaml"
    registry.write_text(json.dumps({"sources": [entry]}), encoding="utf-8")
    source = load_registry(registry).sources[0]
    rows = [
        "Meta;Instagram;company;content_actioned;count;16.200.000;2023-Q4",
        "Meta;Instagram;company;proactive_rate;percent;98,5;2023-Q4",
        "Meta;Instagram;company;appeals;fraction;0,75;2023-Q4",
        "Meta;Instagram;company;restored;count;1.234,5;2023-Q4",
    ]
    write_file(tmp_path, "t.csv", "\n".join([";".join(TECH_COLUMNS), *rows]) + "\n", folder="tech")
    [batch] = run_ingest(tmp_path, database_url, source)
    assert (batch.rows_loaded, batch.rows_quarantined) == (4, 0)
    with get_engine(database_url).connect() as conn:
        values = dict(conn.execute(text("SELECT metric, value FROM fact_tech_metrics")).all())
    assert values == {"content_actioned": 16_200_000, "proactive_rate": 98.5, "appeals": 0.75, "restored": 1234.5}
