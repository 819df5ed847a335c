"""Steward review: approve or reject batches, dismiss quarantined rows, and the audit trail of every action.
Only approved batches feed snapshots and releases."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select, update

from pop.contracts import BatchStatus, QuarantineStatus, ReviewStatus
from pop.db import utcnow
from pop.models import Batch, QuarantineRow, StewardAction
from pop.settings import get_settings
from tasks.ledger.additions import load_review_rules, small_addition

BATCH = Batch.__table__
QUARANTINE = QuarantineRow.__table__
ACTIONS = StewardAction.__table__
AUTOMATIC = "pop (automatic)"


class ReviewError(ValueError):
    """A steward action that cannot be taken; the message says why."""


def _missing(conn: Connection, noun: str, column: ColumnElement[int], wanted: int, listed_by: str) -> ReviewError:
    """'there is no batch 999; the newest is 15': an id asked for that does not exist, and the newest that does."""
    newest = conn.execute(select(func.max(column))).scalar()
    there = f"the newest is {newest} ({listed_by} lists them)" if newest is not None else "there is none yet"
    return ReviewError(f"there is no {noun} {wanted}; {there}")


def no_batch(conn: Connection, batch_id: int) -> ReviewError:
    """The error for a batch id that does not exist, naming the newest batch."""
    return _missing(conn, "batch", BATCH.c.batch_id, batch_id, "`pop batches`")


def record_action(
    conn: Connection,
    actor: str,
    action: str,
    *,
    batch_id: int | None = None,
    quarantine_id: int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write one line of the audit trail."""
    conn.execute(
        ACTIONS.insert().values(
            at=utcnow(),
            actor=actor,
            action=action,
            batch_id=batch_id,
            quarantine_id=quarantine_id,
            reason=reason,
            details_json=json.dumps(details, default=str) if details else None,
        )
    )


def auto_approve_if_clean(conn: Connection, batch_id: int) -> bool:
    """Approve a loaded batch with no quarantined row (when the setting allows; rows added up into another row of
    the file, as its source asks, are not held back), unless it is a small addition of children's data
    (tasks/ledger/additions.py: then the audit trail says why it waits); True when it did."""
    batch = conn.execute(
        select(BATCH.c.status, BATCH.c.rows_quarantined, BATCH.c.review_status).where(BATCH.c.batch_id == batch_id)
    ).one()
    combined = conn.execute(
        select(func.count())
        .select_from(QUARANTINE)
        .where(QUARANTINE.c.batch_id == batch_id, QUARANTINE.c.status == QuarantineStatus.COMBINED)
    ).scalar_one()
    held = batch.rows_quarantined - combined
    if batch.status != BatchStatus.LOADED or held or batch.review_status != ReviewStatus.PENDING:
        return False
    if why := small_addition(conn, batch_id, load_review_rules(get_settings().review_path)):
        reason = f"not approved automatically: {why}"
        record_action(conn, AUTOMATIC, "hold for review", batch_id=batch_id, reason=reason)
        return False
    conn.execute(update(BATCH).where(BATCH.c.batch_id == batch_id).values(review_status=ReviewStatus.APPROVED))
    record_action(conn, AUTOMATIC, "approve", batch_id=batch_id, reason="clean batch: no row quarantined")
    return True


def loaded_batch(conn: Connection, batch_id: int, purpose: str = "only loaded batches are reviewed") -> Any:
    """The batch, which must exist and be loaded; otherwise a ReviewError ending with `purpose`."""
    batch = conn.execute(select(BATCH).where(BATCH.c.batch_id == batch_id)).mappings().first()
    if batch is None:
        raise no_batch(conn, batch_id)
    if batch["status"] != BatchStatus.LOADED:
        raise ReviewError(f"batch {batch_id} ({batch['original_name']}) is {batch['status']}: {purpose}")
    return batch


def review_batch(conn: Connection, batch_id: int, decision: ReviewStatus, actor: str, reason: str | None) -> None:
    """Approve or reject a loaded batch, with the steward's reason (required to reject)."""
    if decision not in (ReviewStatus.APPROVED, ReviewStatus.REJECTED):
        raise ReviewError(f"unknown decision {decision!r}: approved or rejected")
    if decision == ReviewStatus.REJECTED and not (reason or "").strip():
        raise ReviewError("a rejection needs a reason, so the sender and other stewards know why")
    batch = loaded_batch(conn, batch_id)
    conn.execute(update(BATCH).where(BATCH.c.batch_id == batch_id).values(review_status=decision))
    record_action(
        conn,
        actor,
        "approve" if decision == ReviewStatus.APPROVED else "reject",
        batch_id=batch_id,
        reason=reason,
        details={"was": batch["review_status"]},
    )


def dismiss_quarantined(conn: Connection, quarantine_id: int, actor: str, reason: str) -> int:
    """Close an open quarantined row without loading it (e.g. a true duplicate), with a reason; the row's batch."""
    if not (reason or "").strip():
        raise ReviewError("dismissing a quarantined row needs a reason")
    row = conn.execute(select(QUARANTINE).where(QUARANTINE.c.quarantine_id == quarantine_id)).mappings().first()
    if row is None:
        raise _missing(conn, "quarantined row", QUARANTINE.c.quarantine_id, quarantine_id, "`pop quarantine list`")
    if row["status"] != QuarantineStatus.OPEN:
        raise ReviewError(f"quarantined row {quarantine_id} is not open (it is {row['status']})")
    conn.execute(
        update(QUARANTINE)
        .where(QUARANTINE.c.quarantine_id == quarantine_id)
        .values(status=QuarantineStatus.DISMISSED, resolved_at=utcnow())
    )
    record_action(conn, actor, "dismiss", batch_id=row["batch_id"], quarantine_id=quarantine_id, reason=reason)
    return int(row["batch_id"])


def audit_trail(conn: Connection, limit: int | None = None, batch_id: int | None = None) -> list[dict[str, Any]]:
    """Steward actions (only those on one batch when given), newest first."""
    query = select(ACTIONS).order_by(ACTIONS.c.action_id.desc())
    if batch_id is not None:
        query = query.where(ACTIONS.c.batch_id == batch_id)
    if limit:
        query = query.limit(limit)
    return [{**dict(r), "at": r["at"].isoformat() if r["at"] else None} for r in conn.execute(query).mappings()]


def open_quarantine_count(conn: Connection) -> int:
    query = select(func.count()).select_from(QUARANTINE).where(QUARANTINE.c.status == QuarantineStatus.OPEN)
    return conn.execute(query).scalar_one()


def pending_loaded_batches(conn: Connection) -> list[int]:
    """The ids of loaded batches awaiting review, oldest first."""
    return list(
        conn.execute(
            select(BATCH.c.batch_id)
            .where(BATCH.c.status == BatchStatus.LOADED, BATCH.c.review_status == ReviewStatus.PENDING)
            .order_by(BATCH.c.batch_id)
        ).scalars()
    )
