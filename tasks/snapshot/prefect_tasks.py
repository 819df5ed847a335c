"""Prefect tasks of the snapshot stage (declared as tasks/policy.py says)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tasks.policy import TRANSIENT, pipeline_task
from tasks.snapshot import make
from tasks.snapshot.document import SnapshotSummary


@pipeline_task("make-snapshot", TRANSIENT)
def make_snapshot(database_url: str, as_of: dt.date, snapshots_dir: Path) -> SnapshotSummary:
    """Build and write the snapshot; show it in the Prefect UI as a markdown report of the findings and a table of
    the indicators."""
    summary = make.make_snapshot(database_url, as_of, snapshots_dir)
    create_markdown_artifact(
        key="snapshot-report", markdown=make.snapshot_markdown(summary), description=f"POP snapshot {summary.id}"
    )
    create_table_artifact(
        key="snapshot-indicators",
        table=[line.model_dump() for line in summary.table],
        description=f"Indicators of snapshot {summary.id} (cells, hidden, unstable)",
    )
    return summary
