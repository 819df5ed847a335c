"""Names added to the vocabularies that grow (companies, platforms) in the warehouse: read once per file or steward
action and handed to the kinds' parsers (schemas.vocabulary.Additions), and written by steward decisions and by
sources authoritative for a field's names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from pop.db import get_engine, utcnow
from pop.models import VocabularyEntry, VocabularyName
from schemas.vocabulary import AddedEntry, AddedName, Additions, normalise_text

ENTRIES = VocabularyEntry.__table__
NAMES = VocabularyName.__table__


@dataclass(frozen=True)
class AddedBy:
    """Who added a name or an entry, why, and the source (and file) that brought it, if one did."""

    actor: str
    reason: str | None = None
    source_id: str | None = None
    batch_id: int | None = None


def read_additions(conn: Connection) -> Additions:
    """Every entry and name added in the warehouse."""
    entries = conn.execute(select(ENTRIES).order_by(ENTRIES.c.vocabulary, ENTRIES.c.code)).mappings()
    names = conn.execute(select(NAMES).order_by(NAMES.c.vocabulary, NAMES.c.name)).mappings()
    return Additions(
        entries=tuple(AddedEntry(e["vocabulary"], e["code"], e["label"], e["company_code"]) for e in entries),
        names=tuple(AddedName(n["vocabulary"], n["spelling"], n["code"]) for n in names),
    )


def additions_in(database_url: str) -> Additions:
    """Every entry and name added in the warehouse at `database_url`."""
    with get_engine(database_url).connect() as conn:
        return read_additions(conn)


def add_entry(conn: Connection, entry: AddedEntry, by: AddedBy) -> None:
    """Record a new entry; one a steward adds needs no review, one a source brings waits for it."""
    conn.execute(
        ENTRIES.insert().values(
            vocabulary=entry.vocabulary,
            code=entry.code,
            label=entry.label,
            company_code=entry.company,
            source_id=by.source_id,
            batch_id=by.batch_id,
            added_by=by.actor,
            added_at=utcnow(),
            reason=by.reason,
            **({} if by.source_id else {"reviewed_by": by.actor, "reviewed_at": utcnow()}),
        )
    )


def add_name(conn: Connection, name: AddedName, decision: str, by: AddedBy) -> None:
    """Record that a name stands for a code (decision: map, accept or source)."""
    conn.execute(
        NAMES.insert().values(
            vocabulary=name.vocabulary,
            name=normalise_text(name.name),
            spelling=name.name,
            code=name.code,
            decision=decision,
            source_id=by.source_id,
            added_by=by.actor,
            added_at=utcnow(),
            reason=by.reason,
        )
    )


def review_entry(conn: Connection, entry: AddedEntry, actor: str) -> None:
    """A steward confirms an entry a source added, with its label and company as they now stand."""
    conn.execute(
        update(ENTRIES)
        .where(ENTRIES.c.vocabulary == entry.vocabulary, ENTRIES.c.code == entry.code)
        .values(label=entry.label, company_code=entry.company, reviewed_by=actor, reviewed_at=utcnow())
    )


def entries_to_review(conn: Connection) -> list[dict[str, Any]]:
    """The entries sources added that no steward has reviewed yet, oldest first."""
    query = select(ENTRIES).where(ENTRIES.c.reviewed_at.is_(None)).order_by(ENTRIES.c.added_at, ENTRIES.c.code)
    return [dict(r) for r in conn.execute(query).mappings()]
