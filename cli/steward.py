"""Commands of the data steward: batches, batch show/approve/reject/export/correct, quarantine list/dismiss,
template, audit, reports. Every command that changes a batch rewrites the steward pages it changed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.app import (
    REVIEW_STYLE,
    STATUS_STYLE,
    add_row,
    app,
    as_of_option,
    batch_app,
    console,
    fail,
    quarantine_app,
    refuse_when_busy,
    styled,
    use_as_of,
    use_wait,
    wait_option,
)
from pop.contracts import BatchStatus, QuarantineStatus, ReviewStatus, SourceStatus, what_it_did
from pop.settings import get_settings


def _steward(name: str | None) -> str:
    return name or get_settings().steward


def show_the_present(batch_ids: list[int] | None) -> None:
    """Rewrite the steward pages an action changed (the batches' pages, the runs that show them, the index; every
    page when None), so that they tell the state it left."""
    from tasks.quality.discrepancies import open_discrepancies
    from tasks.steward.reporting import refresh_reports

    settings = get_settings()
    try:
        index = refresh_reports(
            settings.warehouse_url, settings.outputs.reports, open_discrepancies(settings.warehouse_url), batch_ids
        )
    except OSError as exc:  # the action itself is done and recorded: say so, and how to bring the pages up to date
        console.print(f"[yellow]The steward pages could not be rewritten ({exc}); `pop reports` rewrites them.[/]")
        return
    console.print(f"Steward pages updated: {index}")


@app.command()
def batches(
    status: BatchStatus | None = typer.Option(None, help="Only this status."),
    review: ReviewStatus | None = typer.Option(None, help="Only this review state."),
) -> None:
    """List batches and their status (newest first)."""
    from tasks.steward.actions import list_batches

    settings = get_settings()
    table = Table(title="Batches")
    for column in ("id", "source", "file", "status", "review", "in", "loaded", "quarantined", "corrects"):
        table.add_column(
            column, overflow="fold", justify="right" if column in ("id", "in", "loaded", "quarantined") else "left"
        )
    for b in list_batches(settings.warehouse_url, status, review):
        add_row(
            table,
            str(b["batch_id"]),
            b["source_id"],
            b["original_name"],
            styled(b["status"], STATUS_STYLE),
            styled(b["review_status"], REVIEW_STYLE),
            f"{b['rows_in']:,}",
            f"{b['rows_loaded']:,}",
            f"{b['rows_quarantined']:,}",
            str(b["corrects_batch_id"] or ""),
        )
    console.print(table)


BATCH_ID = typer.Argument(..., help="The batch id (see pop batches).")
BY_HELP = "Who does it, for the audit trail (default: POP_STEWARD, else your user name)."


@batch_app.command("show")
def batch_show(batch_id: int = BATCH_ID) -> None:
    """One batch: its outcome, every failed check with what the sender should fix and what you can do, and where
    its rows are now."""
    from tasks.ledger.review import ReviewError
    from tasks.steward.actions import batch_details
    from tasks.steward.advice import steward_actions

    try:
        details = batch_details(get_settings().warehouse_url, batch_id)
    except ReviewError as exc:
        fail(str(exc))
    batch = details.batch
    console.print(
        f"[bold]Batch {batch_id}[/]: {escape(batch.original_name)} from {escape(batch.source_id)} — "
        f"{batch.status}, review {batch.review_status}"
    )
    if batch.message:
        console.print(batch.message, markup=False)
    console.print(f"rows in {batch.rows_in:,} = loaded {batch.rows_loaded:,} + quarantined {batch.rows_quarantined:,}")
    if batch.failures:
        table = Table(title="Failed checks")
        for column in ("column", "check", "rows", "examples", "row numbers", "what to fix"):
            table.add_column(column, overflow="fold")
        for f in batch.failures:
            add_row(
                table,
                f.sender_column or f.column,
                f.check,
                str(f.rows),
                ", ".join(f.examples),
                ", ".join(map(str, f.row_numbers)),
                f.hint,
            )
        console.print(table)
    actions = steward_actions(batch)
    if actions:
        console.print("[bold]What you can do[/] (for you, the steward; the sender is told only what to fix):")
        for item in actions:
            column = item.failure.sender_column or item.failure.column
            # the sender's column and values may hold [brackets], which would be read as markup
            console.print(f"- {column} ({item.failure.check}): {item.action}", markup=False)
    held = [q for q in details.quarantined if q.status == QuarantineStatus.OPEN]
    if held:
        table = Table(title="Open quarantined rows (dismiss with: pop quarantine dismiss ID --reason ...)")
        for column in ("id", "row", "fields", "why"):
            table.add_column(column, overflow="fold")
        for q in held:
            add_row(
                table,
                str(q.quarantine_id),
                str(q.row_number),
                q.fields,
                "; ".join(f"{r.check}: {r.value}" for r in q.reasons),
            )
        console.print(table)
    if details.reconciliation:
        r = details.reconciliation
        console.print(f"Where its {r.rows_in:,} rows are now: {r.sentence()} = {r.accounted:,}")


def _review(batch_id: int, decision: ReviewStatus, reason: str | None, steward: str | None) -> None:
    from pop.db import writing
    from tasks.ledger.review import ReviewError, review_batch

    try:
        with writing(get_settings().warehouse_url) as conn:
            review_batch(conn, batch_id, decision, _steward(steward), reason)
    except ReviewError as exc:
        fail(str(exc))
    console.print(f"Batch {batch_id} {decision} by {_steward(steward)}.")
    show_the_present([batch_id])


@batch_app.command("approve")
def batch_approve(
    batch_id: int = BATCH_ID,
    reason: str | None = typer.Option(None, help="Why (recorded in the audit)."),
    steward: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Approve a batch: its rows feed snapshots and releases."""
    _review(batch_id, ReviewStatus.APPROVED, reason, steward)


