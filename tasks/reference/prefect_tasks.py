"""Prefect tasks of the reference stage (declared as tasks/policy.py says)."""

from __future__ import annotations

from tasks.policy import TRANSIENT, pipeline_task
from tasks.reference import dimensions

prepare_warehouse = pipeline_task("prepare-warehouse", TRANSIENT)(dimensions.prepare_warehouse)
