"""Ingest one file: land it, record its batch, read it in chunks, convert, harmonise, validate, and load the
valid rows and the quarantined ones in ONE transaction — all or nothing."""

from __future__ import annotations

import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Connection, select

from pop.db import get_engine
from pop.models import FACT_TABLES, Batch, FactChoice, QuarantineRow
from schemas.spec import SourceSchema
from tasks import batches
from tasks.convert import BadFileError, check_header, convert_types, map_columns, sender_names
from tasks.dimensions import add_period_and_age_bands
from tasks.extract import IncomingFile, land, read_chunks
from tasks.harmonise import harmonise
from tasks.issues import RowIssues, merge_summaries, summarise
from tasks.load import bulk_insert
from tasks.registry import Source
from tasks.validate import SeenKeys, flag_duplicate_keys, validate_frame

log = logging.getLogger(__name__)


@dataclass
class ChunkResult:
    """What one chunk yields: rows to load, their multi-select answers, quarantined rows and a failure summary."""

    clean: pd.DataFrame
    choices: pd.DataFrame
    quarantine: pd.DataFrame
    summary: list[dict] = field(default_factory=list)


def _choices(frame: pd.DataFrame, schema: SourceSchema) -> pd.DataFrame:
    parts = []
    for spec in schema.multi_fields:
        exploded = frame[spec.name].explode().dropna()
        if len(exploded):
            parts.append(pd.DataFrame({"row_number": exploded.index.to_numpy(), "field": spec.name,
                                       "code": exploded.astype(str).to_numpy()}))
    if not parts:
        return pd.DataFrame(columns=["row_number", "field", "code"])
    return pd.concat(parts, ignore_index=True).drop_duplicates()


def _quarantine_rows(raw: pd.DataFrame, issues: pd.DataFrame) -> pd.DataFrame:
    if issues.empty:
        return pd.DataFrame(columns=["row_number", "fields", "reasons_json", "original_json"])
    records = []
    originals = raw.loc[issues["row"].unique()].astype(object)
    originals = originals.where(originals.notna(), None)
    for row, group in issues.groupby("row", sort=True):
        reasons = [{"field": r.field, "check": r.check, "value": None if pd.isna(r.value) else str(r.value),
                    "message": r.message} for r in group.itertuples(index=False)]
        records.append({"row_number": int(row), "fields": ",".join(dict.fromkeys(group["field"])),
                        "reasons_json": json.dumps(reasons, ensure_ascii=False),
                        "original_json": json.dumps(originals.loc[row].to_dict(), ensure_ascii=False, default=str)})
    return pd.DataFrame(records)


def process_chunk(raw: pd.DataFrame, source: Source, seen_keys: SeenKeys) -> tuple[ChunkResult, SeenKeys]:
    """Map, convert, harmonise and validate one chunk (indexed by row number in the sent file)."""
    schema = source.schema
    issues = RowIssues()
    mapped = map_columns(raw, source)
    typed = convert_types(mapped, schema, issues)
    harmonised = harmonise(typed, schema, issues, source.multi_select_delimiter)
    validate_frame(harmonised, mapped, schema, issues)
    seen_keys = flag_duplicate_keys(harmonised, schema, issues, seen_keys)
    found = issues.frame()
    clean = harmonised.drop(index=found["row"].unique())
    clean.insert(0, "row_number", clean.index.to_numpy())
    summary = summarise(found, pd.Series(raw.index, index=raw.index), sender_names(source))
    return ChunkResult(clean, _choices(clean, schema), _quarantine_rows(raw, found), summary), seen_keys


def _load_chunk(conn: Connection, result: ChunkResult, source: Source, batch_id: int) -> None:
    schema = source.schema
    for frame in (result.clean, result.choices, result.quarantine):
        frame.insert(0, "batch_id", batch_id)
    result.quarantine.insert(1, "source_id", source.id)
    result.quarantine["status"] = "open"
    add_period_and_age_bands(conn, result.clean)
    bulk_insert(conn, FACT_TABLES[schema.fact_table], result.clean)
    bulk_insert(conn, FactChoice.__table__, result.choices)
    bulk_insert(conn, QuarantineRow.__table__, result.quarantine)


def keys_already_loaded(conn: Connection, source: Source) -> SeenKeys:
    """The natural keys of the rows this source already has in the warehouse (a re-sent row is not loaded twice)."""
    schema = source.schema
    fact = FACT_TABLES[schema.fact_table]
    batch = Batch.__table__
    query = (select(fact.c.batch_id, fact.c.row_number, *[fact.c[c] for c in schema.natural_key_columns])
             .join(batch, batch.c.batch_id == fact.c.batch_id).where(batch.c.source_id == source.id))
    existing = pd.DataFrame(conn.execute(query).all(), columns=["batch_id", "row_number",
                                                                *schema.natural_key_columns])
    return SeenKeys.loaded(existing, schema.natural_key_columns)


