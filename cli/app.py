"""The Typer application, its command groups and the console they print to."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from pop.contracts import BatchStatus, ReviewStatus, RunStatus, SourceStatus
from pop.settings import reset_settings

app = typer.Typer(
    help="POP evidence pipeline: ingest stakeholder evidence into the warehouse and report on it.",
    no_args_is_help=True,
    add_completion=False,
)
batch_app = typer.Typer(
    help="Review one batch: show it, approve or reject it, export and correct its rows.", no_args_is_help=True
)
quarantine_app = typer.Typer(help="Quarantined rows: list the open ones, dismiss one.", no_args_is_help=True)
app.add_typer(batch_app, name="batch")
app.add_typer(quarantine_app, name="quarantine")

console = Console(width=None if os.isatty(1) or os.environ.get("COLUMNS") else 140)
STATUS_STYLE = {  # the batch, run and source statuses named "failed" share one style
    BatchStatus.LOADED: "green",
    BatchStatus.FAILED: "bold red",
    BatchStatus.DUPLICATE: "yellow",
    BatchStatus.PROCESSING: "cyan",
    BatchStatus.INTERRUPTED: "yellow",
    RunStatus.CRASHED: "bold red",
    SourceStatus.OK: "green",
    SourceStatus.NO_NEW_FILES: "dim",
    RunStatus.COMPLETED: "green",
}

REVIEW_STYLE = {ReviewStatus.APPROVED: "green", ReviewStatus.REJECTED: "bold red", ReviewStatus.PENDING: "yellow"}


def styled(value: object, styles: Mapping[Any, str] | None = None) -> Text:
    """A value as a table cell or printed text, never read as markup (a sender's '[/]' is text), in the style its
    value has in `styles` (a status, a review state), if any."""
    return Text(str(value), style=(styles or {}).get(value, ""))


def add_row(table: Table, *cells: object) -> None:
    """A table row whose cells are values, never markup."""
    table.add_row(*(cell if isinstance(cell, Text) else styled(cell) for cell in cells))


def fail(message: str) -> NoReturn:
    console.print(Text(message, style="bold red"))
    raise typer.Exit(2)


AS_OF_VARIABLE = "POP_AS_OF"
AS_OF_HELP = (
    "The as-of date (YYYY-MM-DD) of the whole command: periods that begin after it are quarantined, freshness is "
    "judged on it and a snapshot is dated it. Sets POP_AS_OF (default: POP_AS_OF, else today)."
)


def as_of_option() -> Any:
    """The --as-of option every command that judges dates takes."""
    return typer.Option(None, "--as-of", formats=["%Y-%m-%d"], help=AS_OF_HELP)


def use_as_of(day: dt.datetime | None) -> None:
    """Make `day` the as-of date of everything the command does (POP_AS_OF): one date for the plausibility of
    periods, the freshness checks and the snapshot. It ends with the command (`_one_command`)."""
    if day is not None:
        os.environ[AS_OF_VARIABLE] = day.date().isoformat()
        reset_settings()


WAIT_VARIABLE = "POP_WRITER_WAIT_SECONDS"
BUSY_EXIT = 4  # another run holds the warehouse's writer lease: nothing was done


def wait_option() -> Any:
    """The --wait option of every command that writes to the warehouse (ingest, run, correct)."""
    return typer.Option(
        None,
        "--wait",
        min=0,
        help="When another run is writing to the warehouse, wait up to SECONDS for it to finish (default: "
        f"POP_WRITER_WAIT_SECONDS, else 0: stop at once, naming that run, with exit code {BUSY_EXIT}).",
    )


def use_wait(seconds: float | None) -> None:
    """Make `seconds` how long this command waits for another writer (POP_WRITER_WAIT_SECONDS), to its end."""
    if seconds is not None:
        os.environ[WAIT_VARIABLE] = str(seconds)
        reset_settings()


def refuse_when_busy(result: object) -> None:
    """A flow that stopped because another run holds the writer lease: say which, exit BUSY_EXIT."""
    from tasks.ledger.lease import WarehouseBusyError

    if isinstance(result, WarehouseBusyError):
        console.print(Text(f"⏸ {result}", style="bold yellow"))
        raise typer.Exit(BUSY_EXIT)


@app.callback()
def _one_command(ctx: typer.Context) -> None:
    # a command may run inside a longer process (tests, a notebook): the settings it sets end with it
    before = {name: os.environ.get(name) for name in (AS_OF_VARIABLE, WAIT_VARIABLE)}
    ctx.call_on_close(lambda: _restore(before))


def _restore(before: Mapping[str, str | None]) -> None:
    """Put POP_AS_OF and POP_WRITER_WAIT_SECONDS back as they were before the command."""
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    reset_settings()


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
