"""The `pop` command line as a steward uses it, on the demo data (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app

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


def test_the_demo_run_approves_the_waiting_batches_as_the_demo_steward_and_makes_a_snapshot(pop_env: Path) -> None:
    out = pop("run", "--demo", "--as-of", "2024-03-01")
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
    assert result.exit_code == 2 and "not open" in result.output


def test_sources_lists_the_registry(pop_env: Path) -> None:
    out = pop("sources")
    assert "helpline_ke" in out and "youth_survey" in out and "tech_transparency" in out


def test_template_for_a_source(pop_env: Path) -> None:
    out = pop("template", "helpline_ph")
    assert (pop_env / "templates" / "helpline_ph.xlsx").exists() and "helpline_ph.xlsx" in out
    result = runner.invoke(app, ["template", "nobody"])
    assert result.exit_code == 2 and "no source 'nobody'" in result.output
