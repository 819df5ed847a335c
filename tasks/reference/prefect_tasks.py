"""Prefect tasks of the reference stage (declared as tasks/policy.py says)."""

from __future__ import annotations

from pop.registry import Registry
from tasks.policy import TRANSIENT, pipeline_task
from tasks.reference import dimensions


@pipeline_task("prepare-warehouse", TRANSIENT)
def prepare_warehouse(database_url: str, registry: Registry) -> None:
    """Migrate the warehouse to the newest schema and sync dimensions and sources (idempotent)."""
    dimensions.prepare_warehouse(database_url, registry)
