"""The views every stage reads; their SQL is in sql/views, filled in here from the schemas.

- Which batches count, defined once: `current_batches` (loaded and not rejected: what the warehouse checks and the
  cross-source comparisons cover) and `approved_batches` (what snapshots read); for every fact table
  `current_<table>` and `approved_<table>`, its rows of those batches with their source_id.
- One observation, one count: `current_observed_<table>` and `approved_observed_<table>` keep, of every observation
  that several sources report (the schema's `observation` key), only the rows of the source believed first
  (`source_ranks`: precedence in config/sources.yaml, then id). `observation_conflicts` lists the observations whose
  sources disagree, with both numbers.

Views hold no data, so they are made again rather than migrated: a migration drops them before it changes a table
(PostgreSQL fixes a view's columns when it makes it), and after every upgrade that reaches head
(sql/migrations/env.py) `refresh_views` makes them from their current definitions, when those changed (their digest
is kept in view_definitions)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, String, TableClause, column, delete, insert, inspect, select, table
from sqlalchemy.types import TypeEngine

from pop import paths
from pop.models import FACT_TABLES, Base, Batch, FactChoice, ViewDefinitions
from schemas.spec import GROUPS, SourceSchema, load_schema

CURRENT, APPROVED = "current", "approved"
KINDS = (CURRENT, APPROVED)
FACT_PREFIX = "fact_"
SOURCE_RANKS = "source_ranks"
CONFLICTS = "observation_conflicts"


def batches_view(kind: str) -> str:
    """The name of the view of the batches of this kind: current_batches or approved_batches."""
    return f"{kind}_batches"


def facts_view(kind: str, fact_table: str) -> str:
    """The name of the view of a fact table's rows of this kind of batches, e.g. approved_fact_choices."""
    return f"{kind}_{fact_table}"


def observed_view(kind: str, fact_table: str) -> str:
    """The name of the view of a fact table's observations of this kind of batches, e.g.
    approved_observed_fact_tech_metrics."""
    return f"{kind}_observed_{fact_table}"


def shared_view(kind: str) -> str:
    """The name of the view of the observation scopes batches of this kind share with another source."""
    return f"{kind}_shared_scopes"


def totals_view(fact_table: str) -> str:
    """The name of the view of a fact table's observation totals per source (current batches)."""
    return f"observation_totals_{fact_table}"


def batches(kind: str) -> TableClause:
    """The view of the batches of this kind, for queries (the columns of batches)."""
    return table(batches_view(kind), *(column(c.name, c.type) for c in Batch.__table__.columns))


def facts(kind: str, fact_table: str) -> TableClause:
    """The view of a fact table's rows of this kind of batches, for queries (its columns and source_id)."""
    columns = Base.metadata.tables[fact_table].columns
    return table(
        facts_view(kind, fact_table), *(column(c.name, c.type) for c in columns), column("source_id", String())
    )


def _sql(name: str) -> str:
    """A view's query from sql/views/<name>.sql, without its comment lines."""
    text = (paths.VIEWS / f"{name}.sql").read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("--")).strip()


def fact_tables(connection: Connection) -> list[str]:
    """The fact tables the connected warehouse has now."""
    return sorted(name for name in inspect(connection).get_table_names() if name.startswith(FACT_PREFIX))


def _keyed(columns: list[str], prefix: str = "f.") -> str:
    return ", ".join(f"{prefix}{c}" for c in columns)


