"""Names that grow with the evidence: the names of companies and platforms no vocabulary knows yet (or that could
stand for a company as well as one of its products) hold their rows in quarantine until a steward maps each to an
entry or accepts it as a new one. The decision is recorded in the warehouse and the audit trail, and the rows
waiting on the name are taken again, as a correction of their batch whose rows link to the originals, so that every
original row still ends loaded, open or dismissed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, or_, select

from pop.contracts import Contract, QuarantineStatus, ReviewStatus
from pop.db import get_engine, utcnow, writing
from pop.models import Batch, QuarantineRow, SourceRecord
from pop.registry import Registry
from schemas.kinds import AMBIGUOUS
from schemas.spec import GROUPS, FieldSpec, load_schema
from schemas.vocabulary import (
    NAME_CHARS,
    NEW_CODE_CHARS,
    AddedEntry,
    AddedName,
    Additions,
    normalise_text,
    vocabularies,
    vocabulary,
)
from tasks.ingest.errata import Erratum
from tasks.ledger.review import ReviewError, record_action
from tasks.reference.dimensions import sync_names
from tasks.reference.merge import MergeError, merge_entry
from tasks.reference.names import AddedBy, add_entry, add_name, entries_to_review, read_additions, review_entry
from tasks.steward.actions import submit_correction
from tasks.steward.corrections import export_quarantined
from tasks.steward.outcomes import CorrectionOutcome

QUARANTINE = QuarantineRow.__table__
BATCH = Batch.__table__
MULTI_SEPARATOR = "; "  # how a multi-select reason lists the options it did not know
CODE = re.compile(r"^[a-z0-9][a-z0-9_]*$")  # as code_form writes them


class WaitingName(Contract):
    """A name rows wait on in quarantine: its vocabulary, the name as sent, how many open rows, from which sources
    and batches; what it could stand for when it is ambiguous; the code it stands for when it is known by now (its
    rows are still to be taken again)."""

    vocabulary: str
    name: str
    rows: int
    sources: tuple[str, ...]
    batches: tuple[int, ...]
    ambiguous: tuple[str, ...] = ()
    known_as: str | None = None


class NameDecision(Contract):
    """A steward's decision on a name: `map` it to an entry (`code`), or `accept` it as a new entry (its code,
    label and, for a platform, company default from the name); in the vocabulary its rows wait in when not given."""

    action: Literal["map", "accept"]
    name: str
    actor: str
    vocabulary: str | None = None
    code: str | None = None
    label: str | None = None
    company: str | None = None
    reason: str | None = None


class BatchReloaded(Contract):
    """The open rows of a batch that waited on names, taken again as a correction of it (None: they could not be)."""

    batch_id: int
    outcome: CorrectionOutcome | None = None
    problem: str | None = None


class NameOutcome(Contract):
    """A decision taken: the name, its vocabulary and code, and every batch whose waiting rows were taken again."""

    vocabulary: str
    name: str
    code: str
    reloaded: tuple[BatchReloaded, ...] = ()
    merged: str | None = None  # the entry added in the warehouse that the decision merged into `code`
    rows_moved: int = 0


@dataclass(frozen=True)
class Reload:
    """Where ingestion puts the rows taken again, and how it takes them (as a correction would be taken)."""

    corrections_dir: Path
    landing_dir: Path
    chunk_rows: int
    errata: tuple[Erratum, ...] = ()
    auto_approve: bool = True


# --- the names waiting -----------------------------------------------------------------------------------------


def growing_vocabulary(spec: FieldSpec | None) -> str | None:
    """The vocabulary that grows a field's names belong to (None: the field names nothing that grows): a company or
    platform field's is the one its kind names, a multi-select field's its vocab."""
    if spec is None or not (spec.field_kind.takes_new_names or spec.field_kind.multi):
        return None
    vocab = vocabularies().get(spec.vocab or spec.kind)
    return vocab.name if vocab is not None and vocab.grows else None


def _waits(spec: FieldSpec | None, check: str) -> str | None:
    """The vocabulary a reason of `check` on the field waits in, if it waits on a name."""
    if spec is None or check not in (spec.field_kind.failure, AMBIGUOUS):
        return None
    return growing_vocabulary(spec)


def _spellings(value: str | None, spec: FieldSpec) -> list[str]:
    """The names a reason's value holds: a multi-select reason lists each option it did not know."""
    if not value:
        return []
    return value.split(MULTI_SEPARATOR) if spec.field_kind.multi else [value]


