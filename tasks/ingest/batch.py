"""Ingest one file: land it, record its batch, read it in chunks, convert, harmonise, validate, and load the
valid rows and the quarantined ones in ONE transaction — all or nothing."""

from __future__ import annotations

import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, bindparam, case, select, update

from pop.contracts import BatchStatus, BatchSummary, IncomingFile, NotTaken, QuarantineStatus
from pop.db import get_engine, writing
from pop.models import FACT_TABLES, Batch, ErratumApplication, FactChoice, ObservationScope, QuarantineRow
from pop.record_keys import key_secret, record_keys
from pop.registry import Source
from pop.settings import get_settings
from schemas.spec import SourceSchema
from schemas.vocabulary import Additions
from tasks.ingest.convert import (
    BadFileError,
    check_header,
    convert_types,
    flag_outsized_cells,
    map_columns,
    parse_options,
    sender_names,
)
from tasks.ingest.correction_links import CORRECTION_COLUMNS, open_originals, settle_originals, split_links
from tasks.ingest.errata import Erratum, apply_errata
from tasks.ingest.extract import ReadLimits, read_chunks
from tasks.ingest.harmonise import harmonise
from tasks.ingest.inbox import NotTakenError, land
from tasks.ingest.issues import RowIssues, merge_summaries, summarise
from tasks.ingest.load import bulk_insert
from tasks.ingest.names import record_source_names
from tasks.ingest.outsized import KEPT_CHARS, MESSAGE_CHARS, cut
from tasks.ingest.providers import split_provider
from tasks.ingest.validate import SeenKeys, flag_duplicate_keys, validate_frame
from tasks.ledger import batches
from tasks.ledger.review import auto_approve_if_clean
from tasks.reference.dimensions import add_referenced_rows, upsert
from tasks.reference.names import additions_in

log = logging.getLogger(__name__)


@dataclass
class ChunkResult:
    """What one chunk yields: rows to load, their multi-select answers, quarantined rows and a failure summary."""

    clean: pd.DataFrame
    choices: pd.DataFrame
    quarantine: pd.DataFrame
    summary: list[dict] = field(default_factory=list)
    links: pd.Series | None = None  # correction rows → the original row each corrects
    applications: list[dict] = field(default_factory=list)  # errata applied to this chunk
    additions: pd.DataFrame | None = None  # values to add to rows of earlier chunks (same_key: sum)


@dataclass(frozen=True)
class FileContext:
    """What applies to one file beyond its source: what it may hold, its checksum and the secret its rows' record
    keys are derived from, the errata that touch it, and the batch it corrects."""

    limits: ReadLimits
    sha256: str
    key_secret: bytes = field(repr=False)
    errata: tuple[Erratum, ...] = ()
    corrects: int | None = None
    added_names: Additions = field(default_factory=Additions)  # added to the vocabularies; read once per file


def _choices(frame: pd.DataFrame, schema: SourceSchema) -> pd.DataFrame:
    parts = []
    for spec in schema.multi_fields:
        exploded = frame[spec.name].explode().dropna()
        if len(exploded):
            parts.append(
                pd.DataFrame(
                    {
                        "row_number": exploded.index.to_numpy(),
                        "field": spec.name,
                        "code": exploded.astype(str).to_numpy(),
                    }
                )
            )
    if not parts:
        return pd.DataFrame(columns=["row_number", "field", "code"])
    return pd.concat(parts, ignore_index=True).drop_duplicates()


def _cut_long_cells(rows: pd.DataFrame, max_chars: int) -> pd.DataFrame:
    """The rows with each cell longer than any cell may be cut to its start and a mark giving its length; a cell
    that could load is kept whole, so that the exported row comes back with it."""
    for column in rows.columns:
        long = rows[column].map(lambda cell: isinstance(cell, str) and len(cell) > max_chars).astype(bool)
        if long.any():
            rows.loc[long, column] = rows.loc[long, column].map(lambda cell: cut(cell, KEPT_CHARS))
    return rows


