"""One writer at a time: the writer lease a run holds while it ingests into the warehouse.

Two parts. The guard proves who is alive: a PostgreSQL session advisory lock, or an exclusive lock on a file beside
a SQLite warehouse; the server or the kernel lets go of it the moment its process ends, however it ends (SIGKILL
included), so a run that takes the guard knows the previous holder is gone. The lease row (writer_lease) says who
holds it, since when, and its last heartbeat, so that a second run can say who it waits for, and `pop status` what
is running. What a run that died left half-done is closed under the guard (`recover`), never while its owner may
still be writing.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, delete, select, text, update
from sqlalchemy.engine import make_url

from pop.contracts import BatchStatus, RunStatus
from pop.db import get_engine, upgrade, utcnow, writing
from pop.models import Batch, IngestRun, WriterLease

log = logging.getLogger(__name__)

LEASE = "warehouse"
WRITER_LOCK = 0x504F505F57524954  # PostgreSQL advisory lock key of the warehouse writer ("POP_WRIT")
HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 1.0  # how often a run that waits for the lease tries again
LEASES = WriterLease.__table__
RUNS = IngestRun.__table__
BATCHES = Batch.__table__


class Guard(Protocol):
    """What proves a writer alive: held until released or until its process ends."""

    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...


class FileGuard:
    """An exclusive lock (flock) on a file beside the SQLite warehouse."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: IO[str] | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self.handle = handle
        return True

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


class AdvisoryGuard:
    """A PostgreSQL session advisory lock, held by a connection of its own for as long as the run writes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Connection | None = None

    def try_acquire(self) -> bool:
        conn = get_engine(self.url).connect()
        taken = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": WRITER_LOCK}).scalar_one()
        conn.commit()
        if not taken:
            conn.close()
            return False
        self.conn = conn
        return True

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": WRITER_LOCK})
                self.conn.commit()
            finally:
                self.conn.close()
                self.conn = None


class NoGuard:
    """An in-memory SQLite warehouse lives in one process: nothing else can write to it."""

    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        return None


def guard_for(url: str) -> Guard:
    """The guard of a warehouse: an advisory lock on PostgreSQL, a lock file beside a SQLite file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return AdvisoryGuard(url)
    if parsed.database and parsed.database != ":memory:":
        return FileGuard(Path(parsed.database).with_name(Path(parsed.database).name + ".writer-lock"))
    return NoGuard()


@dataclass(frozen=True)
class Holder:
    """The lease as its row records it."""

    run_id: str
    purpose: str
    holder: str
    acquired_at: dt.datetime
    heartbeat_at: dt.datetime

    def describe(self, now: dt.datetime | None = None) -> str:
        now = now or utcnow()
        beat = int((now - _aware(self.heartbeat_at)).total_seconds())
        return (
            f"another {self.purpose} is running since {_aware(self.acquired_at):%Y-%m-%d %H:%M:%S} UTC (run "
            f"{self.run_id}, process {self.holder}, last heartbeat {beat} s ago)"
        )


class WarehouseBusyError(RuntimeError):
    """Another run holds the writer lease."""

    def __init__(self, holder: Holder | None, waited: float) -> None:
        who = holder.describe() if holder else "another run is writing to the warehouse (not yet recorded)"
        after = f" after waiting {waited:.0f} s" if waited >= 1 else ""
        super().__init__(
            f"{who[0].upper()}{who[1:]}; nothing was done{after}. Run again when it has finished, or wait for it "
            "with --wait SECONDS (POP_WRITER_WAIT_SECONDS)."
        )
        self.holder = holder


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def current_holder(url: str) -> Holder | None:
    """The lease's row, if a run holds (or held, and died holding) the lease; None on a warehouse without one."""
    try:
        with get_engine(url).connect() as conn:
            row = conn.execute(select(LEASES).where(LEASES.c.name == LEASE)).mappings().first()
    except Exception:  # a warehouse not yet created or migrated has no lease
        return None
    return Holder(**{k: row[k] for k in Holder.__dataclass_fields__}) if row else None


def holder_alive(url: str) -> bool:
    """Whether a live process holds the guard now (tried without waiting, and let go at once)."""
    guard = guard_for(url)
    if guard.try_acquire():
        guard.release()
        return False
    return True


@dataclass(frozen=True)
class Recovered:
    """What runs that died left behind and this run closed: their ids, and the batches they left being read."""

    runs: tuple[str, ...] = ()
    batches: tuple[tuple[int, str], ...] = ()  # (batch id, file name)

    def notes(self) -> tuple[str, ...]:
        """One sentence each, for the run summary and the console."""
        said = [f"run {r} had stopped before it finished (its process ended): closed as crashed" for r in self.runs]
        said += [
            f"batch {b} ({name}) was being read by a run that stopped: nothing of it was loaded; it is read again "
            "when its file is in the inbox"
            for b, name in self.batches
        ]
        return tuple(said)