def _same(columns: list[str], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{c} = {right}.{c}" for c in columns)


def _subject(columns: list[str]) -> str:
    """The observation written out, e.g. 'x_corp x all x ncmec x cybertipline_reports x 2023 x WLD'."""
    return " || ' x ' || ".join(f"COALESCE(CAST(f.{c} AS VARCHAR(200)), '')" for c in columns)


def _observed(kind: str, fact_table: str) -> str:
    """The observed view of a fact table: its rows, or with an observation key only the believed source's."""
    rows = facts_view(kind, fact_table)
    schema = next(load_schema(g) for g in GROUPS if load_schema(g).fact_table == fact_table)
    if not schema.observation:
        return f"SELECT * FROM {rows}"
    columns = [c.name for c in FACT_TABLES[fact_table].columns] + ["source_id"]
    scope_1, scope_2 = _scopes(schema)
    return _sql("observed_rows").format(
        rows=rows,
        shared=shared_view(kind),
        key=_keyed(schema.observation_key_columns),
        columns=_keyed(columns),
        scope_1=scope_1,
        scope_2=scope_2,
    )


def _scopes(schema: SourceSchema) -> tuple[str, str]:
    """A row's observation scope, as SQL over the fact view `f` (see ObservationScope)."""
    table = FACT_TABLES[schema.fact_table]
    first, second = (_as_text(f"f.{c}", table.c[c].type) for c in schema.observation_scope_columns)
    return first, second


def _as_text(expression: str, sql_type: TypeEngine[Any]) -> str:
    """A column as the text its scope was recorded as (text columns as they are, so their indexes still serve)."""
    return expression if isinstance(sql_type, String) else f"CAST({expression} AS VARCHAR(200))"


def _conflicts() -> str:
    """Every disagreement between sources of one observation, of every group that declares observation values."""
    parts = []
    for schema in map(load_schema, GROUPS):
        key = schema.observation_key_columns
        for value in schema.observation_value_columns:
            parts.append(
                _sql("observation_conflict").format(
                    group=schema.group,
                    value=value,
                    totals=totals_view(schema.fact_table),
                    same_key=_same(key, "o", "p"),
                    same_key_q=_same(key, "q", "p"),
                )
            )
    return "\nUNION ALL\n".join(parts)


def definitions() -> list[tuple[str, str]]:
    """Every view as (name, query), in the order they can be made (a view after the views it reads)."""
    found = []
    fact_names = [*FACT_TABLES, FactChoice.__tablename__]
    for kind in KINDS:
        found.append((batches_view(kind), _sql(batches_view(kind))))
        for name in fact_names:
            found.append((facts_view(kind, name), _sql("fact_rows").format(table=name, batches=batches_view(kind))))
    found.append((SOURCE_RANKS, _sql(SOURCE_RANKS)))
    found += [(shared_view(kind), _sql("shared_scopes").format(batches=batches_view(kind))) for kind in KINDS]
    for kind in KINDS:
        found += [(observed_view(kind, name), _observed(kind, name)) for name in FACT_TABLES]
    for schema in map(load_schema, GROUPS):
        if schema.observation and schema.observation.values:
            key = schema.observation_key_columns
            sums = ", ".join(f"SUM(f.{v}) AS {v}" for v in schema.observation_value_columns)
            scope_1, scope_2 = _scopes(schema)
            query = _sql("observation_totals").format(
                group=schema.group,
                rows=facts_view(CURRENT, schema.fact_table),
                subject=_subject(key),
                key=_keyed(key),
                sums=sums,
                scope_1=scope_1,
                scope_2=scope_2,
            )
            found.append((totals_view(schema.fact_table), query))
    found.append((CONFLICTS, _conflicts()))
    return found


def digest() -> str:
    """A fingerprint of every view's definition."""
    return hashlib.sha256("\n;\n".join(f"{name}\n{query}" for name, query in definitions()).encode()).hexdigest()


def drop_views(connection: Connection) -> None:
    """Drop every view of ours the warehouse has (views read other views: the readers first)."""
    ours = [name for name, _ in definitions()]
    present = set(inspect(connection).get_view_names())
    # also views of ours made by an older definition that no longer exists
    legacy = sorted(v for v in present - set(ours) if v.startswith((*KINDS, "observation_")) or v == SOURCE_RANKS)
    for name in [*legacy, *reversed(ours)]:
        if name in present:
            cascade = " CASCADE" if connection.dialect.name == "postgresql" else ""
            connection.exec_driver_sql(f"DROP VIEW IF EXISTS {name}{cascade}")


def create_views(connection: Connection) -> None:
    """Make every view from its current definition (the tables must be at head)."""
    for name, query in definitions():
        connection.exec_driver_sql(f"CREATE VIEW {name} AS {query}")


def refresh_views(connection: Connection) -> bool:
    """Make the views again when their definitions changed since they were made (or some are missing); whether it
    did. Runs after every upgrade that reaches head."""
    current = digest()
    stored = connection.execute(select(ViewDefinitions.digest)).scalars().all()
    present = set(inspect(connection).get_view_names())
    if stored == [current] and all(name in present for name, _ in definitions()):
        return False
    drop_views(connection)
    create_views(connection)
    connection.execute(delete(ViewDefinitions))
    connection.execute(insert(ViewDefinitions).values(digest=current))
    return True
