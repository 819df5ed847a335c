"""The ingest flow: every new file of every source (or of one) → warehouse or quarantine, then the steward report."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, runtime
from prefect.states import Completed, Failed, State

from pop.registry import Registry, Source, load_registry
from pop.settings import Settings, get_settings
from tasks.ingest.errata import Erratum, load_errata
from tasks.ingest.prefect_tasks import discover_files, flag_stale_errata, ingest_file
from tasks.ledger.prefect_tasks import finish_run, start_run
from tasks.ledger.runs import quality_view
from tasks.quality.prefect_tasks import check_discrepancies, check_warehouse
from tasks.reference.prefect_tasks import prepare_warehouse
from tasks.steward.prefect_tasks import write_reports


def _source_result(
    source: Source, inbox: Path, database_url: str, settings: Settings, run_id: str, errata: list[Erratum]
) -> dict[str, Any]:
    """Ingest one source's new files; any error is this source's failure only."""
    result: dict[str, Any] = {
        "source_id": source.id,
        "group": source.group,
        "status": "ok",
        "message": None,
        "batches": [],
        "files_seen": 0,
    }
    try:
        files = discover_files(source, inbox)
        result["files_seen"] = len(files)
        for incoming in files:
            batch = ingest_file(
                source,
                incoming,
                database_url,
                settings.outputs.landing,
                settings.chunk_rows,
                run_id,
                errata=errata,
                auto_approve=settings.auto_approve_clean,
            )
            if batch is not None:
                result["batches"].append(batch)
    except Exception as exc:
        result.update(status="failed", message=f"{exc.__class__.__name__}: {exc}")
        return result
    failed = [b for b in result["batches"] if b["status"] == "failed"]
    if failed:
        result.update(status="failed", message="; ".join(b["message"] for b in failed))
    elif not result["batches"]:
        result["status"] = "no_new_files"
    return result


@flow(name="ingest", description="Land, validate, harmonise and load every new stakeholder file; report to stewards.")
def ingest(source: str | None = None, inbox: str | None = None, registry: str | None = None) -> State:
    """Ingest new files of every registered source (or only `source`) from `inbox` (default: the settings')."""
    settings = get_settings()
    logger = get_run_logger()
    reg: Registry = load_registry(Path(registry) if registry else settings.registry_path)
    errata = load_errata(settings.errata_path, reg)
    chosen = [reg.get(source)] if source else reg.sources
    inbox_dir = Path(inbox) if inbox else settings.inbox_dir
    url = settings.warehouse_url
    prepare_warehouse(url, reg)
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    run = start_run(url, run_id, runtime.flow_run.name)
    for src in chosen:
        run["sources"].append(_source_result(src, inbox_dir, url, settings, run_id, errata))
    run = flag_stale_errata(url, run, errata)
    findings = check_discrepancies(url, run_id)
    quality = check_warehouse(url, settings.outputs_dir, run_id, settings.as_of)
    run.update(quality=quality_view(quality), findings=len(findings))
    run = finish_run(url, run, quality)
    paths = write_reports(run, url, settings.outputs.reports, steward={"findings": findings, "quality": run["quality"]})
    totals = run["totals"]
    logger.info(
        "Ingested %s new file(s): %s rows in, %s loaded, %s quarantined. Steward report: %s",
        totals["batches_new"],
        totals["rows_in"],
        totals["rows_loaded"],
        totals["rows_quarantined"],
        paths["index"],
    )
    summary = {**run, "reports": {k: str(v) for k, v in paths.items()}}
    if run["status"] == "failed":
        return Failed(message=run["message"], data=summary)
    return Completed(message=f"{totals['batches_new']} new batch(es) ingested", data=summary)
