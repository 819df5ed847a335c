"""The ingest flow: every new file of every source (or of one) → warehouse or quarantine, then the steward report."""

from __future__ import annotations

import uuid
from pathlib import Path

from prefect import flow, get_run_logger, runtime
from prefect.states import Completed, Failed, State

from pop.contracts import RunResult, RunStatus
from pop.registry import Registry, load_registry
from pop.settings import get_settings
from tasks.ingest.errata import load_errata
from tasks.ingest.prefect_tasks import flag_stale_errata, ingest_source
from tasks.ledger.prefect_tasks import finish_run, start_run
from tasks.quality.prefect_tasks import check_discrepancies, check_warehouse
from tasks.reference.prefect_tasks import prepare_warehouse
from tasks.steward.prefect_tasks import write_reports


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
    outcomes = [
        ingest_source(
            src,
            inbox_dir,
            url,
            settings.outputs.landing,
            settings.chunk_rows,
            run_id,
            errata=errata,
            auto_approve=settings.auto_approve_clean,
        )
        for src in chosen
    ]
    outcomes = flag_stale_errata(url, outcomes, errata)
    discrepancies = check_discrepancies(url, run_id)
    quality = check_warehouse(url, settings.outputs_dir, run_id, settings.as_of)
    run = finish_run(url, run, outcomes, quality.view(), len(discrepancies))
    reports = write_reports(run, url, settings.outputs.reports, discrepancies)
    totals = run.totals
    logger.info(
        "Ingested %s new file(s): %s rows in, %s loaded, %s quarantined. Steward report: %s",
        totals.batches_new,
        totals.rows_in,
        totals.rows_loaded,
        totals.rows_quarantined,
        reports.index,
    )
    result = RunResult(run=run, reports=reports)
    if run.status == RunStatus.FAILED:
        return Failed(message=run.message, data=result)
    return Completed(message=f"{totals.batches_new} new batch(es) ingested", data=result)
