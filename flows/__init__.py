"""Prefect flows: thin wiring of tasks; deployments and schedules live in prefect.yaml."""
