"""Prefect tasks of the quality stage (declared as tasks/policy.py says)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from pop.contracts import Discrepancy, QualityOutcome
from tasks.policy import TRANSIENT, pipeline_task
from tasks.quality import discrepancies, expectations

log = logging.getLogger(__name__)


@pipeline_task("check-warehouse", TRANSIENT)
def check_warehouse(database_url: str, outputs_dir: Path, run_id: str, as_of: dt.date | None = None) -> QualityOutcome:
    """Run the Great Expectations suites on the warehouse, with a table and a markdown artifact of their outcome."""
    result = expectations.check_warehouse(database_url, outputs_dir, run_id, as_of)
    create_table_artifact(
        key="warehouse-quality",
        description="Great Expectations suites on the warehouse",
        table=[
            {"suite": s.suite, "success": s.success, "evaluated": s.evaluated, "failed": len(s.failed)}
            for s in result.suites
        ],
    )
    create_markdown_artifact(
        key="warehouse-quality-report",
        markdown=expectations.markdown_report(result),
        description=f"Data Docs: {result.data_docs}",
    )
    if not result.success:
        log.warning("warehouse checks failed: %s", ", ".join(s.suite for s in result.suites if not s.success))
    return result


@pipeline_task("check-discrepancies", TRANSIENT)
def check_discrepancies(database_url: str, run_id: str, config_path: Path | None = None) -> list[Discrepancy]:
    """Compare the sources with one another and show the unresolved discrepancies as a table artifact."""
    found = discrepancies.check_discrepancies(database_url, run_id, config_path)
    create_table_artifact(
        key="discrepancies",
        table=discrepancies.artifact_rows(found) or [{"status": "no discrepancies"}],
        description=f"Cross-source discrepancies for stewards ({len(found)} unresolved)",
    )
    return found


open_discrepancies = pipeline_task("open-discrepancies", TRANSIENT)(discrepancies.open_discrepancies)
