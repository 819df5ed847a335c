"""The operator's commands on SQLite and PostgreSQL: a downgrade that would drop data is refused unless forced; a
backup is one self-contained file that restores the same warehouse; `pop status` and `pop doctor` tell the state
and what to fix; a failed flow run posts an alert to a webhook (a real HTTP receiver on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from alembic import command
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from cli.main import app
from pop import paths
from pop.db import alembic_config, get_engine, utcnow
from pop.settings import reset_settings
from tasks.ledger.lease import writer_lease
from tasks.ops.alerts import safe_message
from tasks.ops.backup import manifest_path
from tasks.ops.migrate import head_revision
from tests.conftest import demo_settings, warehouse
from tests.helpers import ingest_demo_sources

runner = CliRunner()
PASSWORD = "s3cret-pw-do-not-print"


def pop(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    assert result.exit_code == code, result.output
    return result.output


def with_password(url: str) -> str:
    """The URL with a password (PostgreSQL's test server trusts local users, so it is never asked for)."""
    if make_url(url).get_backend_name() == "sqlite":
        return url
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


@pytest.fixture
def populated(tmp_path: Path, database_url: str) -> Iterator[str]:
    """The test warehouse holding a demo source's batches, facts and quarantine; settings point at it."""
    ingest_demo_sources(database_url, tmp_path / "landing", ["helpline_ke"])
    with demo_settings(tmp_path / "outputs", with_password(database_url)):
        yield database_url


def counts(url: str) -> dict[str, int]:
    with get_engine(url).connect() as conn:
        return {
            t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one() for t in inspect(conn).get_table_names()
        }


def facts(url: str) -> list[tuple[object, ...]]:
    with get_engine(url).connect() as conn:
        rows = conn.execute(text("SELECT * FROM fact_helpline_contacts ORDER BY batch_id, row_number")).all()
    return [tuple(r) for r in rows]


# --- point 5: downgrades that would drop data ------------------------------------------------------------------


def test_a_downgrade_that_drops_data_is_refused_unless_forced(populated: str) -> None:
    url = populated
    before = counts(url)
    config = alembic_config(url)
    with get_engine(url).begin() as connection, pytest.raises(CommandError) as refused:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    message = str(refused.value)
    assert f"table fact_helpline_contacts ({before['fact_helpline_contacts']:,} rows)" in message
    assert f"table batches ({before['batches']} rows)" in message and "force" in message
    assert counts(url) == before  # nothing dropped

    out = pop("migrate", "--to", "0011", code=1)  # 0012 drops the record keys: a column of values
    assert f"column fact_helpline_contacts.record_key ({before['fact_helpline_contacts']:,} values)" in out
    assert f"current revision: {head_revision(url)}" in out and "target: 0011" in out
    assert PASSWORD not in out
    with get_engine(url).connect() as conn:
        assert "record_key" in {c["name"] for c in inspect(conn).get_columns("fact_helpline_contacts")}

    assert "now at revision 0011" in pop("migrate", "--to", "0011", "--force")
    assert f"now at revision {head_revision(url)}" in pop("migrate")
    assert counts(url)["fact_helpline_contacts"] == before["fact_helpline_contacts"]


def test_alembic_refuses_a_data_losing_downgrade_without_x_force(populated: str) -> None:
    """The command line operators know: `alembic downgrade base` exits non-zero and says what would be lost;
    `alembic -x force=true downgrade base` drops it."""
    url = populated
    env = {**os.environ, "POP_DATABASE_URL": with_password(url)}
    alembic = [sys.executable, "-m", "alembic", "-c", str(paths.ALEMBIC_INI)]
    refused = subprocess.run([*alembic, "downgrade", "base"], env=env, capture_output=True, text=True, check=False)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "would drop data" in said and "fact_helpline_contacts" in said
    assert counts(url)["batches"] > 0
    forced = [*alembic, "-x", "force=true", "downgrade", "base"]
    done = subprocess.run(forced, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert set(counts(url)) <= {"alembic_version"}


def test_an_empty_warehouse_goes_down_and_up_freely(database_url: str, tmp_path: Path) -> None:
    with demo_settings(tmp_path / "outputs", database_url):
        assert "now at revision none (base)" in pop("migrate", "--to", "base")
        assert f"now at revision {head_revision(database_url)}" in pop("migrate")


# --- point 5: backup and restore ---------------------------------------------------------------------------------


def test_backup_and_restore_give_back_the_same_warehouse(populated: str, tmp_path: Path) -> None:
    url = populated
    before, rows = counts(url), facts(url)
    target = tmp_path / "backups" / "warehouse.bak"
    out = pop("backup", str(target))
    assert f"{len(before)} tables" in out and "fact_helpline_contacts" in out and PASSWORD not in out
    manifest = json.loads(manifest_path(target).read_text(encoding="utf-8"))
    assert manifest["row_counts"] == before and manifest["revision"] == head_revision(url)
    assert len(manifest["sha256"]) == 64 and manifest["size_bytes"] == target.stat().st_size
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    refused = pop("restore", str(target), code=2)  # the warehouse holds rows
    assert "holds rows" in refused and "--force" in refused

    pop("migrate", "--to", "base", "--force")
    pop("migrate")
    assert counts(url)["fact_helpline_contacts"] == 0
    restored = pop("restore", str(target))
    assert "Restored" in restored and PASSWORD not in restored
    assert counts(url) == before and facts(url) == rows
    assert "Restored" in pop("restore", str(target), "--force")  # over a warehouse holding rows, when forced
    assert counts(url) == before


def test_a_sqlite_backup_is_one_file_that_holds_the_data(tmp_path: Path) -> None:
    with warehouse("sqlite", tmp_path) as populated:  # SQLite's write-ahead log
        ingest_demo_sources(populated, tmp_path / "landing", ["helpline_ke"])
        with demo_settings(tmp_path / "outputs", populated):
            wal = Path(f"{make_url(populated).database}-wal")
            assert wal.exists() and wal.stat().st_size > 0  # the data sit (partly) in -wal, as after a run
            target = tmp_path / "b" / "copy.sqlite"
            pop("backup", str(target))
            alone = tmp_path / "alone" / "warehouse.sqlite"
            alone.parent.mkdir()
            shutil.copyfile(target, alone)  # the file only: nothing beside it
            with sqlite3.connect(alone) as conn:
                assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
                assert conn.execute("SELECT COUNT(*) FROM fact_helpline_contacts").fetchone()[0] == len(
                    facts(populated)
                )
            assert sorted(p.name for p in alone.parent.iterdir()) == ["warehouse.sqlite"]


def test_a_restore_checks_the_manifest(populated: str, tmp_path: Path) -> None:
    target = tmp_path / "warehouse.bak"
    pop("backup", str(target))
    where = manifest_path(target)
    manifest = json.loads(where.read_text(encoding="utf-8"))
    where.write_text(json.dumps({**manifest, "revision": "9999"}), encoding="utf-8")
    assert "newer than this code knows" in pop("restore", str(target), "--force", code=2)
    where.write_text(json.dumps(manifest), encoding="utf-8")
    with target.open("ab") as handle:
        handle.write(b"\0")
    assert "sha256 differs" in pop("restore", str(target), "--force", code=2)
    where.unlink()
    assert "no manifest" in pop("restore", str(target), "--force", code=2)


def test_pg_dump_missing_is_said_plainly(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with (
        warehouse("postgresql", tmp_path) as database_url,
        demo_settings(tmp_path / "outputs", database_url, pg_bin_dir=str(tmp_path / "empty")),
    ):
        out = pop("backup", str(tmp_path / "x.dump"), code=2)
    assert "pg_dump not found" in out and "POP_PG_BIN_DIR" in out


# --- point 7: pop status -----------------------------------------------------------------------------------------


def test_status_shows_what_waits_and_what_is_stuck(populated: str) -> None:
    url = populated
    started = utcnow()
    with get_engine(url).begin() as conn:
        for run_id, state in (("run-crashed-1", "crashed"), ("run-running-2", "running"), ("run-done-3", "completed")):
            conn.execute(
                text(
                    "INSERT INTO ingest_runs (run_id, flow_run_name, started_at, status, message) "
                    "VALUES (:r, :n, :t, :s, :m)"
                ),
                {"r": run_id, "n": f"name-{state}", "t": started, "s": state, "m": "a [/] sender's text"},
            )
        conn.execute(
            text(
                "INSERT INTO batches (source_id, run_id, original_name, sha256, size_bytes, landed_path, received_at, "
                "started_at, status, rows_in, rows_loaded, rows_quarantined) VALUES ('helpline_ke', 'run-running-2', "
                "'stuck[/].csv', 'x', 1, 'x', :t, :t, 'processing', 0, 0, 0)"
            ),
            {"t": started},
        )
        conn.execute(
            text(
                "INSERT INTO discrepancies (check_id, subject, details_json, status, first_seen_at, last_seen_at) "
                "VALUES ('helpline_breakdown', 'KEN 2023', '{}', 'open', :t, :t)"
            ),
            {"t": started},
        )
        open_rows = dict(
            conn.execute(
                text("SELECT source_id, COUNT(*) FROM quarantine WHERE status = 'open' GROUP BY source_id")
            ).all()
        )
        pending = conn.execute(
            text("SELECT COUNT(*) FROM batches WHERE status = 'loaded' AND review_status = 'pending'")
        ).scalar_one()
    out = pop("status")
    assert "Writer lease: free (no run is writing)" in out
    assert "run-cras" in out and "crashed" in out and "run run-runn (name-running) is running since" in out
    assert "run run-cras (name-crashed) is crashed since" in out and "run-done" not in out.split("Batches")[1]
    assert "stuck[/].csv) processing for" in out and "a [/] sender's text" in out
    assert f"Batches waiting for review: {pending}" in out and pending > 0
    for source, n in open_rows.items():
        assert any(source in line and line.rstrip(" │").endswith(str(n)) for line in out.splitlines())
    assert "Open discrepancies: 1 (helpline_breakdown 1)" in out
    assert "ingest-daily" in out and "0 6 * * *" in out and "America/New_York" in out and "snapshot-weekly" in out
    assert "Warehouse size:" in out and PASSWORD not in out
    with writer_lease(url, "run-writing-4", "ingest"):  # it closes what the dead runs left, then writes
        out = pop("status")
    assert "Writer lease: another ingest is running since" in out and "(run run-writing-4, process" in out
    assert "; writing now" in " ".join(out.split()) and "stuck[/].csv) interrupted for" in out
    assert "run run-runn (name-running) is crashed since" in out


def test_status_shows_each_deployments_last_run_from_the_prefect_server(database_url: str, tmp_path: Path) -> None:
    """With a Prefect server (the tests' own), each deployment's last run and its state, as the server has them."""
    from prefect.client.orchestration import get_client
    from prefect.states import Failed

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("ingest")
        deployment = client.create_deployment(flow_id=flow_id, name="ingest-ops-test")
        run = client.create_flow_run_from_deployment(deployment, state=Failed(message="x"), name="ops-test-run")
    with demo_settings(tmp_path / "outputs", database_url):
        out = pop("status")
    [line] = [line for line in out.splitlines() if "ingest/ingest-ops-test" in line]
    assert run.name in line and "Failed" in line


# --- point 7: pop doctor -----------------------------------------------------------------------------------------


def test_doctor_on_a_sound_set_up(database_url: str, tmp_path: Path) -> None:
    with demo_settings(tmp_path / "outputs", with_password(database_url)):
        out = pop("doctor")
    assert "✓ database" in out and f"migrated to head ({head_revision(database_url)})" in out
    assert "✓ registry" in out and "✓ folder landing" in out and "✓ record-key secret" in out
    assert "Everything checked is in order." in out
    assert os.environ["POP_RECORD_KEY_SECRET"] not in out and "********" in out and PASSWORD not in out


def test_doctor_names_every_problem_and_exits_non_zero(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("x", encoding="utf-8")
    registry = tmp_path / "sources.yaml"
    registry.write_text("sources:\n  - id: broken\n    group: no_such_group\n", encoding="utf-8")
    broken = {
        "registry_path": str(registry),
        "alert_webhook_url": "ftp://example.org/x",
    }
    url = f"postgresql+psycopg://pop:{PASSWORD}@127.0.0.1:1/pop"  # nothing listens on port 1
    with demo_settings(not_a_folder / "outputs", url, **broken):
        out = pop("doctor", code=1)
    assert "✗ database" in out and "unreachable" in out and "POP_DATABASE_URL" in out
    assert "✗ folder outputs" in out and "✗ registry" in out and "broken" in out
    assert "✗ alerts" in out and "problem(s) to fix" in out
    assert PASSWORD not in out


def test_doctor_refuses_a_warehouse_of_keyed_rows_without_its_secret(
    populated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POP_RECORD_KEY_SECRET")
    reset_settings()
    out = pop("doctor", code=1)
    assert "✗ record-key secret" in out and "fact rows" in out and "restore the secret" in out


# --- point 7: alerts ---------------------------------------------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    """Records every POST it gets."""

    received: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
        Receiver.received.append({"path": self.path, "type": self.headers["Content-Type"], "body": body})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    """A webhook receiver on 127.0.0.1 (a free port), in a thread; its URL."""
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/pop"
    server.shutdown()
    server.server_close()


def test_a_failed_flow_run_posts_an_alert(receiver: str, tmp_path: Path) -> None:
    from flows.ingest import ingest

    registry = tmp_path / "sources.yaml"
    registry.write_text("sources:\n  - id: broken\n    group: no_such_group\n", encoding="utf-8")
    url = f"postgresql+psycopg://pop:{PASSWORD}@127.0.0.1:1/pop"
    with demo_settings(tmp_path / "outputs", url, alert_webhook_url=receiver):
        state = ingest(registry=str(registry), return_state=True)
    assert state.is_failed()
    [post] = Receiver.received
    assert post["path"] == "/hooks/pop" and post["type"] == "application/json"
    sent = json.loads(str(post["body"]))
    assert sent["flow"] == "ingest" and sent["state"] == "Failed" and sent["state_type"] == "FAILED"
    assert sent["flow_run_id"] == str(state.state_details.flow_run_id) and sent["flow_run_name"]
    assert "registry" in sent["message"] and sent["time"]
    assert PASSWORD not in str(post["body"]) and os.environ["POP_RECORD_KEY_SECRET"] not in str(post["body"])


def test_an_alert_that_cannot_be_sent_changes_nothing(tmp_path: Path) -> None:
    from flows.ingest import ingest

    registry = tmp_path / "sources.yaml"
    registry.write_text("sources: 7\n", encoding="utf-8")
    with demo_settings(tmp_path / "outputs", "sqlite://", alert_webhook_url="http://127.0.0.1:1/nobody"):
        state = ingest(registry=str(registry), return_state=True)
    assert state.is_failed() and "registry" in (state.message or "")


def test_an_alert_message_carries_no_secret_nor_row() -> None:
    message = (
        "Failed sources: helpline_ke: IntegrityError: (psycopg.errors.UniqueViolation) duplicate key\n"
        "DETAIL:  Key (child_name)=(Jane Doe) already exists.\n[SQL: INSERT INTO t VALUES (%(a)s)]\n"
        "[parameters: {'a': 'Jane Doe'}]"
    )
    sent = safe_message(message, ["tok-123456"])
    assert sent == "Failed sources: helpline_ke: IntegrityError: (psycopg.errors.UniqueViolation) duplicate key"
    sent = safe_message("at postgresql://pop:hunter22@db/pop with tok-123456", ["tok-123456"])
    assert sent == "at postgresql://pop:***@db/pop with ***"
    assert len(safe_message("x" * 5000, [])) == 300
