"""Which batches count, defined once as views (their SQL is in sql/views): `current_batches` (loaded and not
rejected: what the warehouse checks and the cross-source comparisons cover) and `approved_batches` (what snapshots
read), and for every fact table `current_<table>` and `approved_<table>`, its rows of those batches with their
source_id.

PostgreSQL expands a view's `f.*` when the view is made, so a migration that changes batches or a fact table drops
the views first and makes them again after: `drop_views(connection)`, the change, `create_views(connection)`."""

from __future__ import annotations

from sqlalchemy import Connection, String, TableClause, column, inspect, table

from pop import paths
from pop.models import Base, Batch

CURRENT, APPROVED = "current", "approved"
KINDS = (CURRENT, APPROVED)
FACT_PREFIX = "fact_"


def batches_view(kind: str) -> str:
    """The name of the view of the batches of this kind: current_batches or approved_batches."""
    return f"{kind}_batches"


def facts_view(kind: str, fact_table: str) -> str:
    """The name of the view of a fact table's rows of this kind of batches, e.g. approved_fact_choices."""
    return f"{kind}_{fact_table}"


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
    """The fact tables the connected warehouse has now (a migration sees the schema of its own revision)."""
    return sorted(name for name in inspect(connection).get_table_names() if name.startswith(FACT_PREFIX))


def create_views(connection: Connection) -> None:
    """Make the batch views and, over every fact table that exists, the fact views."""
    for kind in KINDS:
        connection.exec_driver_sql(f"CREATE VIEW {batches_view(kind)} AS {_sql(batches_view(kind))}")
        for name in fact_tables(connection):
            query = _sql("fact_rows").format(table=name, batches=batches_view(kind))
            connection.exec_driver_sql(f"CREATE VIEW {facts_view(kind, name)} AS {query}")


def drop_views(connection: Connection) -> None:
    """Drop every view create_views makes (those that exist), the fact views before the batch views they read."""
    for kind in KINDS:
        for name in fact_tables(connection):
            connection.exec_driver_sql(f"DROP VIEW IF EXISTS {facts_view(kind, name)}")
        connection.exec_driver_sql(f"DROP VIEW IF EXISTS {batches_view(kind)}")
