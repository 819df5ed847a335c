"""The `pop` command line as a steward uses it, on the demo data (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from cli.main import app
from pop.db import get_engine
from pop.models import QuarantineRow
from pop.record_keys import SECRET_FILE
from pop.settings import get_settings, reset_settings
from tests.conftest import demo_settings, warehouse
from tests.helpers import record_keys_stored_and_derived, remote_references

runner = CliRunner()


def pop(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_a_steward_session(pop_env: Path) -> None:
    out = pop("run")
    assert "Rows in 4,308 = loaded 4,276 + quarantined 32" in out and "kontakte_2021.csv" in out
    assert "Steward report:" in out
    assert "no_new_files" in pop("ingest", "--source", "helpline_ke")

    pending = pop("batches", "--review", "pending")
    assert "2023_q1.csv" in pending and "2023_q2.csv" not in pending  # clean batches were approved at once
    batch_id = re.search(r"│\s*(\d+)\s*│\s*helpline_ke\s*│\s*2023_q1\.csv", pending).group(1)

    shown = pop("batch", "show", batch_id)
    assert "Narnia" in shown and "unknown_country" in shown and "= 77" in shown

    pop("batch", "approve", batch_id, "--reason", "checked with the helpline", "--by", "amina")
    exported = pop("batch", "export", batch_id, "--by", "amina")
    path = Path(re.search(r"Wrote (\S+?\.csv)", exported.replace("\n", "")).group(1))
    fixed = path.read_text(encoding="utf-8").replace(",Narnia,", ",Kenya,").replace(",twelve,", ",12,")
    (path.parent / "fixed.csv").write_text(fixed, encoding="utf-8")
    corrected = pop("batch", "correct", batch_id, str(path.parent / "fixed.csv"), "--by", "amina")
    assert "loaded 2, back in quarantine 1" in corrected
    assert "77 rows = loaded 74 + loaded by correction 2 + still open 1 + dismissed 0" in corrected

    snapshot = pop("snapshot", "--as-of", "2024-03-01")
    assert "Snapshot 2024-03-01-" in snapshot and "awaiting review and not included" in snapshot
    assert re.search(r"(\d+) approved file\(s\)", snapshot.replace("\n", " "))

    trail = pop("audit")
    for words in ("amina", "approve", "checked with the helpline", "export", "correction", "pop (automatic)"):
        assert words in trail
    index = (pop_env / "reports" / "index.html").read_text(encoding="utf-8")
    assert "Steward actions" in index and "checked with the helpline" in index and "corrects batch" in index


def test_the_demo_run_approves_the_waiting_batches_as_the_demo_steward_and_makes_a_snapshot(
    pop_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POP_RECORD_KEY_SECRET")  # as a new user runs it: the record-key secret is made in outputs/
    reset_settings()
    out = pop("run", "--demo", "--as-of", "2024-03-01")
    secret = (pop_env / SECRET_FILE).read_bytes()
    assert stat.S_IMODE((pop_env / SECRET_FILE).stat().st_mode) == 0o600
    stored, derived = record_keys_stored_and_derived(get_settings().warehouse_url)
    assert stored and stored == derived  # every row has the key of its file and row, with the secret made
    shown = [p for p in pop_env.rglob("*") if p.is_file() and p.name != SECRET_FILE and secret in p.read_bytes()]
    assert secret.decode() not in out and not shown  # neither printed nor written anywhere else
    assert "Demo: approved 10 batch(es) awaiting review as 'demo (pop run --demo)'" in out
    assert "13 approved file(s), 0 awaiting review" in out and "three or more groups" in out
    folder = Path(re.search(r"Snapshot: (\S+index\.html)", out.replace("\n", "")).group(1)).parent
    assert folder.parent == pop_env / "snapshots" and (folder / "snapshot.md").exists()
    assert pop("audit").count("demo (pop run --demo)") == 10
    assert "2023_q1.csv" not in pop("batches", "--review", "pending")
    assert "2023_q1.csv" in pop("batches", "--review", "approved")


def test_wrong_requests_say_what_is_wrong(pop_env: Path) -> None:
    result = runner.invoke(app, ["batch", "reject", "999", "--reason", "x"])
    assert result.exit_code == 2 and "there is no batch 999" in result.output
    result = runner.invoke(app, ["quarantine", "dismiss", "5", "--reason", "x"])
    assert result.exit_code == 2 and "there is no quarantined row 5; there is none yet" in result.output


def test_sources_lists_the_registry(pop_env: Path) -> None:
    out = pop("sources")
    assert "helpline_ke" in out and "youth_survey" in out and "tech_transparency" in out


def test_template_for_a_source(pop_env: Path) -> None:
    out = pop("template", "helpline_ph")
    assert (pop_env / "templates" / "helpline_ph.xlsx").exists() and "helpline_ph.xlsx" in out
    result = runner.invoke(app, ["template", "nobody"])
    assert result.exit_code == 2 and "no source 'nobody'" in result.output


def row_of(page: Path, batch_id: str) -> str:
    """A batch's row in the files table of the index or of a run page."""
    [row] = [r for r in page.read_text(encoding="utf-8").split("<tr>") if f"batch {batch_id}</span>" in r]
    return row


