"""The inbox as the operator sees it through `pop`, on SQLite and PostgreSQL: `pop sources` and `pop ingest` refuse a
registry whose globs can match one file, naming both sources and their globs; `pop ingest` lists every entry of the
inbox it did not take with why (console and steward run report), loads the rest, and a secret behind a link out of
the inbox appears nowhere."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text
from typer.testing import CliRunner

from cli.main import app
from pop.db import get_engine
from pop.settings import reset_settings
from tests.conftest import registry_settings
from tests.helpers import helpline_source, write_file
from tests.tasks.ingest.test_inbox import CSV, SECRET, hostile_inbox

runner = CliRunner()


def pop(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return result.output


def test_sources_and_ingest_refuse_globs_that_can_match_one_file(tmp_path: Path) -> None:
    helpline_source(tmp_path)
    registry = tmp_path / "sources.yaml"
    [entry] = yaml.safe_load(registry.read_text(encoding="utf-8"))["sources"]
    other = {**entry, "id": "helpline_copy", "files": "hl/2023_*"}
    registry.write_text(yaml.safe_dump({"sources": [entry, other]}), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'never.sqlite'}"
    said = (
        "sources 'test_helpline' (files 'hl/*.csv') and 'helpline_copy' (files 'hl/2023_*') can both match the same "
        "file, e.g. 'hl/2023_.csv', which would be loaded twice"
    )
    with registry_settings(tmp_path, url, registry):
        assert said in " ".join(pop("sources", code=2).split())
        assert said in " ".join(pop("ingest", code=2).split())
        other["files"] = "hl/2023_*.xlsx"  # no file can match both: accepted
        registry.write_text(yaml.safe_dump({"sources": [entry, other]}), encoding="utf-8")
        assert "no file can match two sources' globs" in " ".join(pop("sources").split())
    assert not (tmp_path / "never.sqlite").exists()


def everything_said(outputs: Path, database_url: str) -> str:
    """Every text the run left: the warehouse's tables and every report file."""
    said = []
    with get_engine(database_url).connect() as conn:
        for table in ("batches", "quarantine", "fact_helpline_contacts", "ingest_runs"):
            said.append(repr(conn.execute(text(f"SELECT * FROM {table}")).all()))
    said += [p.read_text(encoding="utf-8", errors="replace") for p in outputs.rglob("*") if p.is_file()]
    return "\n".join(said)


def test_ingest_names_what_it_did_not_take_and_shows_no_secret(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    helpline_source(tmp_path)
    secret = tmp_path / "outside" / "app.env"
    secret.parent.mkdir()
    secret.write_text(f"{SECRET}\n", encoding="utf-8")
    folder = hostile_inbox(tmp_path, secret)
    write_file(tmp_path, "q9.csv.part", CSV)
    write_file(tmp_path, ".~lock.a_good.csv#", "")
    old = time.time() - 3600
    for name in ("a_good.csv", "z_" + "long" * 60 + ".csv"):
        os.utime(folder / name, (old, old))
    write_file(tmp_path, "y_fresh.csv", CSV.replace("2023-Q1", "2023-Q4"))  # written now: still being written?

    with registry_settings(tmp_path, database_url, tmp_path / "sources.yaml") as outputs:
        monkeypatch.setenv("POP_INBOX_SETTLE_SECONDS", "600")  # Prefect may take a while to start
        reset_settings()
        out = pop("ingest")
        flat = " ".join(out.split())
        assert "Rows in 6 = loaded 6 + quarantined 0" in flat
        assert "Not taken from test_helpline's folder:" in flat
        for name, verdict in [
            ("hl/b_link_out.csv", "refused: a symbolic link (pointing outside the inbox)"),
            ("hl/d_pipe.csv", "refused: a named pipe (FIFO), not a regular file"),
            ("hl/e_folder.csv", "refused: a folder, not a file"),
            ("hl/f_caf\\xe9.csv", "refused: its name is not UTF-8 text"),
            ("hl/g_new\\nline.csv", "refused: its name holds control or invisible characters"),
            ("hl/q9.csv.part", "ignored: a partial download or upload, still arriving"),
            ("hl/.~lock.a_good.csv#", "ignored: a lock file of LibreOffice"),
            ("hl/y_fresh.csv", "waiting: written"),
        ]:
            assert f"{name} — {verdict}" in flat, name
        assert "less than the 600 s a file must stay unchanged (POP_INBOX_SETTLE_SECONDS)" in flat
        assert "✗ test_helpline: not taken: hl/b_link_out.csv" in flat  # the source failed: someone must act
        assert "hunter2" not in out

        run_json = next((outputs / "reports" / "runs").glob("*.json"))
        [source] = json.loads(run_json.read_text(encoding="utf-8"))["sources"]
        assert len(source["ignored"]) == 9
        run_html = run_json.with_suffix(".html").read_text(encoding="utf-8")
        assert "In the inbox, not taken" in run_html and "hl/f_caf\\xe9.csv" in run_html
        assert "waiting" in run_html.lower() and "hl/y_fresh.csv" in run_html
        assert "hunter2" not in everything_said(outputs, database_url)

        os.utime(folder / "y_fresh.csv", (old, old))  # settled by the next run
        again = " ".join(pop("ingest").split())
        assert "y_fresh.csv" in again and "Rows in 3 = loaded 3 + quarantined 0" in again
        monkeypatch.setenv("POP_INBOX_SETTLE_SECONDS", "0")
        reset_settings()
