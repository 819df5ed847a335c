"""Dimensions and sources: fill the warehouse's lookup tables from schemas/vocab and the registry (idempotent)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pop.db import upgrade, writing
from pop.models import (
    Base,
    DimAgeBand,
    DimAlias,
    DimAudience,
    DimChannel,
    DimCompany,
    DimCountry,
    DimHarmType,
    DimOrganisation,
    DimPlatform,
    SourceRecord,
)
from pop.registry import Registry
from schemas.countries import countries
from schemas.spec import SourceSchema
from schemas.vocabulary import Additions, vocabulary
from tasks.reference.names import read_additions


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows, updating those whose primary key exists (SQLite and PostgreSQL alike)."""
    if not rows:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(table)
    keys = [c.name for c in table.primary_key.columns]
    others = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    statement = (
        statement.on_conflict_do_update(index_elements=keys, set_=others)
        if others
        else statement.on_conflict_do_nothing(index_elements=keys)
    )
    conn.execute(statement, rows)


# the dimension of each vocabulary that grows
DIMENSION_OF: dict[str, Table] = {
    "company": DimCompany.__table__,
    "platform": DimPlatform.__table__,
    "organisation": DimOrganisation.__table__,
}


def named_rows(additions: Additions) -> dict[Table, list[dict[str, Any]]]:
    """The rows of the dimensions of companies, platforms, organisations and their aliases: the committed vocabularies
    with the names added in the warehouse (an ambiguous name is no alias)."""
    company, platform = additions.vocabulary("company"), additions.vocabulary("platform")
    organisation = additions.vocabulary("organisation")
    return {
        DimCompany.__table__: [{"code": k, "label": v["label"]} for k, v in company.entries.items()],
        DimOrganisation.__table__: [{"code": k, "label": v["label"]} for k, v in organisation.entries.items()],
        DimPlatform.__table__: [
            {"code": k, "label": v["label"], "company_code": v.get("company")} for k, v in platform.entries.items()
        ],
        DimAlias.__table__: [
            {"kind": vocab.name, "alias": alias, "code": code}
            for vocab in (company, platform, organisation)
            for alias, code in vocab.lookup.items()
        ],
    }


def dimension_rows(additions: Additions) -> dict[Table, list[dict[str, Any]]]:
    """Every dimension's rows, from the vocabularies (with the names added in the warehouse) and the country table."""

    def entries(name: str) -> dict[str, dict[str, Any]]:
        return vocabulary(name).entries

    return {
        DimCountry.__table__: [vars(c) for c in countries().values()],
        **named_rows(additions),
        DimHarmType.__table__: [
            {"code": k, "label": v["label"], "parent": v.get("parent"), "online_related": bool(v.get("online_related"))}
            for k, v in entries("harm_type").items()
        ],
        DimChannel.__table__: [
            {"code": k, "label": v["label"], "online": bool(v.get("online"))} for k, v in entries("channel").items()
        ],
        DimAudience.__table__: [{"code": k, "label": v["label"]} for k, v in entries("audience").items()],
        DimAgeBand.__table__: [
            {"code": k, "label": v["label"], "age_min": v.get("age_min"), "age_max": v.get("age_max")}
            for k, v in entries("pop_age_band").items()
        ],
    }


def sync_rows(conn: Connection, rows_of: dict[Table, list[dict[str, Any]]]) -> None:
    """Upsert dimension rows; the aliases are replaced whole, so that a spelling dropped (or found ambiguous) goes."""
    for table, rows in rows_of.items():
        if table is DimAlias.__table__:
            conn.execute(delete(table))
        upsert(conn, table, rows)


def sync_names(conn: Connection) -> None:
    """Bring the dimensions of companies, platforms and aliases in line with the names added in the warehouse."""
    sync_rows(conn, named_rows(read_additions(conn)))


def sync_dimensions(conn: Connection, registry: Registry) -> None:
    """Bring dimensions and the sources table in line with the vocabularies (and the names added in the warehouse)
    and the registry."""
    sync_rows(conn, dimension_rows(read_additions(conn)))
    upsert(
        conn,
        SourceRecord.__table__,
        [
            {
                "id": s.id,
                "stakeholder_group": s.group,
                "organisation": s.organisation,
                "format": s.format,
                "licence": s.licence,
                "consent": s.consent,
                "contact": s.contact,
                "update_frequency": s.update_frequency,
                "precedence": s.precedence,
            }
            for s in registry.sources
        ],
    )


def lacking(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Of `rows`, those `table` lacks or holds with other values, in key order (a dimension is small: read whole)."""
    held = {tuple(r) for r in conn.execute(select(*table.columns))}
    keys = [c.name for c in table.primary_key.columns]
    new = [r for r in rows if tuple(r.get(c.name) for c in table.columns) not in held]
    return sorted(new, key=lambda r: tuple(str(r[k]) for k in keys))


def add_referenced_rows(conn: Connection, frame: pd.DataFrame, schema: SourceSchema) -> None:
    """Record the periods, source age bands, ... that harmonised rows about to load refer to, as each field's kind
    says (idempotent). Only rows a dimension lacks are written, so a file's transaction locks no row that another
    source's file, loading at the same time, refers to as well. On PostgreSQL they are written in a short transaction
    of their own, committed at once and in key order: two files loading side by side (POP_TASK_RUNNER), each in its
    long transaction, neither wait on each other's new period nor deadlock, and a row both add is added once (ON
    CONFLICT). Such a row outlives a file whose load then fails: dimensions are reference data, only ever read
    through the rows that refer to them. On SQLite the file's transaction holds the one write lock: writers take
    turns, and the rows go in that transaction."""
    if frame.empty:
        return
    for spec in schema.fields.values():
        kind = spec.field_kind
        if not kind.dimension:
            continue
        table = Base.metadata.tables[kind.dimension]
        rows = lacking(conn, table, kind.dimension_rows(frame))
        if rows and conn.dialect.name == "postgresql":
            with conn.engine.begin() as own:
                upsert(own, table, rows)
        else:
            upsert(conn, table, rows)


def prepare_warehouse(database_url: str, registry: Registry) -> None:
    """Migrate the warehouse to the newest schema and sync dimensions and sources (idempotent)."""
    upgrade(database_url)
    with writing(database_url) as conn:
        sync_dimensions(conn, registry)
