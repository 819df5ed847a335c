"""One source in one run: its new files ingested one by one, and the outcome they give (with what its inbox folder
held and was not taken, and why)."""

from __future__ import annotations

import logging
from pathlib import Path

from pop.contracts import BatchSummary, IgnoredFile, IncomingFile, SourceOutcome, SourceStatus
from pop.registry import Source
from tasks.ingest.batch import ingest_file
from tasks.ingest.errata import Erratum
from tasks.ingest.inbox import NotTakenError, discover, shown

log = logging.getLogger(__name__)


def _relative(incoming: IncomingFile, inbox: Path) -> str:
    try:
        return shown(incoming.path.relative_to(inbox))
    except ValueError:
        return shown(incoming.path.name)


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
    """Ingest every new file of the source in `inbox`, each as one batch; a file that is not taken (changed while it
    was landed, or taken by another source) is listed with why and the others go on; any other error is this
    source's failure only (its batches so far are kept in the outcome)."""
    batches: list[BatchSummary] = []
    ignored: list[IgnoredFile] = []
    files: list[IncomingFile] = []
    current: IncomingFile | None = None
    try:
        scan = discover(source, Path(inbox))
        files, ignored = scan.files, list(scan.ignored)
        for current in files:
            name = shown(current.path.name)
            try:
                batch = ingest_file(
                    source,
                    current,
                    database_url,
                    landing_dir,
                    chunk_rows,
                    run_id,
                    errata=errata,
                    auto_approve=auto_approve,
                )
            except NotTakenError as exc:
                ignored.append(exc.entry(_relative(current, Path(inbox))))
                log.warning("%s: not taken: %s", name, exc.reason)
                continue
            if batch is not None:
                batches.append(batch)
            log.info("%s: done", name, extra={"pop_progress": {"event": "file", "file": name}})
    except Exception as exc:
        where = f"{shown(current.path.name)}: " if current is not None else ""
        return SourceOutcome(
            source_id=source.id,
            group=source.group,
            status=SourceStatus.FAILED,
            message=f"{where}{exc.__class__.__name__}: {exc}",
            batches=tuple(batches),
            files_seen=len(files),
            ignored=tuple(ignored),
        )
    return SourceOutcome.of(source.id, source.group, batches, files_seen=len(files), ignored=ignored)
