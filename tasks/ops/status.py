"""The state of the warehouse for an operator: the last runs, runs still going, batches left processing or waiting
for review, open quarantine per source, open discrepancies, the next scheduled runs and the warehouse's size."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from cronsim import CronSim
from sqlalchemy import Connection, func, select, text
from sqlalchemy.engine import make_url

from pop import paths
from pop.contracts import BatchStatus, QuarantineStatus, RunStatus
from pop.db import get_engine, utcnow
from pop.models import Batch, IngestRun, QuarantineRow
from tasks.ledger.lease import Holder, current_holder, holder_alive
from tasks.ledger.review import pending_loaded_batches
from tasks.quality.discrepancies import open_discrepancies

RUNS = IngestRun.__table__
BATCHES = Batch.__table__
QUARANTINE = QuarantineRow.__table__
PREFECT_FILE = paths.ROOT / "prefect.yaml"


@dataclass(frozen=True)
class Run:
    """One ingest run as the warehouse records it (its status as stored: running, completed, failed, crashed...)."""

    run_id: str
    name: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    message: str | None


@dataclass(frozen=True)
class Scheduled:
    """A deployment's next fire time by its schedule in prefect.yaml."""

    deployment: str
    cron: str
    timezone: str
    next_run: dt.datetime


@dataclass(frozen=True)
class Status:
    """What `pop status` shows."""

    now: dt.datetime
    runs: list[Run]
    unfinished: list[Run]  # neither completed nor failed: running (or crashed, or what else a run may be)
    processing: list[dict[str, Any]]
    pending_review: list[int]
    open_quarantine: dict[str, int]
    discrepancies: dict[str, int]
    schedules: list[Scheduled]
    size_bytes: int
    size_detail: dict[str, int] = field(default_factory=dict)
    writer: Holder | None = None  # the writer lease's row: the run writing now (or a dead one's, not yet replaced)
    writer_alive: bool = False  # whether its process holds the guard now


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored timestamp as an aware UTC datetime (SQLite gives them back naive)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _run(row: Any) -> Run:
    return Run(row.run_id, row.flow_run_name, utc(row.started_at), utc(row.finished_at), row.status, row.message)  # type: ignore[arg-type]


def last_runs(conn: Connection, limit: int = 10) -> list[Run]:
    """The newest runs, newest first."""
    return [_run(r) for r in conn.execute(select(RUNS).order_by(RUNS.c.started_at.desc()).limit(limit))]


def unfinished_runs(conn: Connection) -> list[Run]:
    """Every run neither completed nor failed (running, or another status such as crashed), oldest first."""
    done = [RunStatus.COMPLETED.value, RunStatus.FAILED.value]
    query = select(RUNS).where(RUNS.c.status.not_in(done)).order_by(RUNS.c.started_at)
    return [_run(r) for r in conn.execute(query)]


def processing_batches(conn: Connection) -> list[dict[str, Any]]:
    """Batches being read, or interrupted (their run died; read again when their file is seen): their id, status,
    source, file, run and since when."""
    query = (
        select(
            BATCHES.c.batch_id,
            BATCHES.c.status,
            BATCHES.c.source_id,
            BATCHES.c.original_name,
            BATCHES.c.run_id,
            BATCHES.c.started_at,
        )
        .where(BATCHES.c.status.in_([BatchStatus.PROCESSING, BatchStatus.INTERRUPTED]))
        .order_by(BATCHES.c.batch_id)
    )
    return [{**r._mapping, "started_at": utc(r.started_at)} for r in conn.execute(query)]


def open_quarantine_by_source(conn: Connection) -> dict[str, int]:
    """Open quarantined rows per source."""
    query = (
        select(QUARANTINE.c.source_id, func.count())
        .where(QUARANTINE.c.status == QuarantineStatus.OPEN)
        .group_by(QUARANTINE.c.source_id)
        .order_by(QUARANTINE.c.source_id)
    )
    return {r[0]: r[1] for r in conn.execute(query).all()}


def next_runs(prefect_file: Path = PREFECT_FILE, now: dt.datetime | None = None) -> list[Scheduled]:
    """The next fire time of every active schedule of the deployments in prefect.yaml."""
    now = now or utcnow()
    document = yaml.safe_load(prefect_file.read_text(encoding="utf-8")) or {}
    found = []
    for deployment in document.get("deployments") or []:
        for schedule in deployment.get("schedules") or []:
            if not schedule.get("cron") or schedule.get("active") is False:
                continue
            zone = schedule.get("timezone") or "UTC"
            upcoming = next(CronSim(schedule["cron"], now.astimezone(ZoneInfo(zone))))
            found.append(Scheduled(deployment["name"], schedule["cron"], zone, upcoming))
    return sorted(found, key=lambda s: s.next_run)


def warehouse_size(url: str, conn: Connection) -> dict[str, int]:
    """The warehouse's size in bytes: a SQLite file and its -wal (and -shm) beside it, or the PostgreSQL database."""
    if make_url(url).get_backend_name() == "sqlite":
        main = Path(make_url(url).database or "")
        parts = {main.name: main, "-wal": Path(f"{main}-wal"), "-shm": Path(f"{main}-shm")}
        return {name: p.stat().st_size for name, p in parts.items() if p.exists()}
    return {"database": conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()}


def warehouse_status(url: str, runs: int = 10, prefect_file: Path = PREFECT_FILE) -> Status:
    """Everything `pop status` shows, read from the warehouse and prefect.yaml."""
    discrepancies: dict[str, int] = {}
    for found in open_discrepancies(url):
        discrepancies[found.check_id] = discrepancies.get(found.check_id, 0) + 1
    with get_engine(url).connect() as conn:
        sizes = warehouse_size(url, conn)
        return Status(
            now=utcnow(),
            runs=last_runs(conn, runs),
            unfinished=unfinished_runs(conn),
            processing=processing_batches(conn),
            pending_review=pending_loaded_batches(conn),
            open_quarantine=open_quarantine_by_source(conn),
            discrepancies=discrepancies,
            schedules=next_runs(prefect_file),
            size_bytes=sum(sizes.values()),
            size_detail=sizes,
            writer=current_holder(url),
            writer_alive=holder_alive(url),
        )
