"""The `pop` command line: run the pipeline, ingest sources, inspect the registry."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

# an offline machine: no telemetry calls home from Prefect's local server or from Great Expectations
for _name, _value in {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}.items():
    os.environ.setdefault(_name, _value)

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

from pop.settings import get_settings  # noqa: E402

app = typer.Typer(
    help="POP evidence pipeline: ingest stakeholder evidence into the warehouse and report on it.",
    no_args_is_help=True,
    add_completion=False,
)
# a pipe or a CI log has no width of its own: give tables room instead of rich's 80 columns
console = Console(width=None if os.isatty(1) or os.environ.get("COLUMNS") else 140)
STATUS_STYLE = {
    "loaded": "green",
    "failed": "bold red",
    "duplicate": "yellow",
    "ok": "green",
    "no_new_files": "dim",
    "completed": "green",
}


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
        table.add_column(
            column, justify="right" if column in ("rows in", "loaded", "quarantined") else "left", overflow="fold"
        )
    for source in summary["sources"]:
        if not source["batches"]:
            style = STATUS_STYLE.get(source["status"], "")
            table.add_row(source["source_id"], "—", f"[{style}]{source['status']}[/]", "", "", "")
        for batch in source["batches"]:
            style = STATUS_STYLE.get(batch["status"], "")
            table.add_row(
                source["source_id"],
                batch["original_name"],
                f"[{style}]{batch['status']}[/]",
                f"{batch['rows_in']:,}",
                f"{batch['rows_loaded']:,}",
                f"{batch['rows_quarantined']:,}",
            )
    console.print(table)
    totals = summary["totals"]
    console.print(
        f"Rows in {totals['rows_in']:,} = loaded {totals['rows_loaded']:,} + quarantined "
        f"{totals['rows_quarantined']:,}; new batches {totals['batches_new']}, failed files "
        f"{totals['failed_batches']}."
    )
    for source in summary["sources"]:
        if source["status"] == "failed":
            console.print(f"[bold red]✗ {source['source_id']}[/]: {source['message']}")
    quality = summary.get("quality")
    if quality:
        console.print(
            "[green]✓ Warehouse checks: every expectation holds.[/]"
            if quality["success"]
            else f"[bold red]✗ Warehouse checks: {quality['failed']} expectation(s) failed[/]: "
            + "; ".join(quality["failed_expectations"][:5])
            + f" (Data Docs: {quality['data_docs']})"
        )
    if summary.get("findings"):
        console.print(f"[yellow]⚠ {summary['findings']} cross-source finding(s) to review[/] (see the steward index)")


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
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
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
    console.print(
        f"\nWarehouse: {settings.warehouse_url}\nSteward report: {summary['reports']['index']}\n"
        f"Run report: {summary['reports']['run_html']}"
    )
    if strict and summary["status"] == "failed":
        raise typer.Exit(3)


DEMO_STEWARD = "demo (pop run --demo)"
DEMO_REASON = (
    "bundled demo data: approved by `pop run --demo` so the snapshot shows the evidence; "
    "real batches are approved by a steward with `pop batch approve`"
)


def _approve_pending_as_demo() -> int:
    """Approve every loaded batch awaiting review, as the demo steward (recorded in the audit trail)."""
    from pop.db import get_engine
    from tasks.review import pending_loaded_batches, review_batch

    with get_engine(get_settings().warehouse_url).begin() as conn:
        pending = pending_loaded_batches(conn)
        for batch_id in pending:
            review_batch(conn, batch_id, "approved", DEMO_STEWARD, DEMO_REASON)
    return len(pending)


def _run_snapshot(as_of: str | None) -> dict[str, Any]:
    from flows.snapshot import snapshot  # an entry point may start flows

    with console.status("Putting the evidence together (indicators, disclosure control, findings)…"):
        state = snapshot(as_of=as_of, return_state=True)
    summary = state.result(raise_on_failure=False)
    if not isinstance(summary, dict):
        console.print(f"[bold red]The snapshot flow failed:[/] {summary}")
        raise typer.Exit(1)
    if summary["statements"]:
        table = Table(title=f"Snapshot {summary['id']}")
        for column in ("finding", "corroboration"):
            table.add_column(column, overflow="fold")
        for item in summary["statements"]:
            table.add_row(item["statement"], item["corroboration"])
        console.print(table)
    else:
        console.print(f"Snapshot {summary['id']}: no finding can be stated yet (not enough approved evidence).")
    console.print(
        f"{summary['indicators']} indicators, {summary['hidden_cells']} cell(s) hidden by disclosure "
        f"control; {summary['approved_batches']} approved file(s), {summary['pending_batches']} awaiting "
        f"review and not included.\n{summary['changes']}\nSnapshot: {summary['paths']['html']}"
    )
    return summary


@app.command()
def run(
    strict: bool = typer.Option(False, help="Exit with code 3 when any source failed (for schedulers)."),
    inbox: Path | None = typer.Option(None, help="Folder where the sources' files arrive."),
    demo: bool = typer.Option(
        False,
        help="Demo only: approve every batch awaiting review before the snapshot "
        "(recorded in the audit trail as the demo steward).",
    ),
    as_of: str | None = typer.Option(None, help="Snapshot date (YYYY-MM-DD); default today."),
) -> None:
    """Run the whole pipeline: ingest every source, validate, load, report to stewards, then make a snapshot."""
    _run_ingest(None, inbox, strict)
    if demo:
        approved = _approve_pending_as_demo()
        console.print(f"Demo: approved {approved} batch(es) awaiting review as '{DEMO_STEWARD}' (see `pop audit`).")
    _run_snapshot(as_of)


@app.command("snapshot")
def snapshot_command(as_of: str | None = typer.Option(None, help="Snapshot date (YYYY-MM-DD); default today.")) -> None:
    """Make a snapshot of the approved evidence: indicators, findings, disclosure control, HTML/MD/CSV/JSON."""
    _run_snapshot(as_of)


@app.command()
def ingest(
    source: str | None = typer.Option(None, "--source", "-s", help="Only this source id."),
    inbox: Path | None = typer.Option(None, help="Folder where the sources' files arrive."),
    strict: bool = typer.Option(False, help="Exit with code 3 when the source failed."),
) -> None:
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


batch_app = typer.Typer(
    help="Review one batch: show it, approve or reject it, export and correct its rows.", no_args_is_help=True
)
quarantine_app = typer.Typer(help="Quarantined rows.", no_args_is_help=True)
app.add_typer(batch_app, name="batch")
app.add_typer(quarantine_app, name="quarantine")
REVIEW_STYLE = {"approved": "green", "rejected": "bold red", "pending": "yellow"}


def _steward(name: str | None) -> str:
    return name or get_settings().steward


def _fail(message: str) -> None:
    console.print(f"[bold red]{message}[/]")
    raise typer.Exit(2)


@app.command()
def batches(
    status: str | None = typer.Option(None, help="Only this status: loaded, failed, duplicate."),
    review: str | None = typer.Option(None, help="Only this review state: pending, approved, rejected."),
) -> None:
    """List batches and their status (newest first)."""
    from tasks.steward import list_batches

    settings = get_settings()
    table = Table(title="Batches")
    for column in ("id", "source", "file", "status", "review", "in", "loaded", "quarantined", "corrects"):
        table.add_column(
            column, overflow="fold", justify="right" if column in ("id", "in", "loaded", "quarantined") else "left"
        )
    for b in list_batches(settings.warehouse_url, status, review):
        table.add_row(
            str(b["batch_id"]),
            b["source_id"],
            b["original_name"],
            f"[{STATUS_STYLE.get(b['status'], '')}]{b['status']}[/]",
            f"[{REVIEW_STYLE.get(b['review_status'], '')}]{b['review_status']}[/]",
            f"{b['rows_in']:,}",
            f"{b['rows_loaded']:,}",
            f"{b['rows_quarantined']:,}",
            str(b["corrects_batch_id"] or ""),
        )
    console.print(table)


@batch_app.command("show")
def batch_show(batch_id: int) -> None:
    """One batch: its outcome, every failed check with what to fix, and where its rows are now."""
    from tasks.review import ReviewError
    from tasks.steward import batch_details

    try:
        batch = batch_details(get_settings().warehouse_url, batch_id)
    except ReviewError as exc:
        _fail(str(exc))
    console.print(
        f"[bold]Batch {batch_id}[/]: {batch['original_name']} from {batch['source_id']} — "
        f"{batch['status']}, review {batch['review_status']}"
    )
    if batch["message"]:
        console.print(batch["message"])
    console.print(
        f"rows in {batch['rows_in']:,} = loaded {batch['rows_loaded']:,} + quarantined {batch['rows_quarantined']:,}"
    )
    if batch["failures"]:
        table = Table(title="Failed checks")
        for column in ("column", "check", "rows", "examples", "row numbers", "what to fix"):
            table.add_column(column, overflow="fold")
        for f in batch["failures"]:
            table.add_row(
                f["sender_column"] or f["column"],
                f["check"],
                str(f["rows"]),
                ", ".join(f["examples"]),
                ", ".join(map(str, f["row_numbers"])),
                f["hint"],
            )
        console.print(table)
    held = [q for q in batch["quarantined"] if q["status"] == "open"]
    if held:
        table = Table(title="Open quarantined rows (dismiss with: pop quarantine dismiss ID --reason ...)")
        for column in ("id", "row", "fields", "why"):
            table.add_column(column, overflow="fold")
        for q in held:
            table.add_row(
                str(q["quarantine_id"]),
                str(q["row_number"]),
                q["fields"],
                "; ".join(f"{r['check']}: {r['value']}" for r in q["reasons"]),
            )
        console.print(table)
    if batch["reconciliation"]:
        r = batch["reconciliation"]
        console.print(
            f"Where its {r['rows_in']:,} rows are now: loaded {r['loaded_first_time']:,} + loaded by "
            f"correction {r['loaded_by_correction']:,} + still open {r['open']:,} + dismissed "
            f"{r['dismissed']:,} = {r['accounted']:,}"
        )


def _review(batch_id: int, decision: str, reason: str | None, steward: str | None) -> None:
    from pop.db import get_engine
    from tasks.review import ReviewError, review_batch

    try:
        with get_engine(get_settings().warehouse_url).begin() as conn:
            review_batch(conn, batch_id, decision, _steward(steward), reason)
    except ReviewError as exc:
        _fail(str(exc))
    console.print(f"Batch {batch_id} {decision} by {_steward(steward)}.")


@batch_app.command("approve")
def batch_approve(
    batch_id: int,
    reason: str | None = typer.Option(None, help="Why (recorded in the audit)."),
    steward: str | None = typer.Option(None, "--by", help="Who approves (default: POP_STEWARD)"),
) -> None:
    """Approve a batch: its rows feed snapshots and releases."""
    _review(batch_id, "approved", reason, steward)


@batch_app.command("reject")
def batch_reject(
    batch_id: int,
    reason: str = typer.Option(..., help="Why (required; recorded in the audit)."),
    steward: str | None = typer.Option(None, "--by", help="Who rejects (default: POP_STEWARD)"),
) -> None:
    """Reject a batch: its rows stay in the warehouse but never reach snapshots or releases."""
    _review(batch_id, "rejected", reason, steward)


@batch_app.command("export")
def batch_export(
    batch_id: int,
    out: Path | None = typer.Option(None, help="File to write."),
    steward: str | None = typer.Option(None, "--by"),
) -> None:
    """Export a batch's open quarantined rows, in the sender's columns, with a column saying what to fix."""
    from tasks.registry import load_registry
    from tasks.review import ReviewError
    from tasks.steward import export_batch

    settings = get_settings()
    registry = load_registry(settings.registry_path)
    batch = _batch_source(batch_id)
    extension = registry.get(batch["source_id"]).format
    target = out or settings.outputs_dir / "corrections" / f"batch-{batch_id}-quarantined.{extension}"
    try:
        written = export_batch(settings.warehouse_url, registry, batch_id, target, _steward(steward))
    except (ReviewError, ValueError) as exc:
        _fail(str(exc))
    console.print(
        f"Wrote {written}. Send it to the sender; fix the rows (keep the pop_row column), then run:\n"
        f"  pop batch correct {batch_id} {written}"
    )


def _batch_source(batch_id: int) -> dict[str, Any]:
    from tasks.steward import list_batches

    found = [b for b in list_batches(get_settings().warehouse_url) if b["batch_id"] == batch_id]
    if not found:
        _fail(f"there is no batch {batch_id}")
    return found[0]


@batch_app.command("correct")
def batch_correct(batch_id: int, file: Path, steward: str | None = typer.Option(None, "--by")) -> None:
    """Take a corrected file back as the correction of a batch."""
    from flows.correct import correct

    if not file.is_file():
        _fail(f"{file} is not a file")
    state = correct(batch_id=batch_id, file=str(file), steward=_steward(steward), return_state=True)
    outcome = state.result(raise_on_failure=False)
    if not isinstance(outcome, dict):
        _fail(f"The correction could not be taken: {outcome}")
    correction, numbers = outcome["correction"], outcome["reconciliation"]
    if correction is None:
        console.print("This very file was taken before: nothing changed.")
    else:
        console.print(
            f"Correction batch {correction['batch_id']}: {correction['status']}, loaded "
            f"{correction['rows_loaded']:,}, back in quarantine {correction['rows_quarantined']:,}."
        )
        if correction["message"]:
            console.print(correction["message"])
    console.print(
        f"Batch {batch_id}: {numbers['rows_in']:,} rows = loaded {numbers['loaded_first_time']:,} + "
        f"loaded by correction {numbers['loaded_by_correction']:,} + still open {numbers['open']:,} + "
        f"dismissed {numbers['dismissed']:,}."
    )


@quarantine_app.command("dismiss")
def quarantine_dismiss(
    quarantine_id: int,
    reason: str = typer.Option(..., help="Why it is not loaded."),
    steward: str | None = typer.Option(None, "--by"),
) -> None:
    """Close a quarantined row without loading it (e.g. a true duplicate), with a reason."""
    from pop.db import get_engine
    from tasks.review import ReviewError, dismiss_quarantined

    try:
        with get_engine(get_settings().warehouse_url).begin() as conn:
            dismiss_quarantined(conn, quarantine_id, _steward(steward), reason)
    except ReviewError as exc:
        _fail(str(exc))
    console.print(f"Quarantined row {quarantine_id} dismissed.")


@app.command()
def template(
    source: str = typer.Argument(..., help="The source id (see pop sources)."),
    out: Path | None = typer.Option(None, help="The .xlsx file to write."),
) -> None:
    """Write an xlsx submission template for a source: its columns, dropdowns and a README sheet."""
    from tasks.registry import RegistryError, load_registry
    from tasks.submission_template import write_template

    settings = get_settings()
    try:
        registered = load_registry(settings.registry_path).get(source)
    except RegistryError as exc:
        _fail(str(exc))
    target = out or settings.outputs_dir / "templates" / f"{source}.xlsx"
    target.parent.mkdir(parents=True, exist_ok=True)
    console.print(f"Wrote {write_template(registered, target)}")


@app.command()
def audit(limit: int = typer.Option(50, help="How many actions, newest first.")) -> None:
    """The steward audit trail: who did what, when and why."""
    from pop.db import get_engine
    from tasks.review import audit_trail

    with get_engine(get_settings().warehouse_url).connect() as conn:
        actions = audit_trail(conn, limit)
    table = Table(title="Steward actions")
    for column in ("when", "who", "action", "batch", "row", "why"):
        table.add_column(column, overflow="fold")
    for a in actions:
        table.add_row(
            a["at"][:19],
            a["actor"],
            a["action"],
            str(a["batch_id"] or ""),
            str(a["quarantine_id"] or ""),
            a["reason"] or "",
        )
    console.print(table)


if __name__ == "__main__":
    app()
