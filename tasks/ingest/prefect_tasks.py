"""Prefect tasks of the ingest stage (declared as tasks/policy.py says)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pop.contracts import IncomingFile
from pop.registry import Source
from tasks.ingest import batch, errata, extract
from tasks.ingest.errata import Erratum
from tasks.policy import ONCE_HEAVY, ONCE_LOCAL, TRANSIENT, pipeline_task


@pipeline_task("discover-files", ONCE_LOCAL, task_run_name="discover-{source.id}")
def discover_files(source: Source, inbox: Path) -> list[IncomingFile]:
    """The files in the inbox that match the source's glob, in name order."""
    return extract.discover_files(source, inbox)


@pipeline_task("ingest-file", ONCE_HEAVY, task_run_name="ingest-{source.id}-{incoming.path.name}")
def ingest_file(
    source: Source,
    incoming: IncomingFile,
    database_url: str,
    landing_dir: Path,
    chunk_rows: int,
    run_id: str | None = None,
    errata: list[Erratum] | tuple[Erratum, ...] = (),
    auto_approve: bool = True,
) -> dict[str, Any] | None:
    """Ingest one file of one source as one batch (see tasks.ingest.batch.ingest_file)."""
    return batch.ingest_file(source, incoming, database_url, landing_dir, chunk_rows, run_id, errata, auto_approve)


@pipeline_task("flag-stale-errata", TRANSIENT)
def flag_stale_errata(database_url: str, run: dict[str, Any], known: list[Erratum]) -> dict[str, Any]:
    """The run, with the source of every erratum that no longer matches a row failed, so that it gets retired."""
    return errata.flag_stale_errata(database_url, run, known)
