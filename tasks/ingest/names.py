"""New names from a source authoritative for a field's names (a registry of service providers): the rows about to
load carry codes the kinds gave names no vocabulary had; each becomes an entry with the source as provenance, for a
steward to review, in the batch's own transaction."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, select, text

from pop.registry import Source
from schemas.vocabulary import AddedEntry, AddedName, Additions, normalise_text
from tasks.ingest.convert import parse_options
from tasks.ledger.review import AUTOMATIC, record_action
from tasks.reference.dimensions import sync_names
from tasks.reference.names import ENTRIES, NAMES, AddedBy, add_entry, add_name

NAMES_LOCK = 0x504F505F4E414D45  # PostgreSQL advisory lock key of recording names sources bring ("POP_NAME")


def brought_entries(clean: pd.DataFrame, source: Source, additions: Additions) -> list[AddedEntry]:
    """The entries the rows about to load bring, field by field of those the source is authoritative for."""
    options = parse_options(source, additions=additions)
    fields = [source.schema.fields[name] for name in source.adds_names_of]
    return [entry for spec in fields for entry in spec.field_kind.new_entries(spec, clean, options)]


def _unrecorded(conn: Connection, brought: list[AddedEntry]) -> tuple[list[AddedEntry], list[AddedName]]:
    """Of the entries brought, those not recorded yet (one per code, labelled by its first name) and the names not
    recorded yet: an earlier chunk of the file may have recorded them."""
    codes = {tuple(r) for r in conn.execute(select(ENTRIES.c.vocabulary, ENTRIES.c.code))}
    names = {tuple(r) for r in conn.execute(select(NAMES.c.vocabulary, NAMES.c.name))}
    entries = {(e.vocabulary, e.code): e for e in reversed(brought)}  # reversed: the first name of a code is kept
    spelled = {(e.vocabulary, normalise_text(e.label)): AddedName(e.vocabulary, e.label, e.code) for e in brought}
    return (
        [e for key, e in entries.items() if key not in codes],
        [n for key, n in spelled.items() if key not in names],
    )


def record_source_names(
    conn: Connection, clean: pd.DataFrame, source: Source, batch_id: int, additions: Additions
) -> None:
    """Record the new entries and names the rows about to load bring (a source authoritative for their field's names
    added them while parsing), with the source and batch as provenance, in the dimensions and the audit trail."""
    if not source.adds_names_of or clean.empty:
        return
    brought = brought_entries(clean, source, additions)
    entries, names = _unrecorded(conn, brought)
    if not entries and not names:
        return
    if conn.dialect.name == "postgresql":
        # files of several sources loading side by side (POP_TASK_RUNNER) may bring the same new name: those that
        # bring new names record them one after the other (the lock is held to the end of the file's transaction),
        # and each reads again what is recorded once it holds the lock, so none inserts a name another committed
        # meanwhile (a unique violation) nor waits on another's rows while that one waits on its own (a deadlock).
        # A file that brings no new name takes no lock. On SQLite a file's transaction holds the one write lock.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": NAMES_LOCK})
        entries, names = _unrecorded(conn, brought)
        if not entries and not names:
            return
    reason = f"{source.id} is authoritative for the names of {', '.join(source.adds_names_of)}: new, for review"
    by = AddedBy(AUTOMATIC, reason, source_id=source.id, batch_id=batch_id)
    for entry in entries:
        add_entry(conn, entry, by)
    for name in names:
        add_name(conn, name, "source", by)
    sync_names(conn)
    details = {
        "source": source.id,
        "names": [{"vocabulary": n.vocabulary, "name": n.name, "code": n.code} for n in names],
    }
    record_action(conn, AUTOMATIC, "vocab_add", batch_id=batch_id, reason=reason, details=details)