def open_row_of(batch_id: str) -> int:
    with get_engine(get_settings().warehouse_url).connect() as conn:
        return (
            conn.execute(
                select(QuarantineRow.quarantine_id).where(
                    QuarantineRow.batch_id == int(batch_id), QuarantineRow.status == "open"
                )
            )
            .scalars()
            .first()
        )


def test_steward_commands_rewrite_the_pages_they_change(pop_env: Path) -> None:
    """After each steward command, the index, the batch's page and the page of the run that loaded it tell the
    present: its review state, where its rows are now, and the audit trail."""
    pop("run")
    reports = pop_env / "reports"
    pending = pop("batches", "--review", "pending")
    batch_id = re.search(r"│\s*(\d+)\s*│\s*helpline_ke\s*│\s*2023_q1\.csv", pending).group(1)
    page = reports / "batches" / f"{batch_id}.html"
    run_page = reports / "runs" / f"{json.loads(page.with_suffix('.json').read_text())['run_id']}.html"
    assert "Awaiting review" in row_of(reports / "index.html", batch_id) and "Awaiting review" in page.read_text()
    assert "Awaiting review" in row_of(run_page, batch_id)

    assert "Steward pages updated" in pop("batch", "approve", batch_id, "--reason", "checked with KE", "--by", "amina")
    for listed in (reports / "index.html", run_page):
        assert "Approved" in row_of(listed, batch_id) and "Awaiting review" not in row_of(listed, batch_id)
    batch = page.read_text(encoding="utf-8")
    assert "Approved" in batch and "Awaiting review" not in batch and "checked with KE" in batch
    assert "checked with KE" in (reports / "index.html").read_text(encoding="utf-8")

    row = open_row_of(batch_id)
    pop("quarantine", "dismiss", str(row), "--reason", "sent twice, the helpline says", "--by", "amina")
    pop("batch", "export", batch_id, "--by", "amina")
    batch = page.read_text(encoding="utf-8")
    assert "+ dismissed 1 =" in batch and "sent twice, the helpline says" in batch and ">export<" in batch

    pop("batch", "reject", batch_id, "--reason", "withdrawn by the helpline", "--by", "amina")
    assert "Rejected" in row_of(reports / "index.html", batch_id) and "Rejected" in row_of(run_page, batch_id)
    assert "withdrawn by the helpline" in page.read_text(encoding="utf-8")

    # the warehouse checks name the overdue sources (the demo data is old), and nothing loads from another host
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert re.search(r"overdue: \w+ \(newest \d{4}-\d\d-\d\d, \d+ days overdue\)", index)
    assert "days overdue" in run_page.read_text(encoding="utf-8")
    assert remote_references(pop_env) == {}


