"""Steward reporting: write the run's and each new batch's report, refresh the index, and show the same summary
as Prefect artifacts (a table and a markdown report)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pop.contracts import Discrepancy, ReportPaths, RunSummary
from pop.db import get_engine
from tasks.ledger.batches import all_batches
from tasks.ledger.review import audit_trail, open_quarantine_count
from tasks.ledger.runs import all_runs
from tasks.steward.report import StewardSections, write_batch_report, write_index, write_run_report


def write_reports(
    run: RunSummary, database_url: str, reports_dir: Path, discrepancies: Sequence[Discrepancy] = ()
) -> ReportPaths:
    """Batch and run reports (HTML + JSON) and the index of every batch ever ingested, with the run's warehouse
    checks, the unresolved cross-source discrepancies and the audit trail."""
    for source in run.sources:
        for batch in source.batches:
            write_batch_report(batch, reports_dir)
    paths = write_run_report(run, reports_dir)
    with get_engine(database_url).connect() as conn:
        batches = all_batches(conn)
        open_rows = open_quarantine_count(conn)
        actions = audit_trail(conn, limit=200)
    steward = StewardSections(quality=run.quality, discrepancies=tuple(discrepancies), actions=tuple(actions))
    index = write_index(batches, all_runs(database_url), reports_dir, open_quarantine=open_rows, steward=steward)
    return ReportPaths(index=index, run_html=paths["html"], run_json=paths["json"])
