"""Commands that run the pipeline: run, ingest, snapshot, sources."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cli.app import (
    STATUS_STYLE,
    ProgressHandler,
    add_row,
    app,
    as_of_option,
    console,
    fail,
    refuse_when_busy,
    styled,
    use_as_of,
    use_wait,
    wait_option,
)
from pop.contracts import (
    BatchStatus,
    NotTaken,
    ReviewStatus,
    RunResult,
    RunStatus,
    RunSummary,
    SourceStatus,
    what_it_did,
)
from pop.db import redact
from pop.settings import get_settings


def _count_files(source: str | None, inbox: Path, registry: Path) -> int:
    """How many files the sources' folders offer, found as ingestion finds them (links, folders, hidden and
    temporary files left out); nothing is read."""
    from pop.registry import load_registry
    from tasks.ingest.inbox import survey

    reg = load_registry(registry)
    chosen = [reg.get(source)] if source else reg.sources
    return sum(len(survey(s, inbox).found) for s in chosen)


NOT_TAKEN_MARK = {NotTaken.IGNORED: ("·", "dim"), NotTaken.WAITING: ("⏳", "yellow"), NotTaken.REFUSED: ("✗", "red")}


def _print_not_taken(summary: RunSummary) -> None:
    """Every entry of a source's folder that was not taken, with why: nothing is skipped without a word."""
    for source in summary.sources:
        if not source.ignored:
            continue
        console.print(Text(f"Not taken from {source.source_id}'s folder:", style="bold"))
        for entry in source.ignored:
            mark, style = NOT_TAKEN_MARK[entry.verdict]
            line = Text(f"  {mark} ")
            line.append(entry.name, style="bold")
            line.append(f" — {entry.verdict}: ", style=style)
            line.append(entry.reason)
            console.print(line)


def _print_run(summary: RunSummary) -> None:
    table = Table(title=f"Ingest run {summary.run_id[:8]}", show_lines=False)
    for column in ("source", "file", "status", "rows in", "loaded", "quarantined"):
        table.add_column(
            column, justify="right" if column in ("rows in", "loaded", "quarantined") else "left", overflow="fold"
        )
    for source in summary.sources:
        if not source.batches:
            add_row(table, source.source_id, "—", styled(source.status, STATUS_STYLE), "", "", "")
        for batch in source.batches:
            add_row(
                table,
                source.source_id,
                batch.original_name,
                styled(batch.status, STATUS_STYLE),
                f"{batch.rows_in:,}",
                f"{batch.rows_loaded:,}",
                f"{batch.rows_quarantined:,}",
            )
    console.print(table)
    _print_not_taken(summary)
    for note in summary.recovered:
        console.print(Text(f"↺ {note}", style="yellow"))
    totals = summary.totals
    console.print(
        f"Rows in {totals.rows_in:,} = loaded {totals.rows_loaded:,} + quarantined "
        f"{totals.rows_quarantined:,}; new batches {totals.batches_new}, failed files "
        f"{totals.failed_batches}."
    )
    for source in summary.sources:
        if source.status == SourceStatus.FAILED:
            console.print(f"[bold red]✗ {escape(source.source_id)}[/]: {escape(source.message or '')}")
    waiting = [
        b
        for s in summary.sources
        for b in s.batches
        if b.status == BatchStatus.LOADED and b.review_status == ReviewStatus.PENDING and not b.rows_quarantined
    ]
    if waiting:
        names = ", ".join(escape(b.original_name) for b in waiting[:5]) + (", …" if len(waiting) > 5 else "")
        console.print(
            f"[yellow]⏸ {len(waiting)} clean file(s) wait for a steward[/] ({names}): a small addition of children's "
            "data, or automatic approval off; `pop audit` says why, `pop batch approve ID` approves"
        )
    quality = summary.quality
    if quality:
        console.print(
            "[green]✓ Warehouse checks: every expectation holds.[/]"
            if quality.success
            else f"[bold red]✗ Warehouse checks: {quality.failed} expectation(s) failed[/]: "
            + escape("; ".join(quality.failed_expectations[:5]))
            + f" (Data Docs: {escape(str(quality.data_docs))})"
        )
    if summary.discrepancies:
        noun = "discrepancy" if summary.discrepancies == 1 else "discrepancies"
        console.print(f"[yellow]⚠ {summary.discrepancies} cross-source {noun} to review[/] (see the steward index)")


