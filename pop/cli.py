"""The `pop` command line: run the pipeline, ingest sources, inspect the registry."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

# an offline machine: no telemetry calls home from Prefect's local server or from Great Expectations
for _name, _value in {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                      "GX_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
                      "PREFECT_LOGGING_LEVEL": "WARNING"}.items():
    os.environ.setdefault(_name, _value)

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

from pop.settings import get_settings  # noqa: E402

app = typer.Typer(help="POP evidence pipeline: ingest stakeholder evidence into the warehouse and report on it.",
                  no_args_is_help=True, add_completion=False)
console = Console()
STATUS_STYLE = {"loaded": "green", "failed": "bold red", "duplicate": "yellow", "ok": "green",
                "no_new_files": "dim", "completed": "green"}


class _ProgressHandler(logging.Handler):
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


def _count_files(source: str | None, inbox: Path, registry: Path) -> int:
    from tasks.registry import load_registry

    reg = load_registry(registry)
    chosen = [reg.get(source)] if source else reg.sources
    return sum(1 for s in chosen for p in inbox.glob(s.files) if p.is_file())


def _print_run(summary: dict[str, Any]) -> None:
    table = Table(title=f"Ingest run {summary['run_id'][:8]}", show_lines=False)
    for column in ("source", "file", "status", "rows in", "loaded", "quarantined"):
        table.add_column(column, justify="right" if column in ("rows in", "loaded", "quarantined") else "left",
                         overflow="fold")
    for source in summary["sources"]:
        if not source["batches"]:
            style = STATUS_STYLE.get(source["status"], "")
            table.add_row(source["source_id"], "—", f"[{style}]{source['status']}[/]", "", "", "")
        for batch in source["batches"]:
            style = STATUS_STYLE.get(batch["status"], "")
            table.add_row(source["source_id"], batch["original_name"], f"[{style}]{batch['status']}[/]",
                          f"{batch['rows_in']:,}", f"{batch['rows_loaded']:,}", f"{batch['rows_quarantined']:,}")
    console.print(table)
    totals = summary["totals"]
    console.print(f"Rows in {totals['rows_in']:,} = loaded {totals['rows_loaded']:,} + quarantined "
                  f"{totals['rows_quarantined']:,}; new batches {totals['batches_new']}, failed files "
                  f"{totals['failed_batches']}.")
    for source in summary["sources"]:
        if source["status"] == "failed":
            console.print(f"[bold red]✗ {source['source_id']}[/]: {source['message']}")


def _run_ingest(source: str | None, inbox: Path | None, strict: bool) -> None:
    from flows.ingest import ingest  # the CLI is an entry point, like a deployment: it may start flows
    from tasks.registry import RegistryError

    settings = get_settings()
    inbox_dir = inbox or settings.inbox_dir
    try:
        total = _count_files(source, inbox_dir, settings.registry_path)
    except RegistryError as exc:
        console.print(f"[bold red]The source registry is wrong:[/] {exc}")
        raise typer.Exit(2) from None
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        bar = progress.add_task("starting Prefect…", total=total)
        handler = _ProgressHandler(progress, bar)
        pipeline_log = logging.getLogger("tasks.ingest")
        pipeline_log.addHandler(handler)
        pipeline_log.setLevel(logging.INFO)
        pipeline_log.propagate = False  # progress goes to the bar, not to the console as log lines
        try:
            state = ingest(source=source, inbox=str(inbox_dir), return_state=True)
        finally:
            pipeline_log.removeHandler(handler)
            pipeline_log.propagate = True
    summary = state.result(raise_on_failure=False)
    if not isinstance(summary, dict):
        console.print(f"[bold red]The ingest flow crashed:[/] {summary}")
        raise typer.Exit(1)
    _print_run(summary)
    console.print(f"\nWarehouse: {settings.warehouse_url}\nSteward report: {summary['reports']['index']}\n"
                  f"Run report: {summary['reports']['run_html']}")
    if strict and summary["status"] == "failed":
        raise typer.Exit(3)


@app.command()
def run(strict: bool = typer.Option(False, help="Exit with code 3 when any source failed (for schedulers)."),
        inbox: Path | None = typer.Option(None, help="Folder where the sources' files arrive.")) -> None:
    """Run the whole pipeline on every source: ingest, validate, load, report."""
    _run_ingest(None, inbox, strict)


@app.command()
def ingest(source: str | None = typer.Option(None, "--source", "-s", help="Only this source id."),
           inbox: Path | None = typer.Option(None, help="Folder where the sources' files arrive."),
           strict: bool = typer.Option(False, help="Exit with code 3 when the source failed.")) -> None:
    """Ingest the new files of every source, or of one."""
    _run_ingest(source, inbox, strict)


@app.command()
def sources() -> None:
    """List the registered sources (and check the registry)."""
    from tasks.registry import RegistryError, load_registry

    settings = get_settings()
    try:
        reg = load_registry(settings.registry_path)
    except RegistryError as exc:
        console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(2) from None
    table = Table(title=f"Sources in {settings.registry_path}")
    for column in ("id", "group", "organisation", "format", "files", "update"):
        table.add_column(column)
    for s in reg.sources:
        table.add_row(s.id, s.group, s.organisation, s.format, s.files, s.update_frequency)
    console.print(table)


if __name__ == "__main__":
    app()
