"""One writer at a time, through `pop` as operators run it (issue 12, point 1): two ingests started together leave
the warehouse one run leaves; a second ingest is told who writes; a run killed mid-load leaves nothing half-done and
its file is loaded exactly once by the next run, which closes the killed run as crashed and says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from pop import paths
from pop.db import get_engine
from pop.models import FACT_TABLES, Batch, IngestRun
from tasks.ledger.lease import writer_lease
from tests.conftest import DEMO_INBOX, DEMO_REGISTRY

runner = CliRunner()
BUSY_EXIT = 4


def _pop_process(args: list[str], folder: Path, url: str, name: str, inbox: Path) -> subprocess.Popen:
    """`pop ARGS` as a process of its own, with its own Prefect home (as two operators' shells have)."""
    home = folder / f"prefect-{name}"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "POP_OUTPUTS_DIR": str(folder / "outputs"),
        "POP_DATABASE_URL": url,
        "POP_REGISTRY_PATH": str(DEMO_REGISTRY),
        "POP_INBOX_DIR": str(inbox),
        "COLUMNS": "200",
    }
    log = (folder / f"{name}.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        cwd=paths.ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: a kill reaches the Prefect server it starts too
    )


def _batches(url: str) -> list[tuple[str, str, str, int]]:
    with get_engine(url).connect() as conn:
        rows = conn.execute(
            select(Batch.source_id, Batch.original_name, Batch.status, Batch.rows_loaded).order_by(
                Batch.source_id, Batch.original_name
            )
        ).all()
    return [tuple(r) for r in rows]


def _fact_rows(url: str) -> int:
    with get_engine(url).connect() as conn:
        return sum(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in FACT_TABLES.values())


def test_two_ingests_started_together_leave_the_warehouse_one_run_leaves(tmp_path: Path, database_url: str) -> None:
    """Both wait for the writer lease (--wait): the first loads every demo file, the second finds nothing new. No
    batch is failed, restarted or loaded twice, and the rows in the warehouse are the first run's."""
    runs = [
        _pop_process(["ingest", "--wait", "600", "--as-of", "2024-03-01"], tmp_path, database_url, name, DEMO_INBOX)
        for name in ("first", "second")
    ]
    for process in runs:
        assert process.wait(timeout=600) == 0, (tmp_path / "first.log").read_text() + (
            tmp_path / "second.log"
        ).read_text()
    batches = _batches(database_url)
    files = [(source, name) for source, name, _, _ in batches]
    assert len(files) == len(set(files)) and len(files) >= 10
    assert {status for _, _, status, _ in batches} <= {"loaded", "duplicate", "failed"}
    with get_engine(database_url).connect() as conn:
        summaries = dict(conn.execute(select(IngestRun.run_id, IngestRun.status)).all())
        new = conn.execute(select(Batch.run_id, func.count()).group_by(Batch.run_id)).all()
    assert len(summaries) == 2 and set(summaries.values()) <= {"completed", "failed"}
    assert len(new) == 1  # every batch is the first run's; the second found nothing new
    assert _fact_rows(database_url) == sum(rows for *_, rows in batches)
    for name in ("first", "second"):
        assert "Traceback" not in (tmp_path / f"{name}.log").read_text()


def test_an_ingest_while_another_writes_is_told_which_and_changes_nothing(pop_env: Path, database_url: str) -> None:
    with writer_lease(database_url, "the-scheduled-run", "ingest"):
        result = runner.invoke(app, ["ingest", "--as-of", "2024-03-01"], env={"COLUMNS": "200"})
    assert result.exit_code == BUSY_EXIT, result.output
    assert "Another ingest is running since" in result.output and "run the-scheduled-run" in result.output
    assert "Encountered exception during execution" not in result.output  # no traceback: a message
    assert _batches(database_url) == []


def _wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _processing(url: str) -> bool:
    try:
        with get_engine(url).connect() as conn:
            return bool(conn.execute(select(func.count()).where(Batch.status == "processing")).scalar_one())
    except Exception:  # the warehouse is being created
        return False


def test_a_run_killed_mid_load_leaves_nothing_half_done(tmp_path: Path, database_url: str) -> None:
    """SIGKILL while a 200,000-row file loads: no row of it is in the warehouse; the next run closes the killed run
    as crashed, says so, and loads the file exactly once."""
    inbox = tmp_path / "inbox"
    (inbox / "bench").mkdir(parents=True)
    big = inbox / "bench" / "helplines_200000.csv"
    subprocess.run(
        [sys.executable, "-m", "demo.generate", "helpline", "--rows", "200000", "--out", str(big)],
        check=True,
        cwd=paths.ROOT,
    )
    args = ["ingest", "--source", "helpline_bench", "--as-of", "2026-11-01"]
    killed = _pop_process(args, tmp_path, database_url, "killed", inbox)
    try:
        _wait_for(lambda: _processing(database_url), 300, "the batch to start loading")
        time.sleep(1.0)  # well inside the file's transaction
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    assert _fact_rows(database_url) == 0
    [(_, _, status, _)] = _batches(database_url)
    assert status == "processing"
    env = {
        "POP_OUTPUTS_DIR": str(tmp_path / "outputs"),
        "POP_DATABASE_URL": database_url,
        "POP_REGISTRY_PATH": str(DEMO_REGISTRY),
        "POP_INBOX_DIR": str(inbox),
        "COLUMNS": "200",
    }
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "had stopped before it finished (its process ended): closed as crashed" in result.output
    assert "(helplines_200000.csv) was being read by a run that stopped" in result.output
    [(source, name, status, loaded)] = _batches(database_url)
    assert (source, name, status) == ("helpline_bench", "helplines_200000.csv", "loaded")
    with get_engine(database_url).connect() as conn:
        rows_in, quarantined = conn.execute(select(Batch.rows_in, Batch.rows_quarantined)).one()
        statuses = sorted(conn.execute(select(IngestRun.status)).scalars())
    assert rows_in == 200_000 == loaded + quarantined
    assert _fact_rows(database_url) == loaded
    assert statuses == ["completed", "crashed"]
    again = runner.invoke(app, args, env=env)  # and once more: nothing changes
    assert again.exit_code == 0 and _batches(database_url) == [(source, name, status, loaded)]
