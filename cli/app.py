"""The Typer application, its command groups and the console they print to."""

from __future__ import annotations

import logging
import os
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress

from pop.contracts import BatchStatus, ReviewStatus, RunStatus, SourceStatus

app = typer.Typer(
    help="POP evidence pipeline: ingest stakeholder evidence into the warehouse and report on it.",
    no_args_is_help=True,
    add_completion=False,
)
batch_app = typer.Typer(
    help="Review one batch: show it, approve or reject it, export and correct its rows.", no_args_is_help=True
)
quarantine_app = typer.Typer(help="Quarantined rows.", no_args_is_help=True)
app.add_typer(batch_app, name="batch")
app.add_typer(quarantine_app, name="quarantine")

console = Console(width=None if os.isatty(1) or os.environ.get("COLUMNS") else 140)
STATUS_STYLE = {  # the batch, run and source statuses named "failed" share one style
    BatchStatus.LOADED: "green",
    BatchStatus.FAILED: "bold red",
    BatchStatus.DUPLICATE: "yellow",
    SourceStatus.OK: "green",
    SourceStatus.NO_NEW_FILES: "dim",
    RunStatus.COMPLETED: "green",
}

REVIEW_STYLE = {ReviewStatus.APPROVED: "green", ReviewStatus.REJECTED: "bold red", ReviewStatus.PENDING: "yellow"}


def fail(message: str) -> None:
    console.print(f"[bold red]{message}[/]")
    raise typer.Exit(2)


class ProgressHandler(logging.Handler):
    """Advance a rich progress bar from the pipeline's progress log records."""

    def __init__(self, progress: Progress, task_id: Any) -> None:
        super().__init__(level=logging.INFO)
        self.progress, self.task_id = progress, task_id

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "pop_progress", None)
        if not event:
            return
        if event["event"] == "chunk":
            self.progress.update(self.task_id, description=f"{event['file']}: {event['rows']:,} rows")
        elif event["event"] == "file":
            self.progress.advance(self.task_id)
