"""Run records: one per flow run that ingests, with its per-source outcome, totals and final status."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select, update

from pop.db import get_engine, redact, utcnow
from pop.models import IngestRun

RUNS = IngestRun.__table__


def start_run(database_url: str, run_id: str, flow_run_name: str | None) -> dict[str, Any]:
    started = utcnow()
    with get_engine(database_url).begin() as conn:
        conn.execute(
            RUNS.insert().values(run_id=run_id, flow_run_name=flow_run_name, started_at=started, status="running")
        )
    return {
        "run_id": run_id,
        "flow_run_name": flow_run_name,
        "started_at": started.isoformat(),
        "database": redact(database_url),
        "sources": [],
    }


def finish_run(database_url: str, run: dict[str, Any], quality: dict[str, Any] | None = None) -> dict[str, Any]:
    """Add totals and the final status to the run (failed when a source or a warehouse expectation failed), and
    store it."""
    batches = [b for s in run["sources"] for b in s["batches"]]
    failed = [s for s in run["sources"] if s["status"] == "failed"]
    run["totals"] = {
        "files_seen": sum(s.get("files_seen", 0) for s in run["sources"]),
        "batches_new": len(batches),
        "rows_in": sum(b["rows_in"] for b in batches),
        "rows_loaded": sum(b["rows_loaded"] for b in batches),
        "rows_quarantined": sum(b["rows_quarantined"] for b in batches),
        "failed_batches": sum(b["status"] == "failed" for b in batches),
    }
    problems = [
        ("Failed sources: " + "; ".join(f"{s['source_id']}: {s['message']}" for s in failed)) if failed else None,
        quality_failure(quality) if quality else None,
    ]
    run["status"] = "failed" if any(problems) else "completed"
    run["message"] = "; ".join(p for p in problems if p) or None
    run["finished_at"] = utcnow().isoformat()
    with get_engine(database_url).begin() as conn:
        conn.execute(
            update(RUNS)
            .where(RUNS.c.run_id == run["run_id"])
            .values(
                finished_at=dt.datetime.fromisoformat(run["finished_at"]),
                status=run["status"],
                message=run["message"],
                summary_json=json.dumps(run, default=str),
            )
        )
    return run


def all_runs(database_url: str) -> list[dict[str, Any]]:
    """Every run, newest first, as stored."""
    with get_engine(database_url).connect() as conn:
        rows = (
            conn.execute(
                select(RUNS.c.summary_json).where(RUNS.c.summary_json.is_not(None)).order_by(RUNS.c.started_at.desc())
            )
            .scalars()
            .all()
        )
    return [json.loads(r) for r in rows]


def quality_view(quality: dict[str, Any]) -> dict[str, Any]:
    """What the steward index shows of the warehouse checks."""
    failed = [
        f"{s['suite']}: {f['expectation']}" + (f" ({f['column']})" if f.get("column") else "")
        for s in quality["suites"]
        for f in s["failed"]
    ]
    return {
        "success": quality["success"],
        "failed": len(failed),
        "failed_expectations": failed,
        "data_docs": quality["data_docs"],
    }


def quality_failure(quality: dict[str, Any]) -> str | None:
    """A failing expectation never passes silently: the run's message names the failed expectations."""
    view = quality_view(quality)
    if view["success"]:
        return None
    shown = "; ".join(view["failed_expectations"][:5]) + ("; …" if view["failed"] > 5 else "")
    return f"warehouse checks: {view['failed']} expectation(s) failed ({shown}); see {view['data_docs']}"
