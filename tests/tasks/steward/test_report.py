"""Steward reports: given a run with a partly quarantined file, a failed file and a duplicate, the pages say what
failed, where, and what the sender should fix."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pop.contracts import BatchSummary, RunSummary, RunTotals, SourceOutcome
from tasks.steward.report import (
    markdown_summary,
    reconciliation,
    table_rows,
    write_batch_report,
    write_index,
    write_run_report,
)

SCRIPT = "<script>alert(1)</script>"
COUNTRY_HINT = "country is not a country we recognise: use the English name or the ISO 3166 code (e.g. Kenya or KEN)."
MISSING_COLUMN = "The file has no column for the country. Add a column named Country and send the file again."


def make_batch(**changes: object) -> BatchSummary:
    """A helpline file of 1200 rows, 20 of them quarantined for two reasons."""
    batch = {
        "batch_id": 12,
        "source_id": "helpline_ke",
        "run_id": "run-2024-03-03",
        "group": "helplines_services",
        "organisation": "Childline Kenya",
        "original_name": "childline_ke_2023.csv",
        "sha256": "a" * 64,
        "size_bytes": 48_000,
        "landed_path": "outputs/landing/helpline_ke/a.csv",
        "received_at": "2024-03-01T10:15:00+00:00",
        "started_at": "2024-03-01T10:16:00+00:00",
        "finished_at": "2024-03-01T10:16:04+00:00",
        "duration_s": 4.2,
        "status": "loaded",
        "rows_in": 1200,
        "rows_loaded": 1180,
        "rows_quarantined": 20,
        "message": None,
        "duplicate_of": None,
        "review_status": "pending",
        "corrects_batch_id": None,
        "contact": "data@childline.example",
        "failures": [
            {
                "column": "country",
                "sender_column": "Country name",
                "check": "unknown_country",
                "rows": 18,
                "examples": ["Kenia", SCRIPT],
                "row_numbers": [4, 9, 17],
                "hint": COUNTRY_HINT,
            },
            {
                "column": "contacts",
                "sender_column": "No. of contacts",
                "check": "below_minimum",
                "rows": 2,
                "examples": ["-4"],
                "row_numbers": [40, 41],
                "hint": "contacts must be at least 0.",
            },
        ],
    }
    return BatchSummary.model_validate(batch | changes)


def failed_batch(**changes: object) -> BatchSummary:
    """A survey file that could not be read at all."""
    failed = {
        "batch_id": 13,
        "source_id": "survey_gko",
        "group": "children_youth",
        "original_name": "gko_wave3.xlsx",
        "received_at": "2024-03-02T09:00:00Z",
        "status": "failed",
        "rows_in": 0,
        "rows_loaded": 0,
        "rows_quarantined": 0,
        "message": MISSING_COLUMN,
        "failures": [],
    }
    return make_batch(**failed | changes)


def duplicate_batch() -> BatchSummary:
    """The helpline file sent a second time."""
    return make_batch(
        batch_id=14,
        received_at="2024-03-03T09:00:00Z",
        status="duplicate",
        rows_in=0,
        rows_loaded=0,
        rows_quarantined=0,
        duplicate_of=12,
        failures=[],
    )


def make_run(failed: BatchSummary | None = None) -> RunSummary:
    """A completed run over three sources: one with two files, one failed file, one with nothing new."""
    return RunSummary(
        run_id="run-2024-03-03",
        flow_run_name="brave-otter",
        started_at="2024-03-03T09:00:00Z",
        finished_at="2024-03-03T09:02:10Z",
        status="completed",
        message=None,
        database="sqlite:///outputs/warehouse.sqlite",
        sources=[
            SourceOutcome(
                source_id="helpline_ke",
                group="helplines_services",
                status="ok",
                batches=[make_batch(), duplicate_batch()],
                files_seen=2,
            ),
            SourceOutcome(
                source_id="survey_gko",
                group="children_youth",
                status="ok",
                batches=[failed or failed_batch()],
                files_seen=1,
            ),
            SourceOutcome(source_id="tech_x", group="tech_companies", status="no_new_files", files_seen=1),
        ],
        totals=RunTotals(
            files_seen=4, batches_new=3, rows_in=1200, rows_loaded=1180, rows_quarantined=20, failed_batches=1
        ),
    )


class LinkCollector(HTMLParser):
    """Collects every href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if tag == "a" and name == "href" and value]


def links(page: Path) -> list[str]:
    """The hrefs of an HTML file."""
    collector = LinkCollector()
    collector.feed(page.read_text(encoding="utf-8"))
    return collector.hrefs


def test_batch_report_says_what_failed_where_and_how_to_fix_it(tmp_path: Path) -> None:
    paths = write_batch_report(make_batch(), tmp_path)

    assert paths == {"html": tmp_path / "batches" / "12.html", "json": tmp_path / "batches" / "12.json"}
    html = paths["html"].read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    assert COUNTRY_HINT in html
    assert "Country name" in html and "<code>country</code>" in html
    assert "“Kenia”" in html and "“-4”" in html
    assert "4, 9, 17" in html and "and 15 more" in html
    assert "rows in = loaded + quarantined: 1200 = 1180 + 20 ✓" in html
    assert "data@childline.example" in html
    assert '<th scope="col">What to fix</th>' in html


