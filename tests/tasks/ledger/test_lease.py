"""The writer lease (issue 12, point 1): one writer at a time, a second told who writes, dead runs' leftovers closed
only once their process is provably gone, and reads that see one state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from pop.contracts import BatchStatus, RunStatus
from pop.db import get_engine, reading, utcnow, writing
from pop.files import whole_folder
from pop.models import Batch, IngestRun, SourceRecord
from tasks.ledger.lease import WarehouseBusyError, current_holder, holder_alive, writer_lease

ROOT = Path(__file__).resolve().parents[3]


def _source(url: str) -> None:
    with writing(url) as conn:
        conn.execute(
            insert(SourceRecord.__table__).values(
                id="s",
                stakeholder_group="helplines_services",
                organisation="o",
                format="csv",
                licence="l",
                contact="c",
                update_frequency="monthly",
            )
        )


def _left_running(url: str, run_id: str, file: str) -> int:
    """What a run killed mid-load leaves: its run 'running', its batch 'processing'."""
    with writing(url) as conn:
        conn.execute(insert(IngestRun.__table__).values(run_id=run_id, started_at=utcnow(), status="running"))
        result = conn.execute(
            insert(Batch.__table__).values(
                source_id="s",
                run_id=run_id,
                original_name=file,
                sha256="0" * 64,
                size_bytes=1,
                landed_path="x",
                received_at=utcnow(),
                status="processing",
            )
        )
        return int(result.inserted_primary_key[0])


def _statuses(url: str) -> tuple[dict[str, str], dict[int, str]]:
    with get_engine(url).connect() as conn:
        runs = dict(conn.execute(select(IngestRun.run_id, IngestRun.status)).all())
        batches = dict(conn.execute(select(Batch.batch_id, Batch.status)).all())
    return runs, batches


def test_a_second_writer_is_told_who_writes_and_since_when(database_url: str) -> None:
    with writer_lease(database_url, "run-one", "ingest"):
        assert holder_alive(database_url)
        with pytest.raises(WarehouseBusyError) as busy, writer_lease(database_url, "run-two", "ingest"):
            pytest.fail("two writers at once")
        message = str(busy.value)
        assert message.startswith("Another ingest is running since ")
        assert "(run run-one, process " in message and "--wait SECONDS" in message
        holder = current_holder(database_url)
        assert holder is not None and holder.run_id == "run-one"
    assert current_holder(database_url) is None and not holder_alive(database_url)
    with writer_lease(database_url, "run-two", "ingest"):  # free again
        pass


def test_a_second_writer_that_waits_gets_the_lease_when_the_first_lets_go(database_url: str) -> None:
    first_done = threading.Event()
    order: list[str] = []

    def first() -> None:
        with writer_lease(database_url, "run-one", "ingest"):
            order.append("one in")
            time.sleep(1.5)
            order.append("one out")
        first_done.set()

    thread = threading.Thread(target=first)
    thread.start()
    while not order:
        time.sleep(0.05)
    with writer_lease(database_url, "run-two", "ingest", wait_seconds=30):
        order.append("two in")
    thread.join()
    assert order == ["one in", "one out", "two in"]


def test_waiting_has_an_end(database_url: str) -> None:
    with writer_lease(database_url, "run-one", "ingest"):
        started = time.monotonic()
        with (
            pytest.raises(WarehouseBusyError, match="after waiting 1 s"),
            writer_lease(database_url, "run-two", "ingest", wait_seconds=1.2),
        ):
            pass
        assert time.monotonic() - started >= 1.2


HOLDER = textwrap.dedent(
    """
    import sys, time
    from tasks.ledger.lease import writer_lease
    with writer_lease(sys.argv[1], "run-killed", "ingest"):
        print("holding", flush=True)
        time.sleep(600)
    """
)


def test_what_a_killed_run_left_is_closed_only_once_its_process_is_gone(database_url: str) -> None:
    """A run killed with SIGKILL lets go of nothing itself: while it lives its batch is left alone; once it is dead
    the next writer closes its run as crashed and its batch as interrupted, and says so."""
    _source(database_url)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, database_url], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        batch_id = _left_running(database_url, "run-killed", "contacts.csv")
        with (
            pytest.raises(WarehouseBusyError, match="run run-killed"),
            writer_lease(database_url, "run-next", "ingest"),
        ):
            pass
        assert _statuses(database_url) == ({"run-killed": "running"}, {batch_id: "processing"})
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with writer_lease(database_url, "run-next", "ingest") as lease:
        notes = lease.recovered.notes()
    runs, batches = _statuses(database_url)
    assert runs == {"run-killed": RunStatus.CRASHED} and batches == {batch_id: BatchStatus.INTERRUPTED}
    assert notes[0] == "run run-killed had stopped before it finished (its process ended): closed as crashed"
    assert f"batch {batch_id} (contacts.csv) was being read by a run that stopped" in notes[1]
    with get_engine(database_url).connect() as conn:
        message = conn.execute(select(Batch.message).where(Batch.batch_id == batch_id)).scalar_one()
    assert "nothing of it was loaded" in message


def test_a_reader_sees_one_state_while_a_steward_commits(database_url: str) -> None:
    """What a snapshot reads (pop.db.reading) does not change under it: an approval committed between two of its
    reads is in neither."""
    _source(database_url)
    batch_id = _left_running(database_url, "run-1", "a.csv")
    approved = text("SELECT count(*) FROM batches WHERE review_status = 'approved'")
    with reading(database_url) as conn:
        before = conn.execute(approved).scalar_one()
        with writing(database_url) as other:
            other.execute(text("UPDATE batches SET review_status = 'approved' WHERE batch_id = :b"), {"b": batch_id})
        assert conn.execute(approved).scalar_one() == before == 0
    with reading(database_url) as conn:
        assert conn.execute(approved).scalar_one() == 1


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pop.files import whole_folder
    with whole_folder(Path(sys.argv[1])) as folder:
        (folder / "index.html").write_text("half")
        print("writing", flush=True)
        time.sleep(600)
    """
)


def test_a_folder_killed_half_way_is_never_left_under_its_name(tmp_path: Path) -> None:
    target = tmp_path / "snapshots" / "2024-03-01-abc"
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(target)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir()] == [f".{target.name}.partial-{writer.pid}"]
    with whole_folder(target) as folder:  # the next writer removes what the dead one left, and writes it whole
        (folder / "index.html").write_text("whole")
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    assert (target / "index.html").read_text() == "whole"


def test_a_folder_written_again_replaces_the_old_one_whole(tmp_path: Path) -> None:
    target = tmp_path / "snap"
    with whole_folder(target) as folder:
        (folder / "a.txt").write_text("1")
        (folder / "old.txt").write_text("1")
    with pytest.raises(RuntimeError), whole_folder(target) as folder:
        (folder / "a.txt").write_text("2")
        raise RuntimeError("the render failed")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt", "old.txt"] and (target / "a.txt").read_text() == "1"
    with whole_folder(target) as folder:
        (folder / "a.txt").write_text("2")
    assert [p.name for p in target.iterdir()] == ["a.txt"] and (target / "a.txt").read_text() == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]
