"""Outsized input kept in bounds: a 5,000-column header, a 5 MB cell, a workbook of 40 sheets, a JSON object of
5,000 keys. Messages summarise long lists; a cell too long to load is quarantined with its reason and stored cut
short with a mark saying how long it was; reports never carry megabytes of one cell. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import select

from pop.db import get_engine
from pop.models import FACT_TABLES, Batch, QuarantineRow
from pop.registry import Source
from tasks.steward.report import write_batch_report
from tests.helpers import HEADER, helpline_source, write_file
from tests.tasks.ingest.test_files_as_they_come import ingest
from tests.tasks.ingest.test_ingest_file import GOOD_ROWS

FIVE_MB = 5 * 2**20
COMMUNITY_COLUMNS = {
    "Submission ID": "submission_id",
    "Organisation": "submitter_org",
    "Organisation type": "org_type",
    "Countries": "countries",
    "Evidence type": "evidence_type",
    "Intervention": "intervention_type",
    "Title": "title",
    "Summary": "summary",
    "Consent": "consent",
}
SUBMISSIONS = FACT_TABLES["fact_protection_submissions"]


def community_source(tmp_path: Path) -> Source:
    return helpline_source(
        tmp_path,
        id="community",
        group="protection_community",
        schema="protection_community",
        columns=COMMUNITY_COLUMNS,
        values={},
    )


def submission(number: int, summary: str, country: str = "Kenya") -> str:
    return f'PC-{number},Youth Voices,child helpline,{country},evaluation,reporting tool,Title {number},"{summary}",yes'


def stored(database_url: str) -> dict[int, tuple[dict, list[dict]]]:
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(select(QuarantineRow.row_number, QuarantineRow.original_json, QuarantineRow.reasons_json))
        return {r.row_number: (json.loads(r.original_json), json.loads(r.reasons_json)) for r in rows}


def test_a_5000_column_header_gives_a_short_message(tmp_path: Path, database_url: str) -> None:
    columns = [f"c{n}" for n in range(5_000)]
    write_file(tmp_path, "wide.csv", ",".join(columns) + "\n" + ",".join("1" for _ in columns) + "\n")
    [batch] = ingest(tmp_path, database_url, helpline_source(tmp_path))
    assert batch.status == "failed" and len(batch.message) < 1_000
    assert "columns found: c0, c1, c2 … c4999 (5,000 in all)" in batch.message


def test_thousands_of_unexpected_columns_are_summarised(tmp_path: Path, database_url: str) -> None:
    extra = [f"c{n}" for n in range(8, 5_000)]
    write_file(tmp_path, "wide.csv", ",".join([HEADER, *extra]) + "\n" + GOOD_ROWS[1] + ",x" * len(extra) + "\n")
    [batch] = ingest(tmp_path, database_url, helpline_source(tmp_path))
    assert batch.status == "failed" and len(batch.message) < 1_000
    assert "unexpected column(s) 'c8', 'c9', 'c10' … 'c4999' (4,992 in all)" in batch.message


def test_a_5_mb_cell_is_quarantined_once_cut_short_and_reported_in_a_line(tmp_path: Path, database_url: str) -> None:
    """A free-text cell of 5 MB (a quote left open, or a pasted document) is held back with its reason; the row as
    sent is stored with the cell's first 1,000 characters and its length; reasons, failures and reports quote
    200 characters at most. The other rows load."""
    huge = "x" * FIVE_MB
    rows = [submission(1, "A short summary."), submission(2, huge), submission(3, "Another summary.")]
    header = ",".join(COMMUNITY_COLUMNS)
    write_file(tmp_path, "round1.csv", "\n".join([header, *rows]) + "\n")
    [batch] = ingest(tmp_path, database_url, community_source(tmp_path))
    assert (batch.status, batch.rows_loaded, batch.rows_quarantined) == ("loaded", 2, 1), batch.message
    [(original, reasons)] = stored(database_url).values()
    mark = f"… [cut by POP: {FIVE_MB:,} characters]"
    assert original["Summary"] == "x" * 1_000 + mark
    assert [(r["field"], r["check"]) for r in reasons] == [("summary", "cell_too_long")]
    assert reasons[0]["value"] == "x" * 200 + mark
    assert "at most 32,767 characters" in reasons[0]["message"]
    [failure] = batch.failures
    assert (failure.column, failure.check, failure.examples) == ("summary", "cell_too_long", ("x" * 200 + mark,))
    with get_engine(database_url).connect() as conn:
        stored_failures = conn.execute(select(Batch.failures_json)).scalar_one()
    assert len(stored_failures) < 5_000
    report = write_batch_report(batch, tmp_path / "reports")
    assert report["json"].stat().st_size < 20_000 and report["html"].stat().st_size < 50_000


def test_a_huge_cell_in_a_coded_field_says_it_is_too_long(tmp_path: Path, database_url: str) -> None:
    """Not 'unknown code' quoting 5 MB: the row is held back once, for its length."""
    huge = "grooming " * (FIVE_MB // 9)
    write_file(tmp_path, "q.csv", "\n".join([HEADER, *GOOD_ROWS[:2], f'2023-Q1,Kenya,all,all,"{huge}",13-15,girl,1']))
    [batch] = ingest(tmp_path, database_url, helpline_source(tmp_path))
    assert (batch.rows_loaded, batch.rows_quarantined) == (2, 1)
    [(original, reasons)] = stored(database_url).values()
    assert [(r["field"], r["check"]) for r in reasons] == [("reason", "cell_too_long")]
    assert len(original["Reason"]) < 1_100


def test_long_text_that_fits_loads_whole_and_is_kept_whole_in_quarantine(tmp_path: Path, database_url: str) -> None:
    """20,000 characters is a long summary, not a broken file: it loads; in a row held back for another reason it
    is kept whole, so that the exported row comes back with it."""
    long = "Evidence. " * 2_000
    rows = [submission(1, long), submission(2, long, country="Narnia")]
    write_file(tmp_path, "round1.csv", "\n".join([",".join(COMMUNITY_COLUMNS), *rows]) + "\n")
    [batch] = ingest(tmp_path, database_url, community_source(tmp_path))
    assert (batch.rows_loaded, batch.rows_quarantined) == (1, 1)
    with get_engine(database_url).connect() as conn:
        assert conn.execute(select(SUBMISSIONS.c.summary)).scalar_one() == long.strip()
    [(original, reasons)] = stored(database_url).values()
    assert original["Summary"] == long and [r["field"] for r in reasons] == ["countries"]


def test_a_workbook_of_many_sheets_is_summarised(tmp_path: Path, database_url: str) -> None:
    book = Workbook()
    book.remove(book.active)
    for n in range(40):
        book.create_sheet(f"Notes {n}").append([f"note {n}"])
    (tmp_path / "inbox" / "hl").mkdir(parents=True, exist_ok=True)
    book.save(tmp_path / "inbox" / "hl" / "a.xlsx")
    [batch] = ingest(tmp_path, database_url, helpline_source(tmp_path, format="xlsx", files="hl/*.xlsx", sheet="Data"))
    assert batch.status == "failed" and len(batch.message) < 1_000
    assert "(sheets found: Notes 0, Notes 1, Notes 2 … Notes 39 (40 in all))" in batch.message


def test_a_json_object_of_many_keys_is_summarised(tmp_path: Path, database_url: str) -> None:
    write_file(tmp_path, "a.json", json.dumps({f"k{n}": n for n in range(5_000)}))
    source = helpline_source(tmp_path, format="json", files="hl/*.json", records_path="records")
    [batch] = ingest(tmp_path, database_url, source)
    assert batch.status == "failed" and len(batch.message) < 1_000
    assert "found dict with keys 'k0', 'k1', 'k2' … 'k4999' (5,000 in all)" in batch.message
