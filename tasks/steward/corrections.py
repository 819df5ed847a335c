"""The correction loop: quarantined rows go back to the sender in their own column names with what to fix; the
corrected file comes back as a correction of the original batch; every original row ends loaded, still held, or
dismissed with a reason — never lost."""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from sqlalchemy import Connection, func, select

from pop.contracts import QuarantineStatus
from pop.files import safe_cell
from pop.models import Batch, QuarantineRow
from pop.registry import Source
from tasks.ingest.correction_links import PROBLEMS, ROW_LINK
from tasks.ingest.sniff import FileKind, sniff
from tasks.steward.outcomes import Reconciliation

QUARANTINE = QuarantineRow.__table__
BATCH = Batch.__table__


def _problems(reasons_json: str) -> str:
    """What to fix in a row, in the sender's words: each reason names the sender's column itself."""
    return " | ".join(
        r["message"] + (f" (sent: {r['value']})" if r.get("value") else "") for r in json.loads(reasons_json)
    )


def quarantined_rows(conn: Connection, batch_id: int, only: Collection[int] | None = None) -> pd.DataFrame:
    """The batch's open quarantined rows (only those of the quarantine ids `only`, when given) as the sender sent
    them, plus the row link and the problems."""
    query = (
        select(QUARANTINE.c.row_number, QUARANTINE.c.original_json, QUARANTINE.c.reasons_json)
        .where(QUARANTINE.c.batch_id == batch_id, QUARANTINE.c.status == QuarantineStatus.OPEN)
        .order_by(QUARANTINE.c.row_number)
    )
    if only is not None:
        query = query.where(QUARANTINE.c.quarantine_id.in_(list(only)))
    rows = conn.execute(query).all()
    records = [
        {ROW_LINK: r.row_number, **json.loads(r.original_json), PROBLEMS: _problems(r.reasons_json)} for r in rows
    ]
    return pd.DataFrame(records, dtype=object)  # each cell as sent: a count next to an empty cell stays 1, not 1.0


def batch_file_kind(conn: Connection, source: Source, batch_id: int) -> tuple[Path, FileKind]:
    """The batch's own file, as landed, and how it was read (format, encoding, delimiter)."""
    landed = Path(conn.execute(select(BATCH.c.landed_path).where(BATCH.c.batch_id == batch_id)).scalar_one())
    if not landed.exists():
        raise ValueError(f"batch {batch_id}: its file {landed} is no longer in landing, so its format is unknown")
    return landed, sniff(landed, source, landed.name)


def export_quarantined(
    conn: Connection, source: Source, batch_id: int, path: Path, only: Collection[int] | None = None
) -> Path:
    """Write the open quarantined rows (only those of the quarantine ids `only`, when given) in the sender's column
    names, ready to be corrected, in the format of the batch's own file (its encoding and delimiter too): the sender
    gets back what they sent. The path's suffix becomes that file's; the path written is returned."""
    frame = quarantined_rows(conn, batch_id, only)
    if frame.empty:
        raise ValueError(f"batch {batch_id} has no open quarantined row to correct")
    landed, kind = batch_file_kind(conn, source, batch_id)
    path = Path(path).with_suffix(landed.suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the sender's cells came in the sender's encoding; our words may not fit it (… in latin-1): spell them so they do
    frame[PROBLEMS] = frame[PROBLEMS].map(lambda words: unicodedata.normalize("NFKC", words))
    if kind.format == "csv":
        frame.map(safe_cell).to_csv(
            path,
            index=False,
            sep=kind.delimiter,
            encoding=kind.encoding,
            quoting=csv.QUOTE_MINIMAL,
            errors="replace",
        )
    elif kind.format == "json":
        records = [{k: v for k, v in r.items() if v is not None and v == v} for r in frame.to_dict("records")]
        document: Any = {source.records_path: records} if source.records_path else records
        text = (
            "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
            if kind.json_lines
            else json.dumps(document, ensure_ascii=False, indent=2)
        )
        path.write_text(text, encoding=kind.encoding, errors="replace")
    else:
        book = Workbook()
        sheet = book.active
        sheet.title = source.sheet or "Data"
        for _ in range(source.header_row - 1):
            sheet.append([])
        sheet.append(list(frame.columns))
        for record in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
            sheet.append([safe_cell(value) for value in record])
        book.save(path)
    return path


def reconcile(conn: Connection, batch_id: int) -> Reconciliation:
    """Where every row of an original batch is now, following its corrections: loaded at first, loaded through a
    correction, still open (in the original or a correction), dismissed, or added up into another row of its file
    (same_key: sum). These add up to its rows_in."""
    original = conn.execute(select(BATCH.c.rows_in, BATCH.c.rows_loaded).where(BATCH.c.batch_id == batch_id)).one()
    ended = dict.fromkeys(
        (QuarantineStatus.RESOLVED, QuarantineStatus.OPEN, QuarantineStatus.DISMISSED, QuarantineStatus.COMBINED), 0
    )
    frontier = [
        r.quarantine_id
        for r in conn.execute(select(QUARANTINE.c.quarantine_id).where(QUARANTINE.c.batch_id == batch_id))
    ]
    while frontier:
        rows = conn.execute(
            select(QUARANTINE.c.quarantine_id, QUARANTINE.c.status).where(QUARANTINE.c.quarantine_id.in_(frontier))
        ).all()
        following = []
        for row in rows:
            if row.status == QuarantineStatus.RESUBMITTED:  # follow it into the correction that holds it now
                following.append(row.quarantine_id)
            else:
                ended[QuarantineStatus(row.status)] += 1
        frontier = (
            [
                r.quarantine_id
                for r in conn.execute(
                    select(QUARANTINE.c.quarantine_id).where(QUARANTINE.c.corrects_quarantine_id.in_(following))
                )
            ]
            if following
            else []
        )
    return Reconciliation(
        rows_in=original.rows_in,
        loaded_first_time=original.rows_loaded,
        loaded_by_correction=ended[QuarantineStatus.RESOLVED],
        open=ended[QuarantineStatus.OPEN],
        dismissed=ended[QuarantineStatus.DISMISSED],
        combined=ended[QuarantineStatus.COMBINED],
    )


def open_rows(conn: Connection, batch_id: int | None = None) -> int:
    query = select(func.count()).select_from(QUARANTINE).where(QUARANTINE.c.status == QuarantineStatus.OPEN)
    if batch_id is not None:
        query = query.where(QUARANTINE.c.batch_id == batch_id)
    return conn.execute(query).scalar_one()
