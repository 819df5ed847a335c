"""Prefect tasks of the ingest stage (declared as tasks/policy.py says)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pop.contracts import SourceOutcome
from pop.registry import Source
from tasks.ingest import errata, sources
from tasks.ingest.errata import Erratum
from tasks.policy import ONCE_HEAVY, TRANSIENT, pipeline_task


@pipeline_task("ingest-source", ONCE_HEAVY, task_run_name="ingest-{source.id}")
def ingest_source(
    source: Source,
    inbox: Path,
    database_url: str,
    landing_dir: Path,
    chunk_rows: int,
    run_id: str | None = None,
    errata: list[Erratum] | tuple[Erratum, ...] = (),
    auto_approve: bool = True,
) -> SourceOutcome:
    """Ingest the new files of one source, each as one batch (see tasks.ingest.sources.ingest_source)."""
    return sources.ingest_source(source, inbox, database_url, landing_dir, chunk_rows, run_id, errata, auto_approve)


@pipeline_task("flag-stale-errata", TRANSIENT)
def flag_stale_errata(
    database_url: str, outcomes: Sequence[SourceOutcome], known: list[Erratum]
) -> list[SourceOutcome]:
    """The outcomes, with the source of every erratum that no longer matches a row failed, so that it gets retired."""
    return errata.flag_stale_errata(database_url, outcomes, known)
