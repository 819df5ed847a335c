"""Prefect tasks of the steward stage (declared as tasks/policy.py says)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from pop.contracts import Discrepancy, ReportPaths, RunSummary
from pop.registry import Registry
from tasks.ingest.errata import Erratum
from tasks.policy import ONCE_HEAVY, TRANSIENT, pipeline_task
from tasks.steward import actions, reporting
from tasks.steward.outcomes import CorrectionOutcome
from tasks.steward.report import markdown_summary, table_rows


@pipeline_task("write-reports", TRANSIENT)
def write_reports(
    run: RunSummary, database_url: str, reports_dir: Path, discrepancies: Sequence[Discrepancy] = ()
) -> ReportPaths:
    """The steward report files, plus a table and a markdown artifact of this run."""
    paths = reporting.write_reports(run, database_url, reports_dir, discrepancies)
    create_table_artifact(
        key="ingest-batches",
        table=table_rows(run) or [{"status": "no new files"}],
        description="Batches of this ingest run",
    )
    create_markdown_artifact(
        key="ingest-report", markdown=markdown_summary(run), description=f"Steward report: {paths.index}"
    )
    return paths


@pipeline_task("submit-correction", ONCE_HEAVY)
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
) -> CorrectionOutcome:
    """Ingest a corrected file as a correction of batch `batch_id` (see tasks.steward.actions.submit_correction)."""
    return actions.submit_correction(
        database_url,
        registry,
        batch_id,
        path,
        landing_dir=landing_dir,
        chunk_rows=chunk_rows,
        actor=actor,
        run_id=run_id,
        errata=errata,
        auto_approve=auto_approve,
    )