def recover(conn: Connection, run_id: str) -> Recovered:
    """Close what dead runs left (call under the guard only: then no other writer is alive). A run still 'running'
    is crashed; a batch still 'processing' is interrupted (its transaction never committed, so nothing of it is in
    the warehouse) and is read again when its file is next seen."""
    now = utcnow()
    dead = select(RUNS.c.run_id).where(RUNS.c.status == RunStatus.RUNNING, RUNS.c.run_id != run_id)
    runs = tuple(conn.execute(dead).scalars().all())
    if runs:
        conn.execute(
            update(RUNS)
            .where(RUNS.c.run_id.in_(runs))
            .values(
                status=RunStatus.CRASHED,
                finished_at=now,
                message=f"its process stopped before the run finished; closed by run {run_id}",
            )
        )
    left = conn.execute(
        select(BATCHES.c.batch_id, BATCHES.c.original_name, BATCHES.c.run_id).where(
            BATCHES.c.status == BatchStatus.PROCESSING
        )
    ).all()
    for batch_id, name, owner in left:
        conn.execute(
            update(BATCHES)
            .where(BATCHES.c.batch_id == batch_id)
            .values(
                status=BatchStatus.INTERRUPTED,
                finished_at=now,
                message=f"{name}: the run reading it ({owner}) stopped before the file's transaction committed; "
                "nothing of it was loaded. It is read again when the file is in the inbox.",
            )
        )
    return Recovered(runs=runs, batches=tuple((b, n) for b, n, _ in left))


class Heartbeat(threading.Thread):
    """Writes the lease's heartbeat every few seconds until stopped (a failure to write one is logged, not raised)."""

    def __init__(self, url: str, run_id: str, every: float = HEARTBEAT_SECONDS) -> None:
        super().__init__(name="pop-lease-heartbeat", daemon=True)
        self.url, self.run_id, self.every = url, run_id, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                with writing(self.url) as conn:
                    conn.execute(
                        update(LEASES)
                        .where(LEASES.c.name == LEASE, LEASES.c.run_id == self.run_id)
                        .values(heartbeat_at=utcnow())
                    )
            except Exception as exc:  # the heartbeat tells others; the run goes on without it (on SQLite it may
                # wait behind this run's own long load for the write lock)
                log.info("the writer lease's heartbeat could not be written: %s", exc)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


@dataclass(frozen=True)
class Lease:
    """The lease a run holds, and what it closed that dead runs had left."""

    run_id: str
    recovered: Recovered


def _take(url: str, run_id: str, purpose: str) -> Recovered:
    """Record the lease (replacing a dead holder's row) and close what dead runs left, in one transaction."""
    now = utcnow()
    with writing(url) as conn:
        conn.execute(delete(LEASES).where(LEASES.c.name == LEASE))
        conn.execute(
            LEASES.insert().values(
                name=LEASE, run_id=run_id, purpose=purpose, holder=this_process(), acquired_at=now, heartbeat_at=now
            )
        )
        return recover(conn, run_id)


@contextmanager
def writer_lease(url: str, run_id: str, purpose: str, wait_seconds: float = 0.0) -> Iterator[Lease]:
    """Hold the warehouse's writer lease while inside: wait up to `wait_seconds` for another holder to finish, else
    raise WarehouseBusyError naming it. The schema is brought to head under the lease (so two first runs never race to
    create it), dead runs' leftovers are closed, and a heartbeat is kept until the lease is let go."""
    guard = guard_for(url)
    started = time.monotonic()
    while not guard.try_acquire():
        waited = time.monotonic() - started
        if waited >= wait_seconds:
            raise WarehouseBusyError(current_holder(url), waited)
        time.sleep(min(POLL_SECONDS, max(0.05, wait_seconds - waited)))
    heartbeat: Heartbeat | None = None
    try:
        upgrade(url)
        recovered = _take(url, run_id, purpose)
        for note in recovered.notes():
            log.warning("%s", note)
        heartbeat = Heartbeat(url, run_id)
        heartbeat.start()
        yield Lease(run_id=run_id, recovered=recovered)
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        try:
            with writing(url) as conn:
                conn.execute(delete(LEASES).where(LEASES.c.name == LEASE, LEASES.c.run_id == run_id))
        except Exception as exc:  # the guard is let go regardless: the next run replaces a row left behind
            log.warning("the writer lease's row could not be removed: %s", exc)
        guard.release()