def waiting_rows(conn: Connection) -> Iterator[tuple[int, int, str, str, str]]:
    """(quarantine id, batch id, source id, vocabulary, name) of each name each open row waits on; rows of rejected
    batches wait on nothing, as they would never count."""
    groups = dict(conn.execute(select(SourceRecord.id, SourceRecord.stakeholder_group)).all())
    named = sorted({spec.name for g in GROUPS for spec in load_schema(g).fields.values() if growing_vocabulary(spec)})
    query = (
        select(QUARANTINE.c.quarantine_id, QUARANTINE.c.batch_id, QUARANTINE.c.source_id, QUARANTINE.c.reasons_json)
        .join(BATCH, BATCH.c.batch_id == QUARANTINE.c.batch_id)
        .where(QUARANTINE.c.status == QuarantineStatus.OPEN, BATCH.c.review_status != ReviewStatus.REJECTED)
        # only rows that failed on a field of names are read (`fields` lists the fields a row failed on)
        .where(or_(*[QUARANTINE.c.fields.contains(name, autoescape=True) for name in named]))
        .order_by(QUARANTINE.c.quarantine_id)
    )
    for row in conn.execute(query):
        fields = load_schema(groups[row.source_id]).fields
        for reason in json.loads(row.reasons_json):
            spec = fields.get(reason["field"])
            vocab = _waits(spec, reason["check"])
            for name in _spellings(reason.get("value"), spec) if vocab else []:
                yield row.quarantine_id, row.batch_id, row.source_id, vocab, name


def waiting_names(conn: Connection) -> list[WaitingName]:
    """The names rows wait on, most rows first."""
    additions = read_additions(conn)
    found: dict[tuple[str, str], dict] = {}
    for quarantine_id, batch_id, source_id, vocab, name in waiting_rows(conn):
        entry = found.setdefault(
            (vocab, normalise_text(name)), {"name": name, "rows": set(), "sources": set(), "batches": set()}
        )
        entry["rows"].add(quarantine_id)
        entry["sources"].add(source_id)
        entry["batches"].add(batch_id)
    names = [
        WaitingName(
            vocabulary=vocab,
            name=entry["name"],
            rows=len(entry["rows"]),
            sources=tuple(sorted(entry["sources"])),
            batches=tuple(sorted(entry["batches"])),
            ambiguous=additions.vocabulary(vocab).ambiguous.get(key, ()),
            known_as=additions.vocabulary(vocab).resolve(entry["name"]),
        )
        for (vocab, key), entry in found.items()
    ]
    return sorted(names, key=lambda n: (-n.rows, n.vocabulary, n.name.lower()))


# --- decisions ---------------------------------------------------------------------------------------------------


def _vocabulary_of(conn: Connection, decision: NameDecision, additions: Additions) -> str:
    """The vocabulary a decision is about: given, else the one the name's rows wait in, else the one a mapping's code
    or an accepted platform's company points to, else the one a source added the name to."""
    growing = sorted(vocab.name for vocab in vocabularies().values() if vocab.grows)
    if decision.vocabulary:
        if decision.vocabulary not in growing:
            known = f"{', '.join(growing[:-1])} and {growing[-1]}"
            raise ReviewError(f"names are added to {known}, not to {decision.vocabulary!r}")
        return decision.vocabulary
    key = normalise_text(decision.name)
    candidates = {vocab for *_, vocab, name in waiting_rows(conn) if normalise_text(name) == key}
    if not candidates and decision.action == "map":
        candidates = {v for v in growing if decision.code in additions.vocabulary(v).entries}
    if not candidates and decision.company:
        candidates = {"platform"}
    if not candidates:  # a name a source added, to confirm
        pending = {(e["vocabulary"], e["code"]) for e in entries_to_review(conn)}
        candidates = {v for v in growing if (v, additions.vocabulary(v).resolve(decision.name)) in pending}
    if len(candidates) != 1:
        where = f"rows wait on it as a {' and as a '.join(sorted(candidates))}" if candidates else "no row waits on it"
        raise ReviewError(
            f"say which vocabulary {decision.name!r} is for ({where}): --kind {' or --kind '.join(growing)}"
        )
    return candidates.pop()


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_CHARS:
        raise ReviewError(f"a name has 1 to {NAME_CHARS} characters, not {len(name)}")
    return name


