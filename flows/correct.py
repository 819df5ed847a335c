"""The correction flow: a corrected file comes back for a batch with quarantined rows; its rows load or return to
quarantine with new reasons, and the steward reports show where every original row is now."""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from pathlib import Path

from prefect import flow, runtime
from prefect.states import Completed, Failed, State

from pop.contracts import RunFailedError, SourceStatus
from pop.registry import load_registry
from pop.settings import get_settings
from tasks.ingest.errata import load_errata
from tasks.ledger.lease import WarehouseBusyError, writer_lease
from tasks.ledger.prefect_tasks import finish_run, start_run
from tasks.ops.alerts import ALERT_HOOKS
from tasks.quality.prefect_tasks import open_discrepancies
from tasks.reference.prefect_tasks import prepare_warehouse
from tasks.steward.actions import correction_refusal
from tasks.steward.outcomes import CorrectionResult
from tasks.steward.prefect_tasks import submit_correction, write_reports


@flow(
    name="correct",
    description="Take a corrected file back as a correction of a batch; report the outcome.",
    **ALERT_HOOKS,  # a failed or crashed run posts to POP_ALERT_WEBHOOK_URL (tasks/ops/alerts.py)
)
def correct(batch_id: int, file: str, steward: str | None = None) -> State:
    """Ingest `file` as the correction of batch `batch_id` on behalf of `steward`."""
    settings = get_settings()
    registry = load_registry(settings.registry_path)
    url = settings.warehouse_url
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    with ExitStack() as held:
        try:  # one writer at a time: a second run waits (POP_WRITER_WAIT_SECONDS) or stops, naming the run that writes
            lease = held.enter_context(writer_lease(url, run_id, "correction", settings.writer_wait_seconds))
        except WarehouseBusyError as busy:
            return Failed(message=str(busy), data=busy)
        prepare_warehouse(url, registry)
        refusal = correction_refusal(url, batch_id, Path(file))
        if refusal:  # said to the steward as it is, without a run record or a traceback
            return Failed(message=refusal, data=ValueError(refusal))
        run = start_run(url, run_id, runtime.flow_run.name, lease.recovered.notes())
        outcome = submit_correction(
            url,
            registry,
            batch_id,
            Path(file),
            landing_dir=settings.outputs.landing,
            chunk_rows=settings.chunk_rows,
            actor=steward or settings.steward,
            run_id=run_id,
            errata=load_errata(settings.errata_path, registry),
            auto_approve=settings.auto_approve_clean,
        )
        run = finish_run(url, run, [outcome.source])
        # the original batch's page shows where its rows are now, so it is rewritten with the correction's
        reports = write_reports(run, url, settings.outputs.reports, open_discrepancies(url), batch_ids=[batch_id])
    result = CorrectionResult(run=run, reports=reports, outcome=outcome)
    if outcome.source.status == SourceStatus.FAILED:
        return Failed(message=outcome.source.message, data=RunFailedError(outcome.source.message or "", result))
    return Completed(message=f"correction of batch {batch_id} ingested", data=result)
