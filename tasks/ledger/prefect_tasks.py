"""Prefect tasks of the ledger: run records (declared as tasks/policy.py says)."""

from __future__ import annotations

from collections.abc import Sequence

from pop.contracts import QualityView, RunSummary, SourceOutcome
from tasks.ledger import runs
from tasks.policy import TRANSIENT, pipeline_task


@pipeline_task("start-run", TRANSIENT)
def start_run(database_url: str, run_id: str, flow_run_name: str | None) -> RunSummary:
    """Record that a run started."""
    return runs.start_run(database_url, run_id, flow_run_name)


@pipeline_task("finish-run", TRANSIENT)
def finish_run(
    database_url: str,
    run: RunSummary,
    sources: Sequence[SourceOutcome],
    quality: QualityView | None = None,
    discrepancies: int | None = None,
) -> RunSummary:
    """Add the run's sources, totals and final status, and store it."""
    return runs.finish_run(database_url, run, sources, quality, discrepancies)