def _map(conn: Connection, decision: NameDecision, vocab_name: str, additions: Additions) -> str:
    """Record that the name stands for an existing entry."""
    vocab = additions.vocabulary(vocab_name)
    if decision.code not in vocab.entries:
        raise ReviewError(f"{decision.code!r} is not a {vocab_name} code; `pop vocab accept` adds a new entry")
    by = AddedBy(decision.actor, decision.reason)
    add_name(conn, AddedName(vocab_name, decision.name, decision.code), "map", by)
    return decision.code


def _accept(conn: Connection, decision: NameDecision, vocab_name: str, additions: Additions) -> str:
    """Record the name as a new entry (with its code, label and company)."""
    vocab = additions.vocabulary(vocab_name)
    code = decision.code or vocab.new_code(decision.name)
    if not code or not CODE.match(code) or len(code) > NEW_CODE_CHARS:
        raise ReviewError(f"a code is lower-case letters, digits and '_' (at most {NEW_CODE_CHARS}), not {code!r}")
    if code in vocab.entries:
        raise ReviewError(f"{code!r} is already a {vocab_name}: `pop vocab map {decision.name!r} --to {code}`")
    entry = AddedEntry(vocab_name, code, decision.label or decision.name, _company(decision, vocab_name, additions))
    by = AddedBy(decision.actor, decision.reason)
    add_entry(conn, entry, by)
    add_name(conn, AddedName(vocab_name, decision.name, code), "accept", by)
    return code


def _merge(
    conn: Connection, decision: NameDecision, vocab_name: str, known: str, additions: Additions
) -> tuple[str, dict[str, Any]]:
    """The entry added in the warehouse that the name stands for is one we know: its names, rows and answers move to
    it (see tasks.reference.merge); what moved, for the audit trail."""
    if decision.code not in additions.vocabulary(vocab_name).entries or decision.code == known:
        raise ReviewError(f"{decision.code!r} is not another {vocab_name} code")
    try:
        moved = merge_entry(conn, vocab_name, known, decision.code)
    except MergeError as exc:
        raise ReviewError(str(exc)) from None
    if normalise_text(decision.name) not in {normalise_text(n.name) for n in additions.names if n.code == known}:
        add_name(
            conn, AddedName(vocab_name, decision.name, decision.code), "map", AddedBy(decision.actor, decision.reason)
        )
    return decision.code, {"merged": known, "rows_moved": moved}


def _company(decision: NameDecision, vocab_name: str, additions: Additions) -> str | None:
    """The company a new platform belongs to, which must be known; a company has none."""
    if decision.company is None:
        return None
    if vocab_name != "platform":
        raise ReviewError("only a platform belongs to a company (--company)")
    if decision.company not in additions.vocabulary("company").entries:
        raise ReviewError(f"{decision.company!r} is not a company code (`pop vocab accept` adds a company first)")
    return decision.company


def _review(conn: Connection, decision: NameDecision, vocab_name: str, code: str, additions: Additions) -> str:
    """Confirm an entry a source added, with the label and company the steward gives."""
    entry = additions.vocabulary(vocab_name).entries[code]
    if decision.code not in (None, code):
        raise ReviewError(f"{decision.name!r} was added as {code!r} by its source, and loaded with it: its code stays")
    label = decision.label or entry["label"]
    company = _company(decision, vocab_name, additions) if decision.company else entry.get("company")
    review_entry(conn, AddedEntry(vocab_name, code, label, company), decision.actor)
    return code


