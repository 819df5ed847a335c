"""Correction files: a corrected file keeps a pop_row column linking each row to the row it corrects in the original
batch (and a pop_problems column, ignored on the way back); loading it resolves the originals whose corrections load
and marks the others resubmitted."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, select, update

from pop.contracts import QuarantineStatus
from pop.db import utcnow
from pop.files import restore_cell
from pop.models import QuarantineRow

ROW_LINK = "pop_row"  # the row number the corrected row had in the original file
PROBLEMS = "pop_problems"  # what was wrong, in plain words (ignored when the file comes back)
CORRECTION_COLUMNS = (ROW_LINK, PROBLEMS)
QUARANTINE = QuarantineRow.__table__


def split_links(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The correction file's own columns, with the cells the export quoted (pop.files.safe_cell) as the sender wrote
    them, and each row's link to the original row (missing for new rows)."""
    links = (
        pd.to_numeric(raw[ROW_LINK].astype("string"), errors="coerce").astype("Int64")
        if ROW_LINK in raw.columns
        else pd.Series(pd.NA, index=raw.index, dtype="Int64")
    )
    own = raw.drop(columns=[c for c in CORRECTION_COLUMNS if c in raw.columns])
    return own.map(restore_cell, na_action="ignore"), links


def open_originals(conn: Connection, original_batch: int, rows: list[int]) -> dict[int, int]:
    """original row number → quarantine id, for the rows of the original batch that are still open."""
    if not rows:
        return {}
    found = conn.execute(
        select(QUARANTINE.c.row_number, QUARANTINE.c.quarantine_id).where(
            QUARANTINE.c.batch_id == original_batch,
            QUARANTINE.c.status == QuarantineStatus.OPEN,
            QUARANTINE.c.row_number.in_(rows),
        )
    ).all()
    return {int(r.row_number): int(r.quarantine_id) for r in found}


def settle_originals(conn: Connection, correction_batch: int, resolved: list[int], resubmitted: list[int]) -> None:
    """Mark original quarantined rows resolved (their correction loaded) or resubmitted (still wrong)."""
    now = utcnow()
    for ids, status in ((resolved, QuarantineStatus.RESOLVED), (resubmitted, QuarantineStatus.RESUBMITTED)):
        if ids:
            conn.execute(
                update(QUARANTINE)
                .where(QUARANTINE.c.quarantine_id.in_(ids))
                .values(status=status, resolved_by_batch_id=correction_batch, resolved_at=now)
            )
