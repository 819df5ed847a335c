"""The snapshot flow ("the mixer"): indicators over the approved evidence, disclosure control, findings, and the
snapshot's files under outputs/snapshots/<id>/, with Prefect artifacts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.states import Completed, State

from pop.settings import get_settings
from tasks.ops.alerts import ALERT_HOOKS
from tasks.snapshot.prefect_tasks import make_snapshot


@flow(
    name="snapshot",
    description="Put the approved evidence of all five groups together: indicators, findings, "
    "disclosure control, and the snapshot's HTML, Markdown, CSV and JSON.",
    **ALERT_HOOKS,  # a failed or crashed run posts to POP_ALERT_WEBHOOK_URL (tasks/ops/alerts.py)
)
def snapshot(as_of: str | None = None, out: str | None = None) -> State:
    """Make a snapshot of the approved evidence as of `as_of` (default: the settings' date, else today)."""
    settings = get_settings()
    logger = get_run_logger()
    day = dt.date.fromisoformat(as_of) if as_of else settings.as_of or dt.date.today()
    folder = Path(out) if out else settings.outputs.snapshots
    summary = make_snapshot(settings.warehouse_url, day, folder)
    logger.info(
        "Snapshot %s: %d finding(s), %d indicator(s), %d hidden cell(s). Open %s",
        summary.id,
        summary.findings,
        summary.indicators,
        summary.hidden_cells,
        summary.paths.html,
    )
    return Completed(message=f"snapshot {summary.id} written", data=summary)
