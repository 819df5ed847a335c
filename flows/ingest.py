"""The ingest flow: every new file of every source (or of one) → warehouse or quarantine, then the steward report."""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from pathlib import Path

from prefect import flow, get_run_logger, runtime
from prefect.states import Completed, Failed, State

from flows.runners import FromSettings, gathered
from pop.contracts import RunFailedError, RunResult, RunStatus
from pop.registry import Registry, load_registry
from pop.settings import get_settings
from tasks.ingest.errata import load_errata
from tasks.ingest.prefect_tasks import flag_stale_errata, ingest_source
from tasks.ledger.lease import WarehouseBusyError, writer_lease
from tasks.ledger.prefect_tasks import finish_run, start_run
from tasks.ops.alerts import ALERT_HOOKS
from tasks.quality.prefect_tasks import check_discrepancies, check_warehouse
from tasks.reference.prefect_tasks import prepare_warehouse
from tasks.steward.prefect_tasks import write_reports


@flow(
    name="ingest",
    description="Land, validate, harmonise and load every new stakeholder file; report to stewards.",
    task_runner=FromSettings(),  # POP_TASK_RUNNER: threads (default) or Dask; sources are ingested side by side
    **ALERT_HOOKS,  # a failed or crashed run posts to POP_ALERT_WEBHOOK_URL (tasks/ops/alerts.py)
)
def ingest(source: str | None = None, inbox: str | None = None, registry: str | None = None) -> State:
    """Ingest new files of every registered source (or only `source`) from `inbox` (default: the settings')."""
    settings = get_settings()
    logger = get_run_logger()
    reg: Registry = load_registry(Path(registry) if registry else settings.registry_path)
    errata = load_errata(settings.errata_path, reg)
    chosen = [reg.get(source)] if source else reg.sources
    inbox_dir = Path(inbox) if inbox else settings.inbox_dir
    url = settings.warehouse_url
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    with ExitStack() as held:
        try:  # one writer at a time: a second run waits (POP_WRITER_WAIT_SECONDS) or stops, naming the run that writes
            lease = held.enter_context(writer_lease(url, run_id, "ingest", settings.writer_wait_seconds))
        except WarehouseBusyError as busy:
            return Failed(message=str(busy), data=busy)
        prepare_warehouse(url, reg)
        run = start_run(url, run_id, runtime.flow_run.name, lease.recovered.notes())
        # one task per source, side by side on the task runner; every one is waited for, and a task that did not
        # complete is its source's failed outcome (gathered)
        futures = [
            ingest_source.submit(
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
        outcomes = gathered(futures, chosen)
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
        return Failed(message=run.message, data=RunFailedError(run.message or "the run failed", result))
    return Completed(message=f"{totals.batches_new} new batch(es) ingested", data=result)
