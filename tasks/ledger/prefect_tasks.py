"""Prefect tasks of the ledger: run records (declared as tasks/policy.py says)."""

from __future__ import annotations

from tasks.ledger import runs
from tasks.policy import TRANSIENT, pipeline_task

start_run = pipeline_task("start-run", TRANSIENT)(runs.start_run)
finish_run = pipeline_task("finish-run", TRANSIENT)(runs.finish_run)