def load_file(conn: Connection, path: Path, source: Source, name: str, batch_id: int,
              chunk_rows: int) -> tuple[int, int, int, list[dict]]:
    """Process and load every chunk of a file in the caller's transaction: (rows_in, loaded, quarantined, failures).
    One writer thread inserts chunk n while chunk n+1 is processed; the connection is used by one thread at a time."""
    rows_in = loaded = quarantined = 0
    summaries: list[list[dict]] = []
    seen = keys_already_loaded(conn, source)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pop-writer") as writer:
        pending: Future | None = None
        for number, raw in enumerate(read_chunks(path, source, name, chunk_rows)):
            if number == 0:
                check_header(list(raw.columns), source, name)
            result, seen = process_chunk(raw, source, seen)
            if pending is not None:
                pending.result()  # the previous chunk is in; a failure there stops the file here
            pending = writer.submit(_load_chunk, conn, result, source, batch_id)
            rows_in, loaded, quarantined = (rows_in + len(raw), loaded + len(result.clean),
                                            quarantined + len(result.quarantine))
            summaries.append(result.summary)
            log.info("%s: %s rows read", name, rows_in, extra={"pop_progress": {"event": "chunk", "file": name,
                                                                                 "rows": rows_in}})
        if pending is not None:
            pending.result()
    if rows_in == 0:
        raise BadFileError(f"{name}: the file has a header but no data rows. Send the file with its data.")
    if rows_in != loaded + quarantined:  # the invariant every batch keeps; never expected to fire
        raise RuntimeError(f"{name}: {rows_in} rows in but {loaded} loaded + {quarantined} quarantined")
    return rows_in, loaded, quarantined, merge_summaries(summaries)


def ingest_one(source: Source, incoming: IncomingFile, *, database_url: str, landing_dir: Path,
               chunk_rows: int, run_id: str | None) -> dict[str, Any] | None:
    """Ingest one incoming file; None when this very file was ingested before (nothing changes)."""
    engine = get_engine(database_url)
    with engine.begin() as conn:
        seen = batches.find_seen(conn, source, incoming)
        if seen and seen["status"] != "processing":
            return None
        landed = str(land(incoming, source, landing_dir))
        if seen:
            batch_id = seen["batch_id"]
            batches.restart_batch(conn, batch_id, run_id)
        else:
            same = batches.find_same_content(conn, source, incoming)
            if same:
                batch_id = batches.open_batch(conn, source, incoming, landed, run_id, status="duplicate",
                                              duplicate_of=same["batch_id"])
                batches.close_batch(conn, batch_id, status="duplicate", rows_in=0, rows_loaded=0, rows_quarantined=0,
                                    message=f"{incoming.path.name}: same content as {same['original_name']} "
                                            f"(batch {same['batch_id']}); nothing loaded again.", failures=[])
                return batches.batch_summary(conn, batch_id)
            batch_id = batches.open_batch(conn, source, incoming, landed, run_id)
    try:
        with engine.begin() as conn:
            rows_in, loaded, quarantined, failures = load_file(conn, Path(landed), source, incoming.path.name,
                                                               batch_id, chunk_rows)
            batches.close_batch(conn, batch_id, status="loaded", rows_in=rows_in, rows_loaded=loaded,
                                rows_quarantined=quarantined, message=None, failures=failures)
    except Exception as exc:  # noqa: BLE001 - any failure fails this batch only, never the other files
        message = str(exc) if isinstance(exc, BadFileError) else \
            f"{incoming.path.name}: could not be ingested ({exc.__class__.__name__}: {exc}). Nothing was loaded."
        log.warning("batch %s failed: %s", batch_id, message)
        with engine.begin() as conn:
            batches.close_batch(conn, batch_id, status="failed", rows_in=0, rows_loaded=0, rows_quarantined=0,
                                message=message, failures=[])
    with engine.connect() as conn:
        return batches.batch_summary(conn, batch_id)


@task(name="ingest-file", cache_policy=NO_CACHE, task_run_name="ingest-{source.id}-{incoming.path.name}")
def ingest_file(source: Source, incoming: IncomingFile, database_url: str, landing_dir: Path, chunk_rows: int,
                run_id: str | None = None) -> dict[str, Any] | None:
    """Prefect task: ingest one file of one source (see ingest_one)."""
    summary = ingest_one(source, incoming, database_url=database_url, landing_dir=landing_dir,
                         chunk_rows=chunk_rows, run_id=run_id)
    log.info("%s: done", incoming.path.name, extra={"pop_progress": {"event": "file", "file": incoming.path.name}})
    return summary