def test_what_senders_write_is_printed_as_text_never_read_as_markup(pop_env: Path, tmp_path: Path) -> None:
    """A file named and headed with rich markup ('[/]', '[bold]') and a batch left processing by a dead run: `pop
    ingest`, `pop batches` and `pop batch show` print them as they are, and do not crash (issue 12, point 4)."""
    inbox = tmp_path / "inbox" / "helpline_ke"
    inbox.mkdir(parents=True)
    name = "[bold]odd.csv"  # a file name cannot hold the closing tag "[/]"; the header does
    header = "Quarter,Country,Contact type,Channel,Reason,Age group,Sex,[/]Number,Helpline,Platform"
    (inbox / name).write_text(f"{header}\nQ2 2023,Kenya,Counselling,Phone,Physical abuse,10-12,Female,87,x,\n")
    out = pop("ingest", "--source", "helpline_ke", "--inbox", str(tmp_path / "inbox"))
    assert name in out and "[/]Number" in out  # the missing column's message names the sender's header as sent
    with get_engine(get_settings().warehouse_url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO batches (source_id, original_name, sha256, size_bytes, landed_path, received_at, status, "
                "rows_in, rows_loaded, rows_quarantined, review_status) VALUES ('helpline_ke', '[red]x[/red].csv', "
                "'0', 1, 'x', CURRENT_TIMESTAMP, 'processing', 0, 0, 0, 'pending')"
            )
        )
    listed = pop("batches")
    assert name in listed and "[red]x[/red].csv" in listed and "processing" in listed
    batch_id = re.search(r"│\s*(\d+)\s*│\s*helpline_ke\s*│\s*\[bold\]odd", listed).group(1)
    shown = pop("batch", "show", batch_id)
    assert name in shown and "[/]Number" in shown


def test_pop_ingest_does_not_print_the_database_password(pop_env: Path, database_url: str) -> None:
    """The warehouse URL is printed without its password (issue 12, point 4); on PostgreSQL with trust
    authentication a password in the URL is accepted and ignored, so the real command runs (a SQLite file's URL has
    none, and is printed as it is)."""
    url = database_url.replace("postgres@", "postgres:s3cret-pw@", 1)
    result = runner.invoke(app, ["ingest", "--source", "helpline_ke"], env={"COLUMNS": "200", "POP_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    shown = "postgres:***@" if url.startswith("postgresql") else url  # its own URL, the password hidden
    assert f"Warehouse: {shown}" in " ".join(result.output.split()) or shown in result.output
    assert "s3cret-pw" not in result.output


def test_no_output_holds_the_database_password(tmp_path: Path) -> None:
    """The whole pipeline and the operator commands on a PostgreSQL warehouse whose URL holds a password: neither the
    console, nor any file written under outputs/, nor the warehouse's own records hold it (issue 12, point 4)."""
    with warehouse("postgresql", tmp_path) as plain:
        url = plain.replace("postgres@", "postgres:s3cret-pw@", 1)
        with demo_settings(tmp_path / "outputs", url) as outputs:
            said = [
                runner.invoke(app, args, env={"COLUMNS": "200"})
                for args in (["run", "--demo", "--as-of", "2024-03-01"], ["status"], ["doctor"], ["batches"])
            ]
            assert said[0].exit_code == 0, said[0].output
            assert "postgres:***@" in said[0].output
            for result in said:
                assert "s3cret-pw" not in result.output
            written = [p for p in outputs.rglob("*") if p.is_file() and b"s3cret-pw" in p.read_bytes()]
            assert written == []
            with get_engine(url).connect() as conn:
                tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
                rows_holding = 'SELECT count(*) FROM "{}" AS t WHERE t::text LIKE :p'  # any column of the row
                holding = [
                    t for t in tables.all() if conn.execute(text(rows_holding.format(t)), {"p": "%s3cret-pw%"}).scalar()
                ]
            assert holding == []


def test_a_correction_refused_or_failed_exits_non_zero_with_its_reason_and_no_traceback(
    pop_env: Path, tmp_path: Path
) -> None:
    pop("ingest", "--source", "helpline_ke")
    wrong = tmp_path / "another_source.csv"
    wrong.write_text("Country,Respondents\nKenya,12\n", encoding="utf-8")
    missing = runner.invoke(app, ["batch", "correct", "999", str(wrong)], env={"COLUMNS": "200"})
    assert missing.exit_code == 2 and "there is no batch 999; the newest is" in missing.output
    batch_id = re.search(r"│\s*(\d+)\s*│\s*helpline_ke\s*│\s*2023_q1\.csv", pop("batches")).group(1)
    failed = runner.invoke(app, ["batch", "correct", batch_id, str(wrong)], env={"COLUMNS": "200"})
    assert failed.exit_code == 2, failed.output
    assert "missing required column(s) 'Quarter'" in failed.output and "The correction failed" in failed.output
    for result in (missing, failed):  # Prefect prints a flow's exception with its traceback: there is none
        assert "Encountered exception during execution" not in result.output