def test_batch_report_escapes_what_the_sender_wrote(tmp_path: Path) -> None:
    failures = [failure.model_copy(update={"sender_column": SCRIPT}) for failure in make_batch().failures]
    batch = make_batch(original_name=SCRIPT, message=SCRIPT, contact=SCRIPT, failures=failures)

    html = write_batch_report(batch, tmp_path)["html"].read_text(encoding="utf-8")

    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_failed_file_shows_its_message_prominently(tmp_path: Path) -> None:
    html = write_batch_report(failed_batch(), tmp_path)["html"].read_text(encoding="utf-8")

    box = re.search(r'<section class="callout tone-bad".*?</section>', html, re.S)
    assert box and "This file was not loaded" in box.group(0) and MISSING_COLUMN in box.group(0)
    assert "✗</span> Failed" in html


def test_batch_with_every_value_that_may_be_missing_missing_still_renders(tmp_path: Path) -> None:
    optional = ("run_id", "started_at", "finished_at", "duration_s", "message", "duplicate_of", "corrects_batch_id")
    batch = make_batch(batch_id=99, **dict.fromkeys(optional))

    html = write_batch_report(batch, tmp_path)["html"].read_text(encoding="utf-8")

    assert "<td>— to — (—)</td>" in html and "rows in = loaded + quarantined: 1200 = 1180 + 20 ✓" in html


def test_json_is_the_input_and_deterministic(tmp_path: Path) -> None:
    batch = make_batch()
    first = write_batch_report(batch, tmp_path)["json"].read_text(encoding="utf-8")
    second = write_batch_report(batch, tmp_path)["json"].read_text(encoding="utf-8")

    assert BatchSummary.model_validate_json(first) == batch
    assert first == second


def test_run_report_lists_sources_failed_files_and_links_each_file(tmp_path: Path) -> None:
    run = make_run()
    paths = write_run_report(run, tmp_path)

    html = paths["html"].read_text(encoding="utf-8")
    assert paths["html"] == tmp_path / "runs" / "run-2024-03-03.html"
    assert RunSummary.model_validate_json(paths["json"].read_text(encoding="utf-8")) == run
    assert MISSING_COLUMN in html
    assert "rows in = loaded + quarantined: 1200 = 1180 + 20 ✓" in html
    assert "No new files" in html and "tech_x" in html
    assert COUNTRY_HINT in html
    batch_links = [href for href in links(paths["html"]) if "batches/" in href]
    assert set(batch_links) == {"../batches/12.html", "../batches/13.html", "../batches/14.html"}
    assert all((paths["html"].parent / href).resolve().exists() for href in batch_links)


def test_index_lists_every_batch_newest_first_with_working_links(tmp_path: Path) -> None:
    run = make_run()
    batches = [make_batch(), failed_batch(), duplicate_batch()]
    for batch in batches:
        write_batch_report(batch, tmp_path)
    write_run_report(run, tmp_path)

    index = write_index(batches, [run], tmp_path)

    hrefs = links(index)
    batch_links = [href for href in hrefs if href.startswith("batches/")]
    assert batch_links[-3:] == ["batches/14.html", "batches/13.html", "batches/12.html"]  # the files, after the actions
    assert "runs/run-2024-03-03.html" in hrefs
    assert all((tmp_path / href).exists() for href in hrefs)
    html = index.read_text(encoding="utf-8")
    assert "Same file as batch 12" in html and MISSING_COLUMN in html
    assert "Open quarantine (rows)</dt><dd>20</dd>" in html
    summary = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))["summary"]
    assert summary["by_status"] == {"loaded": 1, "failed": 1, "duplicate": 1}
    assert summary["rows_loaded"] == 1180 and summary["rows_quarantined"] == 20


def test_index_writes_missing_reports_so_no_link_is_broken(tmp_path: Path) -> None:
    index = write_index([make_batch(), failed_batch()], [make_run()], tmp_path, open_quarantine=5)

    assert all((tmp_path / href).exists() for href in links(index))
    assert "Open quarantine (rows)</dt><dd>5</dd>" in index.read_text(encoding="utf-8")


def test_markdown_summary_names_failed_files_and_top_checks() -> None:
    markdown = markdown_summary(make_run())

    assert markdown.startswith("# ✓ Completed: ingest run brave-otter")
    assert "rows in = loaded + quarantined: 1200 = 1180 + 20 ✓" in markdown
    assert f"**gko_wave3.xlsx** (survey_gko, batch 13): {MISSING_COLUMN}" in markdown
    assert "| helpline_ke | helplines_services | ✓ OK | 2 | 1,200 | 1,180 | 20 |" in markdown
    assert COUNTRY_HINT in markdown
    assert SCRIPT not in markdown


def test_markdown_cells_cannot_break_the_table() -> None:
    run = make_run(failed=failed_batch(message="bad | pipe\nand a new line"))

    markdown = markdown_summary(run)

    assert "bad \\| pipe and a new line" in markdown


def test_table_rows_give_one_flat_row_per_batch() -> None:
    rows = table_rows(make_run())

    assert [row["status"] for row in rows] == ["loaded", "duplicate", "failed"]
    assert rows[2] == {
        "source": "survey_gko",
        "file": "gko_wave3.xlsx",
        "status": "failed",
        "rows_in": 0,
        "rows_loaded": 0,
        "rows_quarantined": 0,
        "message": MISSING_COLUMN,
    }
    assert rows[1]["message"] == "Same file as batch 12: not loaded again."


@pytest.mark.parametrize(
    ("counts", "line", "ok"),
    [
        ((1200, 1180, 20), "rows in = loaded + quarantined: 1200 = 1180 + 20 ✓", True),
        ((1200, 1180, 10), "rows in = loaded + quarantined: 1200 ≠ 1180 + 10 ✗ (+10 rows unaccounted for)", False),
    ],
)
def test_reconciliation_line(counts: tuple, line: str, ok: bool) -> None:
    assert reconciliation(*counts) == {"line": line, "ok": ok}