def record_decision(conn: Connection, decision: NameDecision) -> tuple[str, str, dict[str, Any]]:
    """Record a steward's decision on a name in the warehouse, its dimensions and the audit trail: (vocabulary,
    code, and what a merge moved). A name already known is refused, except that accepting a name a source added
    confirms its entry, and mapping a name of an entry added in the warehouse merges it."""
    decision = decision.model_copy(update={"name": _checked_name(decision.name)})
    additions = read_additions(conn)
    vocab_name = _vocabulary_of(conn, decision, additions)
    known = additions.vocabulary(vocab_name).resolve(decision.name)
    pending = {e["code"] for e in entries_to_review(conn) if e["vocabulary"] == vocab_name}
    added = {e.code for e in additions.entries if e.vocabulary == vocab_name} - set(vocabulary(vocab_name).entries)
    merged: dict[str, Any] = {}
    if decision.action == "accept" and known in pending:
        code = _review(conn, decision, vocab_name, known, additions)
    elif decision.action == "map" and known == decision.code:  # decided before: only its rows are taken again
        return vocab_name, known, merged
    elif decision.action == "map" and known in added:  # an entry added in the warehouse is one we know
        code, merged = _merge(conn, decision, vocab_name, known, additions)
    elif known:
        raise ReviewError(f"{decision.name!r} already stands for the {vocab_name} {known!r}")
    elif decision.action == "map":
        code = _map(conn, decision, vocab_name, additions)
    else:
        code = _accept(conn, decision, vocab_name, additions)
    sync_names(conn)
    details = {"vocabulary": vocab_name, "name": decision.name, "code": code, **merged}
    extra = {"label": decision.label, "company": decision.company}
    record_action(
        conn,
        decision.actor,
        f"vocab_{decision.action}",
        reason=decision.reason,
        details={**details, **{k: v for k, v in extra.items() if v}},
    )
    return vocab_name, code, merged


# --- the rows waiting, taken again ----------------------------------------------------------------------------------


def rows_now_known(conn: Connection) -> dict[int, list[int]]:
    """batch id → the open rows that wait on a name the vocabularies now know (each goes in again whole: a reason on
    another field, or another name still unknown, sends it back to quarantine)."""
    additions = read_additions(conn)
    by_batch: dict[int, set[int]] = {}
    for quarantine_id, batch_id, _, vocab, name in waiting_rows(conn):
        if additions.vocabulary(vocab).resolve(name):
            by_batch.setdefault(batch_id, set()).add(quarantine_id)
    return {batch_id: sorted(ids) for batch_id, ids in sorted(by_batch.items())}


def reload_known(database_url: str, registry: Registry, reload: Reload, actor: str) -> tuple[BatchReloaded, ...]:
    """Take again, batch by batch, the open rows that wait on names the vocabularies now know: written as sent (in
    the batch file's own format), they go through ingestion as a correction of their batch, linked to the originals,
    so that each loads or goes back to quarantine with its reasons."""
    with get_engine(database_url).connect() as conn:
        waiting = rows_now_known(conn)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
    reloaded = []
    for batch_id, ids in waiting.items():
        try:
            with get_engine(database_url).connect() as conn:
                source_id = conn.execute(select(BATCH.c.source_id).where(BATCH.c.batch_id == batch_id)).scalar_one()
                source = registry.get(source_id)
                path = export_quarantined(
                    conn, source, batch_id, reload.corrections_dir / f"batch-{batch_id}-names-{stamp}", ids
                )
        except ValueError as exc:  # its file has left landing, or its source the registry
            reloaded.append(BatchReloaded(batch_id=batch_id, problem=str(exc)))
            continue
        outcome = submit_correction(
            database_url,
            registry,
            batch_id,
            path,
            landing_dir=reload.landing_dir,
            chunk_rows=reload.chunk_rows,
            actor=actor,
            errata=list(reload.errata),
            auto_approve=reload.auto_approve,
            reason="the rows waiting on names the vocabularies now know, taken again (pop vocab)",
        )
        reloaded.append(BatchReloaded(batch_id=batch_id, outcome=outcome))
    return tuple(reloaded)


def decide_name(database_url: str, registry: Registry, decision: NameDecision, reload: Reload) -> NameOutcome:
    """Record a steward's decision on a name (a ReviewError says why it cannot be taken), then take again the rows
    waiting on names now known."""
    with writing(database_url) as conn:
        vocab_name, code, merged = record_decision(conn, decision)
    reloaded = reload_known(database_url, registry, reload, decision.actor)
    return NameOutcome(vocabulary=vocab_name, name=decision.name.strip(), code=code, reloaded=reloaded, **merged)
