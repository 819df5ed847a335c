"""Steward reporting: write the run's and each new batch's report, refresh the index, and show the same summary
as Prefect artifacts (a table and a markdown report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from pop.db import get_engine
from tasks.batches import all_batches
from tasks.report import markdown_summary, table_rows, write_batch_report, write_index, write_run_report
from tasks.review import audit_trail, open_quarantine_count
from tasks.runs import all_runs


def write_report_files(
    run: dict[str, Any], database_url: str, reports_dir: Path, steward: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Batch and run reports (HTML + JSON) and the index of every batch ever ingested, with the warehouse checks,
    cross-source findings (`steward`) and the audit trail."""
    for source in run["sources"]:
        for batch in source["batches"]:
            write_batch_report(batch, reports_dir)
    paths = write_run_report(run, reports_dir)
    with get_engine(database_url).connect() as conn:
        batches = all_batches(conn)
        open_rows = open_quarantine_count(conn)
        actions = audit_trail(conn, limit=200)
    index = write_index(
        batches,
        all_runs(database_url),
        reports_dir,
        open_quarantine=open_rows,
        steward={**(steward or {}), "actions": actions},
    )
    return {"index": index, "run_html": paths["html"], "run_json": paths["json"]}


@task(name="write-reports", cache_policy=NO_CACHE)
def write_reports(
    run: dict[str, Any], database_url: str, reports_dir: Path, steward: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Prefect task: the report files, plus a table and a markdown artifact of this run."""
    paths = write_report_files(run, database_url, reports_dir, steward)
    create_table_artifact(
        key="ingest-batches",
        table=table_rows(run) or [{"status": "no new files"}],
        description="Batches of this ingest run",
    )
    create_markdown_artifact(
        key="ingest-report", markdown=markdown_summary(run), description=f"Steward report: {paths['index']}"
    )
    return paths