def _quarantine_rows(raw: pd.DataFrame, issues: pd.DataFrame, max_cell_chars: int) -> pd.DataFrame:
    """One record per row held back, with the row as sent (a cell too long to load cut short) and every reason;
    rows dropped by an erratum are recorded as dismissed (held back on purpose), the others are open until
    corrected. Built column-wise, so that a file whose every row fails is quarantined about as fast as it is read."""
    if issues.empty:
        return pd.DataFrame(columns=["row_number", "fields", "reasons_json", "original_json", "status"])
    issues = issues.sort_values("row", kind="stable")  # a row's reasons stay in the order they were found
    rows = issues["row"].to_numpy()
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    bounds = list(zip(starts.tolist(), [*starts[1:].tolist(), len(rows)], strict=True))
    reasons = [
        json.dumps(
            {"field": f, "check": c, "value": None if pd.isna(v) else cut(str(v)), "message": m}, ensure_ascii=False
        )
        for f, c, v, m in zip(issues["field"], issues["check"], issues["value"], issues["message"], strict=True)
    ]
    fields = issues["field"].tolist()
    originals = _cut_long_cells(raw.loc[rows[starts]].astype(object), max_cell_chars)
    originals = originals.where(originals.notna(), None).to_dict("records")
    dropped = np.logical_or.reduceat((issues["check"] == "erratum_drop").to_numpy(), starts)
    combined = np.logical_or.reduceat((issues["check"] == "combined").to_numpy(), starts)
    return pd.DataFrame(
        {
            "row_number": rows[starts].astype(np.int64),
            "fields": [",".join(dict.fromkeys(fields[a:b])) for a, b in bounds],
            "reasons_json": ["[" + ", ".join(reasons[a:b]) + "]" for a, b in bounds],
            "original_json": [json.dumps(o, ensure_ascii=False, default=str) for o in originals],
            "status": np.select(
                [dropped, combined],
                [QuarantineStatus.DISMISSED.value, QuarantineStatus.COMBINED.value],
                QuarantineStatus.OPEN.value,
            ),
        }
    )


def process_chunk(
    raw: pd.DataFrame, source: Source, seen_keys: SeenKeys, context: FileContext
) -> tuple[ChunkResult, SeenKeys]:
    """Map, apply errata, convert, harmonise and validate one chunk (indexed by row number in the sent file)."""
    schema = source.schema
    issues = RowIssues(sender_names(source))
    links = None
    if context.corrects is not None:
        raw, links = split_links(raw)
    options = parse_options(source, additions=context.added_names)
    mapped = map_columns(raw, source)
    split_provider(mapped, schema, options)
    flag_outsized_cells(mapped, issues, context.limits.max_cell_chars)
    applications = apply_errata(mapped, list(context.errata), issues)
    typed = convert_types(mapped, schema, issues, options)
    harmonised = harmonise(typed, schema, issues, options)
    validate_frame(harmonised, mapped, schema, issues)
    summed = schema.observation_value_columns if source.same_key == "sum" else None
    seen_keys, additions = flag_duplicate_keys(harmonised, schema, issues, seen_keys, summed)
    found = issues.frame()
    clean = harmonised.drop(index=found["row"].unique())
    clean.insert(0, "row_number", clean.index.to_numpy())
    summary = summarise(found, pd.Series(raw.index, index=raw.index), sender_names(source))
    result = ChunkResult(
        clean,
        _choices(clean, schema),
        _quarantine_rows(raw, found, context.limits.max_cell_chars),
        summary,
        links,
        applications,
        additions,
    )
    return result, seen_keys


def _load_chunk(conn: Connection, result: ChunkResult, source: Source, batch_id: int, context: FileContext) -> None:
    schema = source.schema
    for frame in (result.clean, result.choices, result.quarantine):
        frame.insert(0, "batch_id", batch_id)
    keys = record_keys(context.key_secret, context.sha256, result.clean["row_number"].to_numpy())
    result.clean.insert(2, "record_key", keys)
    result.quarantine.insert(1, "source_id", source.id)
    originals: dict[int, int] = {}
    if context.corrects is not None and result.links is not None:
        originals = open_originals(conn, context.corrects, [int(n) for n in result.links.dropna().unique()])
        link_of = result.quarantine["row_number"].map(result.links)
        result.quarantine["corrects_quarantine_id"] = link_of.map(originals).astype("Int64")
    add_referenced_rows(conn, result.clean, schema)
    record_scopes(conn, batch_id, result.clean, schema)
    record_source_names(conn, result.clean, source, batch_id, context.added_names)
    bulk_insert(conn, FACT_TABLES[schema.fact_table], result.clean)
    bulk_insert(conn, FactChoice.__table__, result.choices)
    bulk_insert(conn, QuarantineRow.__table__, result.quarantine)
    if result.additions is not None and len(result.additions):
        add_to_rows(conn, FACT_TABLES[schema.fact_table], batch_id, result.additions)
    if result.applications:
        bulk_insert(conn, ErratumApplication.__table__, pd.DataFrame(result.applications).assign(batch_id=batch_id))
    if originals:
        loaded = result.links.loc[result.clean["row_number"]].dropna()
        settle_originals(
            conn,
            batch_id,
            resolved=[originals[int(n)] for n in loaded if int(n) in originals],
            resubmitted=result.quarantine["corrects_quarantine_id"].dropna().astype(int).tolist(),
        )


