"""One source in one run: its new files ingested one by one, and the outcome they give."""

from __future__ import annotations

import logging
from pathlib import Path

from pop.contracts import BatchSummary, IncomingFile, SourceOutcome, SourceStatus
from pop.registry import Source
from tasks.ingest.batch import ingest_file
from tasks.ingest.errata import Erratum
from tasks.ingest.extract import discover_files

log = logging.getLogger(__name__)


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
    """Ingest every new file of the source in `inbox`, each as one batch; any error is this source's failure only
    (its batches so far are kept in the outcome)."""
    batches: list[BatchSummary] = []
    files: list[IncomingFile] = []
    try:
        files = discover_files(source, inbox)
        for incoming in files:
            batch = ingest_file(
                source,
                incoming,
                database_url,
                landing_dir,
                chunk_rows,
                run_id,
                errata=errata,
                auto_approve=auto_approve,
            )
            if batch is not None:
                batches.append(batch)
            log.info(
                "%s: done", incoming.path.name, extra={"pop_progress": {"event": "file", "file": incoming.path.name}}
            )
    except Exception as exc:
        return SourceOutcome(
            source_id=source.id,
            group=source.group,
            status=SourceStatus.FAILED,
            message=f"{exc.__class__.__name__}: {exc}",
            batches=tuple(batches),
            files_seen=len(files),
        )
    return SourceOutcome.of(source.id, source.group, batches, files_seen=len(files))
