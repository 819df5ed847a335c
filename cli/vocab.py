"""Commands on the vocabularies that grow (companies, platforms): the names rows wait on in quarantine, and a
steward's decision on one (map it to an entry, or accept it as a new one), after which its rows are taken again."""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table
from rich.text import Text

from cli.app import add_row, app, as_of_option, console, fail, use_as_of
from cli.steward import BY_HELP, show_the_present
from pop.settings import get_settings

vocab_app = typer.Typer(
    help="Names of companies and platforms: those rows wait on, and a steward's decision on one.", no_args_is_help=True
)
app.add_typer(vocab_app, name="vocab")

KIND_HELP = "The vocabulary the name is for: company, platform or organisation (needed only when it is not plain)."
REASON_HELP = "Why (recorded in the audit trail)."


@vocab_app.command("list")
def vocab_list() -> None:
    """The names rows wait on in quarantine (with how many rows, from which sources), and the entries sources
    authoritative for their names added, to review."""
    from pop.db import get_engine
    from tasks.reference.names import entries_to_review
    from tasks.steward.names import waiting_names

    with get_engine(get_settings().warehouse_url).connect() as conn:
        waiting, added = waiting_names(conn), entries_to_review(conn)
    if not waiting:
        console.print("No row waits on a name.")
    else:
        table = Table(title="Names rows wait on (pop vocab map NAME --to CODE, or pop vocab accept NAME)")
        for column in ("name", "kind", "rows", "sources", "batches", "note"):
            table.add_column(column, overflow="fold", justify="right" if column == "rows" else "left")
        for name in waiting:
            note = f"ambiguous: {' or '.join(name.ambiguous)}" if name.ambiguous else ""
            note = f"now {name.known_as}: map it again to take its rows" if name.known_as else note
            batches = ", ".join(map(str, name.batches))
            add_row(table, name.name, name.vocabulary, f"{name.rows:,}", ", ".join(name.sources), batches, note)
        console.print(table)
    if added:
        table = Table(
            title="Entries sources added, to review (confirm with: pop vocab accept NAME [--label --company])"
        )
        for column in ("kind", "code", "label", "company", "source", "batch", "added"):
            table.add_column(column, overflow="fold")
        for e in added:
            row = (e["vocabulary"], e["code"], e["label"], e["company_code"], e["source_id"], e["batch_id"])
            add_row(table, *(str(v or "") for v in row), e["added_at"].isoformat()[:19])
        console.print(table)


def _decide(action: str, name: str, as_of: dt.datetime | None, **given: str | None) -> None:
    """Take a decision on a name, then print where the rows that waited on it are now."""
    from pop.registry import load_registry
    from tasks.ingest.errata import load_errata
    from tasks.ledger.review import ReviewError
    from tasks.steward.names import NameDecision, Reload, decide_name

    use_as_of(as_of)
    settings = get_settings()
    registry = load_registry(settings.registry_path)
    decision = NameDecision(action=action, name=name, actor=given.pop("by") or settings.steward, **given)
    reload = Reload(
        corrections_dir=settings.outputs.corrections,
        landing_dir=settings.outputs.landing,
        chunk_rows=settings.chunk_rows,
        errata=tuple(load_errata(settings.errata_path, registry)),
        auto_approve=settings.auto_approve_clean,
    )
    try:
        outcome = decide_name(settings.warehouse_url, registry, decision, reload)
    except ReviewError as exc:
        fail(str(exc))
    console.print(f"{outcome.vocabulary.capitalize()} {outcome.name!r} stands for {outcome.code!r}.", markup=False)
    if outcome.merged:
        console.print(
            f"The entry {outcome.merged!r} added in the warehouse is merged into {outcome.code!r}: "
            f"{outcome.rows_moved:,} loaded row(s) moved to it.",
            markup=False,
        )
    for batch in outcome.reloaded:
        if batch.outcome is None:
            console.print(
                Text(f"Batch {batch.batch_id}: its rows could not be taken again ({batch.problem}).", "yellow")
            )
            continue
        correction, r = batch.outcome.correction, batch.outcome.reconciliation
        if correction is not None:
            console.print(
                f"Batch {batch.batch_id}: its waiting rows went in again as correction batch {correction.batch_id}: "
                f"loaded {correction.rows_loaded:,}, back in quarantine {correction.rows_quarantined:,}."
            )
        console.print(f"Batch {batch.batch_id}: {r.rows_in:,} rows = {r.sentence()}.")
    if not outcome.reloaded:
        console.print("No row waited on it.")
    show_the_present([b.batch_id for b in outcome.reloaded])


@vocab_app.command("map")
def vocab_map(
    name: str = typer.Argument(..., help="The name as senders write it (see pop vocab list)."),
    to: str = typer.Option(..., "--to", help="The code of the company or platform it stands for."),
    kind: str | None = typer.Option(None, "--kind", help=KIND_HELP),
    reason: str | None = typer.Option(None, help=REASON_HELP),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    as_of: dt.datetime | None = as_of_option(),
) -> None:
    """Make a name another name of a company, platform or organisation we know (an ambiguous one: say which it
    means); the rows waiting on it are taken again. A name of an entry added in the warehouse merges that entry
    into the one given: its rows move."""
    _decide("map", name, as_of, code=to, vocabulary=kind, reason=reason, by=by)


@vocab_app.command("accept")
def vocab_accept(
    name: str = typer.Argument(..., help="The name as senders write it (see pop vocab list)."),
    code: str | None = typer.Option(None, help="The new entry's code (default: made from the name)."),
    label: str | None = typer.Option(None, help="The name people read (default: the name)."),
    company: str | None = typer.Option(None, help="For a platform: the code of the company that runs it."),
    kind: str | None = typer.Option(None, "--kind", help=KIND_HELP),
    reason: str | None = typer.Option(None, help=REASON_HELP),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    as_of: dt.datetime | None = as_of_option(),
) -> None:
    """Add a name as a new company or platform (or confirm one a source added); the rows waiting on it are taken
    again."""
    _decide("accept", name, as_of, code=code, label=label, company=company, vocabulary=kind, reason=reason, by=by)
