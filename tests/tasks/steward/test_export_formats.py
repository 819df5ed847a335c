"""The export of quarantined rows goes back in the format of the batch's own file (its encoding and delimiter too),
so a source that takes several formats returns to each sender what they sent; a cell POP cut short cannot come
back as data. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from openpyxl import load_workbook

from pop.registry import Registry, Source
from tasks.steward.actions import export_batch, submit_correction
from tests.helpers import write_file
from tests.tasks.ingest.test_files_as_they_come import TABLE, as_cells, delimited, ingest, records, source_for, workbook
from tests.tasks.ingest.test_outsized_input import COMMUNITY_COLUMNS, community_source, submission

NARNIA = [*TABLE[1][:1], "Narnia", *TABLE[1][2:]]


def export_and_correct(tmp_path: Path, url: str, source: Source, batch_id: int, fixed: Path | None = None):
    """Export the batch's rows (asked for as .csv), then send back `fixed`, or the export unchanged."""
    registry = Registry(sources=[source])
    exported = export_batch(url, registry, batch_id, tmp_path / "out" / f"batch-{batch_id}.csv", "amina")
    outcome = submit_correction(
        url, registry, batch_id, fixed or exported, landing_dir=tmp_path / "landing", chunk_rows=1000, actor="amina"
    )
    return exported, outcome


def test_an_xlsx_batch_of_a_csv_and_xlsx_source_is_exported_as_xlsx(tmp_path: Path, database_url: str) -> None:
    source = source_for(tmp_path, format=["csv", "xlsx"])
    workbook(tmp_path / "inbox" / "hl" / "a.xlsx", {"Data": as_cells([*TABLE, NARNIA])})
    [batch] = ingest(tmp_path, database_url, source)
    registry = Registry(sources=[source])
    exported = export_batch(database_url, registry, batch.batch_id, tmp_path / "out" / "fix.csv", "amina")
    assert exported == tmp_path / "out" / "fix.xlsx"
    sheet = load_workbook(exported).active
    sheet["C2"] = "Kenya"
    sheet.parent.save(exported)
    outcome = submit_correction(
        database_url, registry, batch.batch_id, exported, landing_dir=tmp_path / "landing", chunk_rows=10, actor="a"
    )
    assert (outcome.correction.rows_loaded, outcome.reconciliation.open) == (1, 0)


def test_a_utf16_tab_batch_is_exported_as_utf16_tab_text(tmp_path: Path, database_url: str) -> None:
    source = source_for(tmp_path)
    write_file(tmp_path, "a.txt", delimited([*TABLE, NARNIA], "\t").encode("utf-16"))
    [batch] = ingest(tmp_path, database_url, source)
    exported, outcome = export_and_correct(tmp_path, database_url, source, batch.batch_id)
    assert exported.suffix == ".txt"
    text = exported.read_bytes()
    assert text.startswith(b"\xff\xfe") and "\tNarnia\t" in text.decode("utf-16")
    assert "São Paulo" in text.decode("utf-16")
    assert (outcome.correction.status, outcome.correction.rows_quarantined) == ("loaded", 1)  # still Narnia


def test_a_json_lines_batch_is_exported_as_json_lines(tmp_path: Path, database_url: str) -> None:
    source = source_for(tmp_path, format="json")
    write_file(tmp_path, "a.jsonl", "\n".join(json.dumps(r) for r in records([*TABLE, NARNIA])) + "\n")
    [batch] = ingest(tmp_path, database_url, source)
    exported, outcome = export_and_correct(tmp_path, database_url, source, batch.batch_id)
    [line] = exported.read_text(encoding="utf-8").splitlines()
    assert exported.suffix == ".jsonl" and json.loads(line)["Country"] == "Narnia"
    assert outcome.correction.rows_quarantined == 1


def test_a_cut_cell_sent_back_unchanged_stays_in_quarantine(tmp_path: Path, database_url: str) -> None:
    """The 5 MB cell is exported as its first 1,000 characters and POP's mark; sent back so, it is held again, as
    the cut copy it is, rather than loaded as the sender's text."""
    source = community_source(tmp_path)
    header = ",".join(COMMUNITY_COLUMNS)
    write_file(tmp_path, "r.csv", "\n".join([header, submission(1, "Fine."), submission(2, "x" * 5 * 2**20)]) + "\n")
    [batch] = ingest(tmp_path, database_url, source)
    exported, outcome = export_and_correct(tmp_path, database_url, source, batch.batch_id)
    assert exported.stat().st_size < 5_000
    assert (outcome.correction.rows_loaded, outcome.correction.rows_quarantined) == (0, 1)
    [failure] = outcome.correction.failures
    assert (failure.column, failure.check) == ("summary", "cut_cell")
