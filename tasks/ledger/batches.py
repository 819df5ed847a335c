"""Batch records: one per file received, with its checksum, timings, counts and outcome."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, RowMapping, select, update

from pop.contracts import BatchStatus, BatchSummary, IncomingFile
from pop.db import utcnow
from pop.models import Batch, SourceRecord
from pop.registry import Source

BATCH = Batch.__table__


def find_seen(conn: Connection, source: Source, incoming: IncomingFile) -> RowMapping | None:
    """The finished batch of this very file (same source, name and checksum), if it was ingested before."""
    return (
        conn.execute(
            select(BATCH).where(
                BATCH.c.source_id == source.id,
                BATCH.c.sha256 == incoming.sha256,
                BATCH.c.original_name == incoming.path.name,
            )
        )
        .mappings()
        .first()
    )


def find_same_content(conn: Connection, source: Source, incoming: IncomingFile) -> RowMapping | None:
    """An earlier batch of the same source with the same bytes under another name."""
    return (
        conn.execute(
            select(BATCH)
            .where(
                BATCH.c.source_id == source.id,
                BATCH.c.sha256 == incoming.sha256,
                BATCH.c.original_name != incoming.path.name,
                BATCH.c.duplicate_of.is_(None),
            )
            .order_by(BATCH.c.batch_id)
        )
        .mappings()
        .first()
    )


def open_batch(
    conn: Connection,
    source: Source,
    incoming: IncomingFile,
    landed: str,
    run_id: str | None,
    status: BatchStatus = BatchStatus.PROCESSING,
    **values: Any,
) -> int:
    """Create the batch record of a newly seen file and return its id."""
    now = utcnow()
    result = conn.execute(
        BATCH.insert().values(
            source_id=source.id,
            run_id=run_id,
            original_name=incoming.path.name,
            sha256=incoming.sha256,
            size_bytes=incoming.size_bytes,
            landed_path=landed,
            received_at=now,
            started_at=now,
            status=status,
            rows_in=0,
            rows_loaded=0,
            rows_quarantined=0,
            **values,
        )
    )
    return int(result.inserted_primary_key[0])


def restart_batch(conn: Connection, batch_id: int, run_id: str | None) -> None:
    """An interrupted batch (its run died before the file's transaction committed: nothing of it was loaded) is read
    again."""
    conn.execute(
        update(BATCH)
        .where(BATCH.c.batch_id == batch_id)
        .values(run_id=run_id, started_at=utcnow(), status=BatchStatus.PROCESSING, message=None)
    )


def close_batch(
    conn: Connection,
    batch_id: int,
    *,
    status: BatchStatus,
    rows_in: int,
    rows_loaded: int,
    rows_quarantined: int,
    message: str | None,
    failures: list[dict],
) -> None:
    batch = conn.execute(select(BATCH.c.started_at).where(BATCH.c.batch_id == batch_id)).scalar_one()
    finished = utcnow()
    started = batch if batch.tzinfo else batch.replace(tzinfo=dt.UTC)
    conn.execute(
        update(BATCH)
        .where(BATCH.c.batch_id == batch_id)
        .values(
            status=status,
            rows_in=rows_in,
            rows_loaded=rows_loaded,
            rows_quarantined=rows_quarantined,
            message=message,
            failures_json=json.dumps(failures, default=str),
            finished_at=finished,
            duration_s=round((finished - started).total_seconds(), 3),
        )
    )


def batch_summary(conn: Connection, batch_id: int) -> BatchSummary:
    """The batch as the steward report shows it."""
    row = (
        conn.execute(
            select(
                BATCH,
                SourceRecord.__table__.c.stakeholder_group,
                SourceRecord.__table__.c.organisation,
                SourceRecord.__table__.c.contact,
            )
            .join(SourceRecord.__table__, SourceRecord.__table__.c.id == BATCH.c.source_id)
            .where(BATCH.c.batch_id == batch_id)
        )
        .mappings()
        .one()
    )
    record = {key: value for key, value in row.items() if key not in ("failures_json", "stakeholder_group")}
    failures = json.loads(row["failures_json"]) if row["failures_json"] else []
    return BatchSummary(**record, group=row["stakeholder_group"], failures=failures)


def all_batches(conn: Connection) -> list[BatchSummary]:
    ids = conn.execute(select(BATCH.c.batch_id).order_by(BATCH.c.batch_id.desc())).scalars().all()
    return [batch_summary(conn, batch_id) for batch_id in ids]
