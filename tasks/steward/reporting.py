"""Steward reporting: the pages stewards read (the index, a page per batch and per run) are written from the
warehouse as it is now, after every run and after every steward action, so they never show a review state, an
open row or an audit trail that has since changed."""

from __future__ import annotations

import fcntl
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection

from pop.contracts import BatchStatus, BatchSummary, Discrepancy, ReportPaths, RunSummary
from pop.db import get_engine
from tasks.ledger.batches import all_batches
from tasks.ledger.review import audit_trail, open_quarantine_count
from tasks.ledger.runs import all_runs
from tasks.reference.names import entries_to_review
from tasks.steward.corrections import reconcile
from tasks.steward.names import waiting_names
from tasks.steward.outcomes import Reconciliation
from tasks.steward.report import (
    StewardSections,
    batch_href,
    run_batches,
    run_href,
    write_batch_report,
    write_index,
    write_run_report,
)

INDEX_ACTIONS = 200  # the newest steward actions the index lists


@contextmanager
def _one_writer(reports_dir: Path) -> Iterator[None]:
    """Hold the reports' lock from reading the warehouse to the last page written: two commands at once could
    otherwise finish in the other order, the one that read the older state last."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    with (reports_dir / ".write.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def as_now(run: RunSummary, current: dict[int, BatchSummary]) -> RunSummary:
    """The run with each of its batches as the warehouse has it now (approved since, say); its outcome unchanged."""
    sources = tuple(
        source.model_copy(update={"batches": tuple(current.get(b.batch_id, b) for b in source.batches)})
        for source in run.sources
    )
    return run.model_copy(update={"sources": sources})


def rows_now(conn: Connection, batch: BatchSummary) -> Reconciliation | None:
    """Where a loaded batch's rows are now (loaded, corrected, open, dismissed); None for other batches."""
    return reconcile(conn, batch.batch_id) if batch.status == BatchStatus.LOADED else None


def refresh_reports(
    database_url: str,
    reports_dir: Path,
    discrepancies: Sequence[Discrepancy],
    batch_ids: Collection[int] | None = None,
    run_ids: Collection[str] = (),
) -> Path:
    """Rewrite from the warehouse as it is now the page of each batch of `batch_ids` (every batch when None), the
    page of every run that shows one of them or is in `run_ids`, any page still missing, and the index with the
    newest warehouse checks, these unresolved discrepancies and the audit trail. Returns the index's path."""
    with _one_writer(reports_dir), get_engine(database_url).connect() as conn:
        batches = all_batches(conn)
        pages = [
            b
            for b in batches
            if batch_ids is None or b.batch_id in batch_ids or not (reports_dir / batch_href(b.batch_id)).exists()
        ]
        for batch in pages:
            write_batch_report(batch, reports_dir, audit_trail(conn, batch_id=batch.batch_id), rows_now(conn, batch))
        current = {b.batch_id: b for b in batches}
        runs = [as_now(run, current) for run in all_runs(database_url)]
        written = {b.batch_id for b in pages}
        for run in runs:
            shown = {b.batch_id for b in run_batches(run)}
            if batch_ids is None or run.run_id in run_ids or shown & written:
                write_run_report(run, reports_dir)
        checked_in = next((run for run in runs if run.quality), None)  # runs come newest first
        steward = StewardSections(
            quality=checked_in.quality if checked_in else None,
            discrepancies=tuple(discrepancies),
            names_waiting=tuple(waiting_names(conn)),
            names_to_review=tuple(entries_to_review(conn)),
            actions=tuple(audit_trail(conn, limit=INDEX_ACTIONS)),
            checked_in=checked_in,
        )
        return write_index(batches, runs, reports_dir, open_quarantine=open_quarantine_count(conn), steward=steward)


def write_reports(
    run: RunSummary,
    database_url: str,
    reports_dir: Path,
    discrepancies: Sequence[Discrepancy] = (),
    batch_ids: Collection[int] = (),
) -> ReportPaths:
    """After a run: its report, the pages of its batches and of `batch_ids` (e.g. the batch a correction is for),
    the runs that show them, and the index (see refresh_reports)."""
    ids = {b.batch_id for b in run_batches(run)} | set(batch_ids)
    index = refresh_reports(database_url, reports_dir, discrepancies, ids, run_ids={run.run_id})
    html = reports_dir / run_href(run.run_id)
    return ReportPaths(index=index, run_html=html, run_json=html.with_suffix(".json"))
