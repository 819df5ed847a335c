"""Run records on SQLite and PostgreSQL: a run is recorded when it starts, and what finish_run stores reads back
equal to what it returned, totals and final status included."""

from __future__ import annotations

from sqlalchemy import select

from pop.contracts import BatchStatus, RunStatus, SourceOutcome
from pop.db import get_engine
from pop.models import IngestRun
from tasks.ledger.runs import all_runs, finish_run, start_run
from tests.pop.test_contracts import batch, quality


def test_a_stored_run_reads_back_as_it_was_finished(database_url: str) -> None:
    first = finish_run(database_url, start_run(database_url, "run-1", "brave-otter"), [])
    started = start_run(database_url, "run-2", None)
    with get_engine(database_url).connect() as conn:
        assert conn.execute(select(IngestRun.status).where(IngestRun.run_id == "run-2")).scalar_one() == "running"
    assert all_runs(database_url) == [first]  # a run still going has no summary yet
    sources = [
        SourceOutcome.of("a", "helplines_services", [batch(1, BatchStatus.LOADED, (10, 9, 1))], files_seen=1),
        SourceOutcome.of("b", "children_youth", [batch(2, BatchStatus.FAILED, message="2.csv: no data")], 1),
    ]
    second = finish_run(database_url, started, sources, quality().view(), discrepancies=3)
    assert (second.status, second.message) == (RunStatus.FAILED, "Failed sources: b: 2.csv: no data")
    assert all_runs(database_url) == [second, first]  # newest first
    with get_engine(database_url).connect() as conn:
        stored = conn.execute(select(IngestRun.__table__).where(IngestRun.run_id == "run-2")).one()
    assert (stored.status, stored.message) == ("failed", second.message) and stored.finished_at is not None