@batch_app.command("reject")
def batch_reject(
    batch_id: int = BATCH_ID,
    reason: str = typer.Option(..., help="Why (required; recorded in the audit)."),
    steward: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Reject a batch: its rows stay in the warehouse but never reach snapshots or releases."""
    _review(batch_id, ReviewStatus.REJECTED, reason, steward)


@batch_app.command("export")
def batch_export(
    batch_id: int = BATCH_ID,
    out: Path | None = typer.Option(
        None, help="File to write (default: outputs/corrections/batch-ID-quarantined, in the batch's own format)."
    ),
    steward: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Export a batch's open quarantined rows, in the sender's columns, with a column saying what to fix."""
    from pop.registry import load_registry
    from tasks.ledger.review import ReviewError
    from tasks.steward.actions import export_batch

    settings = get_settings()
    registry = load_registry(settings.registry_path)
    batch = _batch_source(batch_id)
    extension = registry.get(batch["source_id"]).format
    target = out or settings.outputs.corrections / f"batch-{batch_id}-quarantined.{extension}"
    try:
        written = export_batch(settings.warehouse_url, registry, batch_id, target, _steward(steward))
    except (ReviewError, ValueError) as exc:
        fail(str(exc))
    console.print(
        f"Wrote {written}. Send it to the sender; fix the rows (keep the pop_row column), then run:\n"
        f"  pop batch correct {batch_id} {written}"
    )
    show_the_present([batch_id])


def _batch_source(batch_id: int) -> dict[str, Any]:
    from tasks.ledger.review import ReviewError
    from tasks.steward.actions import batch_record

    try:
        return batch_record(get_settings().warehouse_url, batch_id)
    except ReviewError as exc:
        fail(str(exc))


@batch_app.command("correct")
def batch_correct(
    batch_id: int = BATCH_ID,
    file: Path = typer.Argument(..., help="The corrected file (the export, fixed; keep its pop_row column)."),
    steward: str | None = typer.Option(None, "--by", help=BY_HELP),
    as_of: dt.datetime | None = as_of_option(),
    wait: float | None = wait_option(),
) -> None:
    """Take a corrected file back as the correction of a batch."""
    from flows.correct import correct
    from tasks.steward.outcomes import CorrectionResult

    use_as_of(as_of)
    use_wait(wait)
    if not file.is_file():
        fail(f"{file} is not a file")
    state = correct(batch_id=batch_id, file=str(file), steward=_steward(steward), return_state=True)
    result = what_it_did(state.result(raise_on_failure=False))
    refuse_when_busy(result)
    if not isinstance(result, CorrectionResult):
        fail(f"The correction could not be taken: {result}")
    correction, numbers = result.outcome.correction, result.outcome.reconciliation
    if correction is None:
        console.print("This very file was taken before: nothing changed.")
    else:
        console.print(
            f"Correction batch {correction.batch_id}: {correction.status}, loaded "
            f"{correction.rows_loaded:,}, back in quarantine {correction.rows_quarantined:,}."
        )
        if correction.message:
            console.print(correction.message)
    console.print(f"Batch {batch_id}: {numbers.rows_in:,} rows = {numbers.sentence()}.")
    if result.outcome.source.status == SourceStatus.FAILED:
        fail("The correction failed: nothing of it was loaded (why is said above).")


@quarantine_app.command("list")
def quarantine_list(
    source: str | None = typer.Option(None, "--source", "-s", help="Only the rows of this source id."),
    batch_id: int | None = typer.Option(None, "--batch", help="Only the rows of this batch id."),
    check: str | None = typer.Option(None, help="Only the rows that failed this check (e.g. unknown_code)."),
    limit: int = typer.Option(50, min=1, help="How many rows to list at most, oldest first."),
) -> None:
    """The open quarantined rows, with the ids to dismiss them by."""
    from pop.registry import RegistryError, load_registry
    from pop.suggest import no_such
    from tasks.ledger.review import ReviewError
    from tasks.steward.actions import known_checks, open_quarantined

    settings = get_settings()
    try:
        if source is not None:
            load_registry(settings.registry_path).get(source)
        rows, total = open_quarantined(settings.warehouse_url, source, batch_id, check, limit)
    except (RegistryError, ReviewError) as exc:
        fail(str(exc))
    if not rows:
        known = known_checks(settings.warehouse_url) if check is not None else set()
        if check is not None and check not in known:
            fail(no_such("check", check, known))
        console.print("No open quarantined row" + (" matches." if source or batch_id or check else "."))
        return
    table = Table(title="Open quarantined rows (dismiss with: pop quarantine dismiss ID --reason ...)")
    for column in ("id", "batch", "source", "row", "why"):
        table.add_column(column, overflow="fold", justify="right" if column in ("id", "batch", "row") else "left")
    for row in rows:
        why = "; ".join(
            f"{r['field']}: {r['check']}" + (f" ({r['value']})" if r.get("value") else "") for r in row["reasons"]
        )
        add_row(table, str(row["quarantine_id"]), str(row["batch_id"]), row["source_id"], str(row["row_number"]), why)
    console.print(table)
    if total > len(rows):
        console.print(f"{len(rows):,} of {total:,} shown: narrow with --source, --batch or --check, or raise --limit.")


@quarantine_app.command("dismiss")
def quarantine_dismiss(
    quarantine_id: int = typer.Argument(..., help="The quarantined row's id (see pop quarantine list)."),
    reason: str = typer.Option(..., help="Why it is not loaded (required; recorded in the audit)."),
    steward: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Close a quarantined row without loading it (e.g. a true duplicate), with a reason."""
    from pop.db import writing
    from tasks.ledger.review import ReviewError, dismiss_quarantined

    try:
        with writing(get_settings().warehouse_url) as conn:
            batch_id = dismiss_quarantined(conn, quarantine_id, _steward(steward), reason)
    except ReviewError as exc:
        fail(str(exc))
    console.print(f"Quarantined row {quarantine_id} dismissed.")
    show_the_present([batch_id])


@app.command()
def reports() -> None:
    """Rewrite every steward page (index, batches, runs) from the warehouse as it is now."""
    show_the_present(None)


@app.command()
def template(
    source: str = typer.Argument(..., help="The source id (see pop sources)."),
    out: Path | None = typer.Option(None, help="The .xlsx file to write."),
) -> None:
    """Write an xlsx submission template for a source: its columns, dropdowns and a README sheet."""
    from pop.registry import RegistryError, load_registry
    from tasks.steward.submission_template import write_template

    settings = get_settings()
    try:
        registered = load_registry(settings.registry_path).get(source)
    except RegistryError as exc:
        fail(str(exc))
    target = out or settings.outputs.templates / f"{source}.xlsx"
    target.parent.mkdir(parents=True, exist_ok=True)
    console.print(f"Wrote {write_template(registered, target)}")


@app.command()
def audit(limit: int = typer.Option(50, help="How many actions, newest first.")) -> None:
    """The steward audit trail: who did what, when and why."""
    from pop.db import get_engine
    from tasks.ledger.review import audit_trail

    with get_engine(get_settings().warehouse_url).connect() as conn:
        actions = audit_trail(conn, limit)
    table = Table(title="Steward actions")
    for column in ("when", "who", "action", "batch", "row", "why"):
        table.add_column(column, overflow="fold")
    for a in actions:
        add_row(
            table,
            a["at"][:19],
            a["actor"],
            a["action"],
            str(a["batch_id"] or ""),
            str(a["quarantine_id"] or ""),
            a["reason"] or "",
        )
    console.print(table)
