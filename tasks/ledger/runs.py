"""Run records: one per flow run that ingests, with its per-source outcome, totals and final status."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update

from pop.contracts import QualityView, RunStatus, RunSummary, SourceOutcome
from pop.db import get_engine, redact, utcnow, writing
from pop.models import IngestRun

RUNS = IngestRun.__table__


def start_run(database_url: str, run_id: str, flow_run_name: str | None, recovered: Sequence[str] = ()) -> RunSummary:
    """Record that a run started, with what it closed that dead runs had left (`recovered`)."""
    run = RunSummary(
        run_id=run_id,
        flow_run_name=flow_run_name,
        started_at=utcnow(),
        database=redact(database_url),
        recovered=tuple(recovered),
    )
    with writing(database_url) as conn:
        conn.execute(
            RUNS.insert().values(
                run_id=run_id, flow_run_name=flow_run_name, started_at=run.started_at, status=RunStatus.RUNNING
            )
        )
    return run


def finish_run(
    database_url: str,
    run: RunSummary,
    sources: Sequence[SourceOutcome],
    quality: QualityView | None = None,
    discrepancies: int | None = None,
) -> RunSummary:
    """The run with its sources, totals and final status (see RunSummary.finished), stored."""
    run = run.finished(sources, utcnow(), quality, discrepancies)
    with writing(database_url) as conn:
        conn.execute(
            update(RUNS)
            .where(RUNS.c.run_id == run.run_id)
            .values(
                finished_at=run.finished_at, status=run.status, message=run.message, summary_json=run.model_dump_json()
            )
        )
    return run


def all_runs(database_url: str) -> list[RunSummary]:
    """Every finished run, newest first, as stored."""
    with get_engine(database_url).connect() as conn:
        rows = (
            conn.execute(
                select(RUNS.c.summary_json).where(RUNS.c.summary_json.is_not(None)).order_by(RUNS.c.started_at.desc())
            )
            .scalars()
            .all()
        )
    return [RunSummary.model_validate_json(r) for r in rows]
