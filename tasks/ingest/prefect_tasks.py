"""Prefect tasks of the ingest stage (declared as tasks/policy.py says)."""

from __future__ import annotations

from tasks.ingest import errata, sources
from tasks.policy import ONCE_HEAVY, TRANSIENT, pipeline_task

ingest_source = pipeline_task("ingest-source", ONCE_HEAVY, task_run_name="ingest-{source.id}")(sources.ingest_source)
flag_stale_errata = pipeline_task("flag-stale-errata", TRANSIENT)(errata.flag_stale_errata)
