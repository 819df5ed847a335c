"""Prefect tasks of the ledger: run records (declared as tasks/policy.py says)."""

from __future__ import annotations

from typing import Any

from tasks.ledger import runs
from tasks.policy import TRANSIENT, pipeline_task


@pipeline_task("start-run", TRANSIENT)
def start_run(database_url: str, run_id: str, flow_run_name: str | None) -> dict[str, Any]:
    """Record that a run started."""
    return runs.start_run(database_url, run_id, flow_run_name)


@pipeline_task("finish-run", TRANSIENT)
def finish_run(database_url: str, run: dict[str, Any], quality: dict[str, Any] | None = None) -> dict[str, Any]:
    """Add the run's totals and final status, and store it."""
    return runs.finish_run(database_url, run, quality)