def record_scopes(conn: Connection, batch_id: int, clean: pd.DataFrame, schema: SourceSchema) -> None:
    """Record where the batch's observations lie (ObservationScope), so that the observed views compare the rows of
    two sources only where they may report the same observation."""
    columns = schema.observation_scope_columns
    if not columns or clean.empty:
        return
    scopes = clean[columns].astype(str).drop_duplicates().set_axis(["scope_1", "scope_2"], axis=1)
    upsert(conn, ObservationScope.__table__, scopes.assign(batch_id=batch_id).to_dict("records"))


def _plain(value: object) -> object:
    """A value as the database driver binds it: missing as None, NumPy scalars as Python numbers."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


def add_to_rows(conn: Connection, table: Table, batch_id: int, additions: pd.DataFrame) -> None:
    """Add values to rows of this batch already loaded (a key repeated in a later chunk, same_key: sum); a missing
    value adds nothing, and a missing stored value takes the added one."""
    columns = [c for c in additions.columns if c != "row_number"]
    values = {}
    for name in columns:
        added = bindparam(f"add_{name}", type_=table.c[name].type)
        stored = table.c[name]
        values[name] = case((added.is_(None), stored), (stored.is_(None), added), else_=stored + added)
    statement = (
        update(table).where(table.c.batch_id == batch_id, table.c.row_number == bindparam("target_row")).values(values)
    )
    params = [
        {"target_row": int(row["row_number"]), **{f"add_{c}": _plain(row[c]) for c in columns}}
        for row in additions.to_dict("records")
    ]
    conn.execute(statement, params)


def keys_already_loaded(conn: Connection, source: Source) -> SeenKeys:
    """The natural keys of the rows this source already has in the warehouse (a re-sent row is not loaded twice)."""
    schema = source.schema
    fact = FACT_TABLES[schema.fact_table]
    batch = Batch.__table__
    query = (
        select(fact.c.batch_id, fact.c.row_number, *[fact.c[c] for c in schema.natural_key_columns])
        .join(batch, batch.c.batch_id == fact.c.batch_id)
        .where(batch.c.source_id == source.id)
    )
    existing = pd.DataFrame(conn.execute(query).all(), columns=["batch_id", "row_number", *schema.natural_key_columns])
    return SeenKeys.loaded(existing, schema.natural_key_columns)


def refuse_if_taken_by_another_source(conn: Connection, source: Source, incoming: IncomingFile) -> None:
    """A file is loaded by one source only: the very file (same name and content) taken by another source is refused
    (NotTakenError), never loaded twice. The registry refuses globs that can match one file; this holds regardless."""
    batch = Batch.__table__
    other = conn.execute(
        select(batch.c.source_id, batch.c.batch_id)
        .where(
            batch.c.sha256 == incoming.sha256,
            batch.c.original_name == incoming.path.name,
            batch.c.source_id != source.id,
        )
        .limit(1)
    ).first()
    if other is not None:
        raise NotTakenError(
            NotTaken.REFUSED,
            f"the very same file (same name and content) was taken by source {other.source_id!r} as batch "
            f"{other.batch_id}, and a file is loaded by one source only: nothing loaded again. If it was put in both "
            "sources' folders, take it out of the wrong one",
        )


def load_file(
    conn: Connection,
    path: Path,
    source: Source,
    name: str,
    batch_id: int,
    chunk_rows: int,
    context: FileContext,
) -> tuple[int, int, int, list[dict]]:
    """Process and load every chunk of a file in the caller's transaction: (rows_in, loaded, quarantined, failures).
    One writer thread inserts chunk n while chunk n+1 is processed; the connection is used by one thread at a time."""
    rows_in = loaded = quarantined = 0
    summaries: list[list[dict]] = []
    seen = keys_already_loaded(conn, source)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pop-writer") as writer:
        pending: Future | None = None
        checked: list[str] | None = None
        for raw in read_chunks(path, source, name, chunk_rows, context.limits):
            if list(raw.columns) != checked:  # the first chunk, or JSON Lines whose later records add keys
                extra = CORRECTION_COLUMNS if context.corrects is not None else ()
                check_header([c for c in raw.columns if c not in extra], source, name)
                checked = list(raw.columns)
            result, seen = process_chunk(raw, source, seen, context)
            if pending is not None:
                pending.result()  # the previous chunk is in; a failure there stops the file here
            pending = writer.submit(_load_chunk, conn, result, source, batch_id, context)
            rows_in, loaded, quarantined = (
                rows_in + len(raw),
                loaded + len(result.clean),
                quarantined + len(result.quarantine),
            )
            summaries.append(result.summary)
            log.info(
                "%s: %s rows read",
                name,
                rows_in,
                extra={"pop_progress": {"event": "chunk", "file": name, "rows": rows_in}},
            )
        if pending is not None:
            pending.result()
    if rows_in == 0:
        raise BadFileError(f"{name}: the file has a header but no data rows. Send the file with its data.")
    if rows_in != loaded + quarantined:  # the invariant every batch keeps; never expected to fire
        raise RuntimeError(f"{name}: {rows_in} rows in but {loaded} loaded + {quarantined} quarantined")
    return rows_in, loaded, quarantined, merge_summaries(summaries)


def failure_message(exc: Exception, name: str) -> str:
    """What a failed batch records and the log says: the file's problem, or the error met; of bounded length
    whatever the error quotes (a driver's error may quote a whole value)."""
    if isinstance(exc, BadFileError):
        return cut(str(exc), MESSAGE_CHARS)
    return f"{name}: could not be ingested ({exc.__class__.__name__}: {cut(str(exc))}). Nothing was loaded."


def ingest_file(
    source: Source,
    incoming: IncomingFile,
    database_url: str,
    landing_dir: Path,
    chunk_rows: int,
    run_id: str | None = None,
    errata: list[Erratum] | tuple[Erratum, ...] = (),
    auto_approve: bool = True,
    corrects: int | None = None,
    limits: ReadLimits | None = None,
) -> BatchSummary | None:
    """Ingest one incoming file as one batch (a correction of batch `corrects` when given); None when this very
    file was ingested before (nothing changes). A clean batch is approved at once when `auto_approve`. A file
    holds at most `limits` (default: the settings')."""
    engine = get_engine(database_url)
    context = FileContext(
        limits=limits or ReadLimits.from_settings(),
        sha256=incoming.sha256,
        key_secret=key_secret(get_settings()),
        errata=tuple(e for e in errata if e.applies_to(source.id, incoming.path.name)),
        corrects=corrects,
        added_names=additions_in(database_url),
    )
    with writing(database_url) as conn:
        refuse_if_taken_by_another_source(conn, source, incoming)
        seen = batches.find_seen(conn, source, incoming)
        if seen and seen["status"] == BatchStatus.PROCESSING:  # a live run's: dead runs' are closed under the lease
            raise RuntimeError(
                f"{incoming.path.name} is being read by run {seen['run_id']} (batch {seen['batch_id']}); it is not "
                "read twice at once"
            )
        if seen and seen["status"] != BatchStatus.INTERRUPTED:
            return None
        landed = str(land(incoming, source, landing_dir))
        if seen:
            batch_id = seen["batch_id"]
            batches.restart_batch(conn, batch_id, run_id)
        else:
            same = batches.find_same_content(conn, source, incoming)
            if same:
                batch_id = batches.open_batch(
                    conn, source, incoming, landed, run_id, status=BatchStatus.DUPLICATE, duplicate_of=same["batch_id"]
                )
                batches.close_batch(
                    conn,
                    batch_id,
                    status=BatchStatus.DUPLICATE,
                    rows_in=0,
                    rows_loaded=0,
                    rows_quarantined=0,
                    message=f"{incoming.path.name}: same content as {same['original_name']} "
                    f"(batch {same['batch_id']}); nothing loaded again.",
                    failures=[],
                )
                return batches.batch_summary(conn, batch_id)
            batch_id = batches.open_batch(conn, source, incoming, landed, run_id, corrects_batch_id=corrects)
    failure: str | None = None
    try:
        with writing(database_url) as conn:
            rows_in, loaded, quarantined, failures = load_file(
                conn, Path(landed), source, incoming.path.name, batch_id, chunk_rows, context
            )
            batches.close_batch(
                conn,
                batch_id,
                status=BatchStatus.LOADED,
                rows_in=rows_in,
                rows_loaded=loaded,
                rows_quarantined=quarantined,
                message=None,
                failures=failures,
            )
            if auto_approve:
                auto_approve_if_clean(conn, batch_id)
    except Exception as exc:  # MemoryError, OverflowError and the database's "string or blob too big" too
        failure = failure_message(exc, incoming.path.name)
    if failure is not None:  # past the except: what the failed load held (its traceback's frames) is let go first
        message = failure
        log.warning("batch %s failed: %s", batch_id, message)
        with writing(database_url) as conn:
            batches.close_batch(
                conn,
                batch_id,
                status=BatchStatus.FAILED,
                rows_in=0,
                rows_loaded=0,
                rows_quarantined=0,
                message=message,
                failures=[],
            )
    with engine.connect() as conn:
        return batches.batch_summary(conn, batch_id)
