"""Nothing executable leaves: no cell of a CSV or xlsx file the project writes (the steward's export of quarantined
rows, the submission templates, the snapshot's indicator tables) starts like a spreadsheet formula unless it is a
number, whatever the senders or the registry wrote; and a corrected export comes back as the sender wrote it."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from pop import paths
from pop.db import get_engine
from pop.models import QuarantineRow
from pop.registry import Registry, load_registry
from tasks.snapshot.document import IndicatorCoverage, IndicatorTable
from tasks.snapshot.render import indicator_csv
from tasks.steward.actions import export_batch, submit_correction
from tasks.steward.submission_template import write_template
from tests.helpers import HEADER, helpline_source, write_file
from tests.pop.test_files import DANGEROUS, is_number
from tests.tasks.ingest.test_ingest_file import run_ingest

HOSTILE_ROWS = [
    "2023-Q1,Kenya,counselling,chat,grooming,13-15,girl,3",  # row 2 loads
    "2023-Q1,\"=cmd|' /C calc'!A0\",counselling,chat,grooming,13-15,girl,3",  # row 3: not a country
    "2023-Q1,Kenya,counselling,@SUM(A1:A9),grooming,13-15,girl,4",  # row 4: not a channel
    "2023-Q1,Kenya,counselling,chat,+1+cmd|x,13-15,girl,5",  # row 5: not a reason
    "2023-Q1,Kenya,counselling,chat,grooming,-2+3+cmd|x,girl,6",  # row 6: not an age band
    "2023-Q1,Kenya,counselling,chat,bullying,13-15,girl,-4",  # row 7: a negative count, which stays a number
]


def inert(value: Any) -> bool:
    text = "" if value is None else str(value)
    return not text.startswith(DANGEROUS) or is_number(text)


def csv_cells(path: Path, delimiter: str = ",") -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle, delimiter=delimiter) for cell in row]


def workbook_cells(path: Path) -> list[Any]:
    """Every cell value of every sheet; a formula cell fails the test at once."""
    values = []
    for sheet in load_workbook(path).worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{path.name}!{cell.coordinate} is a formula: {cell.value!r}"
                values.append(cell.value)
    return values


def test_the_export_of_hostile_rows_is_inert_and_comes_back_as_sent(tmp_path: Path, database_url: str) -> None:
    source = helpline_source(tmp_path)
    write_file(tmp_path, "q1.csv", "\n".join([HEADER, *HOSTILE_ROWS]) + "\n")
    [batch] = run_ingest(tmp_path, database_url, source)
    assert (batch.rows_loaded, batch.rows_quarantined) == (1, 5)
    registry = Registry(sources=[source])
    exported = export_batch(database_url, registry, batch.batch_id, tmp_path / "fix.csv", "amina")
    cells = csv_cells(exported)
    assert all(inert(cell) for cell in cells), [c for c in cells if not inert(c)]
    assert "'=cmd|' /C calc'!A0" in cells and "'@SUM(A1:A9)" in cells and "-4" in cells

    # sent back unchanged, each row is held again for the value the sender wrote, not for the quote we added
    correction = submit_correction(
        database_url, registry, batch.batch_id, exported, landing_dir=tmp_path / "landing", chunk_rows=100, actor="a"
    ).correction
    with get_engine(database_url).connect() as conn:
        again = conn.execute(
            select(QuarantineRow.reasons_json).where(QuarantineRow.batch_id == correction.batch_id)
        ).scalars()
        values = sorted(json.loads(reasons)[0]["value"] for reasons in again)
    assert values == sorted(["=cmd|' /C calc'!A0", "@SUM(A1:A9)", "+1+cmd|x", "-2+3+cmd|x", "-4"])


def test_the_xlsx_export_holds_no_formula(tmp_path: Path, database_url: str) -> None:
    source = helpline_source(tmp_path, format="xlsx", files="hl/*.xlsx", sheet="Data")
    book = Workbook()
    sheet = book.active
    sheet.title = "Data"
    for line in [HEADER, *HOSTILE_ROWS]:
        sheet.append(next(csv.reader([line])))
    sheet["B3"].data_type = "s"  # the sender's text, not a formula of theirs
    book.save(tmp_path / "inbox" / "hl" / "book.xlsx")
    [batch] = run_ingest(tmp_path, database_url, source)
    assert batch.rows_quarantined == 5
    exported = export_batch(database_url, Registry(sources=[source]), batch.batch_id, tmp_path / "fix.xlsx", "amina")
    values = workbook_cells(exported)
    assert all(inert(value) for value in values) and "'=cmd|' /C calc'!A0" in values


def test_submission_templates_hold_no_formula(tmp_path: Path) -> None:
    hostile = helpline_source(
        tmp_path,
        organisation='=HYPERLINK("http://example.org/x","help")',
        contact="@helpline",
        values={"channel": {"=TEL": "phone"}},
        ignore_columns=["-notes"],
    )
    for source in [*load_registry(paths.SOURCES_FILE).sources, hostile]:
        values = workbook_cells(write_template(source, tmp_path / f"{source.id}.xlsx"))
        assert all(inert(value) for value in values), (source.id, [v for v in values if not inert(v)])


def test_snapshot_tables_are_inert_and_keep_their_numbers() -> None:
    coverage = IndicatorCoverage(sources=(), countries=(), first_period=None, last_period=None, basis_rows=0, detail=())
    table = IndicatorTable(
        id="t",
        metadata={"dimensions": ["platform"], "values": ["change"], "counts": ["cases"], "attributes": []},
        coverage=coverage,
        rows=(
            {"platform": "=cmd|' /C calc'!A0", "change": -0.25, "cases": 12, "flag": None},
            {"platform": "@all", "change": "-5", "cases": "[c]", "flag": "[u]"},
        ),
        hidden_cells=1,
        unstable_cells=1,
    )
    rows = list(csv.reader(indicator_csv(table).splitlines()))
    assert rows[1:] == [["'=cmd|' /C calc'!A0", "-0.25", "12", ""], ["'@all", "-5", "[c]", "[u]"]]
    assert all(inert(cell) for row in rows for cell in row)
