"""What a data steward does with a batch: look at it, approve or reject it, export its quarantined rows for the
sender, and take the corrected file back as a correction of it. Every action goes to the audit trail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from pop.contracts import BatchStatus, QuarantineStatus, ReviewStatus, SourceOutcome
from pop.db import get_engine, writing
from pop.models import Batch, QuarantineRow
from pop.registry import Registry
from tasks.ingest.batch import ingest_file
from tasks.ingest.errata import Erratum
from tasks.ingest.inbox import NotARegularFileError, take_file
from tasks.ingest.issues import check_texts
from tasks.ledger import batches
from tasks.ledger.review import ReviewError, loaded_batch, no_batch, record_action
from tasks.steward.corrections import export_quarantined, reconcile
from tasks.steward.outcomes import BatchDetails, CorrectionOutcome, QuarantinedRow

BATCH = Batch.__table__
QUARANTINE = QuarantineRow.__table__


def list_batches(
    database_url: str, status: BatchStatus | None = None, review: ReviewStatus | None = None
) -> list[dict[str, Any]]:
    """Every batch (newest first), optionally only one status or review state."""
    query = select(BATCH).order_by(BATCH.c.batch_id.desc())
    if status:
        query = query.where(BATCH.c.status == status)
    if review:
        query = query.where(BATCH.c.review_status == review)
    with get_engine(database_url).connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def batch_record(database_url: str, batch_id: int) -> dict[str, Any]:
    """One batch's record; a ReviewError naming the newest batch when there is no such batch."""
    with get_engine(database_url).connect() as conn:
        batch = conn.execute(select(BATCH).where(BATCH.c.batch_id == batch_id)).mappings().first()
        if batch is None:
            raise no_batch(conn, batch_id)
    return dict(batch)


def open_quarantined(
    database_url: str,
    source: str | None = None,
    batch_id: int | None = None,
    check: str | None = None,
    limit: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """The open quarantined rows, oldest first, with their reasons: only a source's, a batch's or those failing a
    check when given, at most `limit`; and how many match in all."""
    query = select(
        QUARANTINE.c.quarantine_id,
        QUARANTINE.c.batch_id,
        QUARANTINE.c.source_id,
        QUARANTINE.c.row_number,
        QUARANTINE.c.reasons_json,
    ).where(QUARANTINE.c.status == QuarantineStatus.OPEN)
    if source is not None:
        query = query.where(QUARANTINE.c.source_id == source)
    if batch_id is not None:
        query = query.where(QUARANTINE.c.batch_id == batch_id)
    if check is not None:  # reasons are stored as json.dumps writes them: '"check": "<code>"' names a reason's check
        query = query.where(QUARANTINE.c.reasons_json.contains(json.dumps({"check": check})[1:-1], autoescape=True))
    if batch_id is not None:
        batch_record(database_url, batch_id)  # a batch that does not exist is named, not listed as having no row
    with get_engine(database_url).connect() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(query.order_by(QUARANTINE.c.quarantine_id).limit(limit)).mappings().all()
    return [{**row, "reasons": json.loads(row["reasons_json"])} for row in rows], total


def known_checks(database_url: str) -> set[str]:
    """Every check a row can fail: those schemas/checks.yaml words, and those quarantined rows did fail (row rules,
    errata, outsized cells)."""
    with get_engine(database_url).connect() as conn:
        stored = conn.execute(select(QUARANTINE.c.reasons_json).distinct()).scalars()
        return set(check_texts()) | {reason["check"] for reasons in stored for reason in json.loads(reasons)}


def batch_details(database_url: str, batch_id: int) -> BatchDetails:
    """One batch with its failed checks, its quarantined rows and where its rows are now."""
    with get_engine(database_url).connect() as conn:
        if conn.execute(select(BATCH.c.batch_id).where(BATCH.c.batch_id == batch_id)).first() is None:
            raise no_batch(conn, batch_id)
        summary = batches.batch_summary(conn, batch_id)
        rows = conn.execute(
            select(QUARANTINE).where(QUARANTINE.c.batch_id == batch_id).order_by(QUARANTINE.c.row_number)
        ).mappings()
        quarantined = [
            QuarantinedRow(
                quarantine_id=r["quarantine_id"],
                row_number=r["row_number"],
                fields=r["fields"],
                reasons=json.loads(r["reasons_json"]),
                original=json.loads(r["original_json"]),
                status=r["status"],
            )
            for r in rows
        ]
        reconciliation = reconcile(conn, batch_id) if summary.status == BatchStatus.LOADED else None
    return BatchDetails(batch=summary, quarantined=tuple(quarantined), reconciliation=reconciliation)


def export_batch(database_url: str, registry: Registry, batch_id: int, path: Path, actor: str) -> Path:
    """Write a batch's open quarantined rows for its sender, in their format and column names (audited)."""
    with writing(database_url) as conn:
        batch = conn.execute(select(BATCH).where(BATCH.c.batch_id == batch_id)).mappings().first()
        if batch is None:
            raise no_batch(conn, batch_id)
        written = export_quarantined(conn, registry.get(batch["source_id"]), batch_id, path)
        record_action(conn, actor, "export", batch_id=batch_id, details={"file": str(written)})
    return written


def _original_source(database_url: str, batch_id: int) -> str:
    """The source of the batch a correction is for, which must be loaded."""
    with get_engine(database_url).connect() as conn:
        return loaded_batch(
            conn,
            batch_id,
            "only a loaded batch with quarantined rows can be corrected (a failed file is sent again as a new file)",
        )["source_id"]


def correction_refusal(database_url: str, batch_id: int, path: Path) -> str | None:
    """Why batch `batch_id` cannot be corrected with the file at `path` (no such loaded batch; not a regular file),
    or None: checked before a correction run starts, so a refusal is a message, not a failed run."""
    try:
        _original_source(database_url, batch_id)
        take_file(Path(path))
    except (ReviewError, NotARegularFileError) as refused:
        return str(refused)
    return None


def submit_correction(
    database_url: str,
    registry: Registry,
    batch_id: int,
    path: Path,
    *,
    landing_dir: Path,
    chunk_rows: int,
    actor: str,
    run_id: str | None = None,
    errata: list[Erratum] | None = None,
    auto_approve: bool = True,
    reason: str | None = None,
) -> CorrectionOutcome:
    """Ingest a corrected file as a correction of batch `batch_id`: its rows load (resolving the originals) or go
    back to quarantine with new reasons. Returns the correction batch, the original's reconciliation, and the
    correction as its source's outcome in the run."""
    source = registry.get(_original_source(database_url, batch_id))
    path = Path(path)
    incoming = take_file(path)  # the file itself: not a link, a folder, a pipe or a device
    correction = ingest_file(
        source,
        incoming,
        database_url=database_url,
        landing_dir=landing_dir,
        chunk_rows=chunk_rows,
        run_id=run_id,
        errata=errata or (),
        auto_approve=auto_approve,
        corrects=batch_id,
    )
    with writing(database_url) as conn:
        if correction is not None:
            record_action(
                conn,
                actor,
                "correction",
                batch_id=batch_id,
                reason=reason,
                details={"correction_batch": correction.batch_id, "file": path.name, "status": correction.status},
            )
        numbers = reconcile(conn, batch_id)
    batches_in_run = [correction] if correction else []
    return CorrectionOutcome(
        correction=correction, reconciliation=numbers, source=SourceOutcome.of(source.id, source.group, batches_in_run)
    )
