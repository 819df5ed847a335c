"""Prefect tasks of the steward stage (declared as tasks/policy.py says)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from pop.contracts import Discrepancy, ReportPaths, RunSummary
from tasks.policy import ONCE_HEAVY, TRANSIENT, pipeline_task
from tasks.steward import actions, reporting
from tasks.steward.report import markdown_summary, table_rows


@pipeline_task("write-reports", TRANSIENT)
def write_reports(
    run: RunSummary,
    database_url: str,
    reports_dir: Path,
    discrepancies: Sequence[Discrepancy] = (),
    batch_ids: Collection[int] = (),
) -> ReportPaths:
    """The steward report files, plus a table and a markdown artifact of this run."""
    paths = reporting.write_reports(run, database_url, reports_dir, discrepancies, batch_ids)
    create_table_artifact(
        key="ingest-batches",
        table=table_rows(run) or [{"status": "no new files"}],
        description="Batches of this ingest run",
    )
    create_markdown_artifact(
        key="ingest-report", markdown=markdown_summary(run), description=f"Steward report: {paths.index}"
    )
    return paths


submit_correction = pipeline_task("submit-correction", ONCE_HEAVY)(actions.submit_correction)