def _run_ingest(source: str | None, inbox: Path | None, strict: bool) -> None:
    from flows.ingest import ingest  # the CLI is an entry point, like a deployment: it may start flows
    from pop.registry import RegistryError, UnknownSourceError

    settings = get_settings()
    inbox_dir = inbox or settings.inbox_dir
    try:
        total = _count_files(source, inbox_dir, settings.registry_path)
    except UnknownSourceError as exc:
        fail(str(exc))
    except RegistryError as exc:
        console.print(f"[bold red]The source registry is wrong:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("starting Prefect…", total=total)
        handler = ProgressHandler(progress, bar)
        pipeline_log = logging.getLogger("tasks.ingest")
        pipeline_log.addHandler(handler)
        pipeline_log.setLevel(logging.INFO)
        pipeline_log.propagate = False  # progress goes to the bar, not to the console as log lines
        try:
            state = ingest(source=source, inbox=str(inbox_dir), return_state=True)
        finally:
            pipeline_log.removeHandler(handler)
            pipeline_log.propagate = True
    result = what_it_did(state.result(raise_on_failure=False))
    refuse_when_busy(result)
    if not isinstance(result, RunResult):
        console.print(f"[bold red]The ingest flow crashed:[/] {escape(str(result))}")
        raise typer.Exit(1)
    _print_run(result.run)
    console.print(
        f"\nWarehouse: {escape(redact(settings.warehouse_url))}\nSteward report: {result.reports.index}\n"
        f"Run report: {result.reports.run_html}"
    )
    if strict and result.run.status == RunStatus.FAILED:
        raise typer.Exit(3)


DEMO_STEWARD = "demo (pop run --demo)"
DEMO_REASON = (
    "bundled demo data: approved by `pop run --demo` so the snapshot shows the evidence; "
    "real batches are approved by a steward with `pop batch approve`"
)


def _approve_pending_as_demo() -> list[int]:
    """Approve every loaded batch awaiting review, as the demo steward (recorded in the audit trail); their ids."""
    from pop.db import writing
    from tasks.ledger.review import pending_loaded_batches, review_batch

    with writing(get_settings().warehouse_url) as conn:
        pending = pending_loaded_batches(conn)
        for batch_id in pending:
            review_batch(conn, batch_id, ReviewStatus.APPROVED, DEMO_STEWARD, DEMO_REASON)
    return pending


def _run_snapshot() -> None:
    """Make a snapshot dated the as-of date (POP_AS_OF, set by --as-of; default today)."""
    from flows.snapshot import snapshot  # an entry point may start flows
    from tasks.snapshot.document import SnapshotSummary

    with console.status("Putting the evidence together (indicators, disclosure control, findings)…"):
        state = snapshot(return_state=True)
    summary = state.result(raise_on_failure=False)
    if not isinstance(summary, SnapshotSummary):
        console.print(f"[bold red]The snapshot flow failed:[/] {escape(str(summary))}")
        raise typer.Exit(1)
    if summary.statements:
        table = Table(title=f"Snapshot {summary.id}")
        for column in ("finding", "corroboration"):
            table.add_column(column, overflow="fold")
        for item in summary.statements:
            add_row(table, item.statement, item.corroboration)
        console.print(table)
    else:
        console.print(f"Snapshot {summary.id}: no finding can be stated yet (not enough approved evidence).")
    console.print(
        f"{summary.indicators} indicators, {summary.hidden_cells} cell(s) hidden by disclosure "
        f"control; {summary.approved_batches} approved file(s), {summary.pending_batches} awaiting "
        f"review and not included.\n{summary.changes}\nSnapshot: {summary.paths.html}"
    )


@app.command()
def run(
    strict: bool = typer.Option(False, help="Exit with code 3 when any source failed (for schedulers)."),
    inbox: Path | None = typer.Option(None, help="Folder where the sources' files arrive."),
    demo: bool = typer.Option(
        False,
        help="Demo only: approve every batch awaiting review before the snapshot "
        "(recorded in the audit trail as the demo steward).",
    ),
    as_of: dt.datetime | None = as_of_option(),
    wait: float | None = wait_option(),
) -> None:
    """Run the whole pipeline: ingest every source, validate, load, report to stewards, then make a snapshot."""
    use_as_of(as_of)
    use_wait(wait)
    _run_ingest(None, inbox, strict)
    if demo:
        from cli.steward import show_the_present

        approved = _approve_pending_as_demo()
        console.print(
            f"Demo: approved {len(approved)} batch(es) awaiting review as '{DEMO_STEWARD}' (see `pop audit`)."
        )
        show_the_present(approved)
    _run_snapshot()


@app.command("snapshot")
def snapshot_command(as_of: dt.datetime | None = as_of_option()) -> None:
    """Make a snapshot of the approved evidence: indicators, findings, disclosure control, HTML/MD/CSV/JSON."""
    use_as_of(as_of)
    _run_snapshot()


@app.command()
def ingest(
    source: str | None = typer.Option(None, "--source", "-s", help="Only this source id."),
    inbox: Path | None = typer.Option(None, help="Folder where the sources' files arrive."),
    strict: bool = typer.Option(False, help="Exit with code 3 when the source failed."),
    as_of: dt.datetime | None = as_of_option(),
    wait: float | None = wait_option(),
) -> None:
    """Ingest the new files of every source, or of one."""
    use_as_of(as_of)
    use_wait(wait)
    _run_ingest(source, inbox, strict)


@app.command()
def sources() -> None:
    """List the registered sources and check the registry (columns, defaults, value mappings, vocabularies)."""
    from pop.registry import RegistryError, load_registry

    settings = get_settings()
    try:
        reg = load_registry(settings.registry_path)
    except RegistryError as exc:
        console.print(Text(str(exc), style="bold red"))
        raise typer.Exit(2) from None
    table = Table(title=f"Sources in {settings.registry_path}")
    for column in ("id", "group", "organisation", "format", "files", "update"):
        table.add_column(column)
    for s in reg.sources:
        add_row(table, s.id, s.group, s.organisation, ", ".join(s.formats), s.files, s.update_frequency)
    console.print(table)
    console.print(
        f"[green]✓ The registry holds: {len(reg.sources)} source(s), their columns, defaults and value mappings "
        "checked against the schemas and vocabularies, and no file can match two sources' globs.[/]"
    )
