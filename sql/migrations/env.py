"""Alembic environment: migrations for the POP warehouse, on SQLite or PostgreSQL alike. A downgrade that would drop
data (a table holding rows, a column holding values) is refused, saying what would be lost, unless forced:
`alembic -x force=true downgrade REV` or `pop migrate --to REV --force`."""

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alembic import context
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import Connection, create_engine, engine_from_config, func, inspect, pool, select, table, text

from pop.models import Base
from pop.settings import get_settings
from pop.views import refresh_views

config = context.config
target_metadata = Base.metadata
NOT_DATA = {"alembic_version", "view_definitions"}  # bookkeeping: made again, nothing of the evidence
Schema = dict[str, set[str]]  # table -> its columns


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().warehouse_url


def _forced() -> bool:
    """Whether the operator forced a downgrade that drops data (-x force=true, or pop migrate --force)."""
    given = context.get_x_argument(as_dictionary=True).get("force", "")
    return bool(config.attributes.get("force")) or given.lower() in ("1", "true", "yes")


def _schema(connection: Connection) -> Schema:
    found = inspect(connection)
    return {name: {c["name"] for c in found.get_columns(name)} for name in found.get_table_names()}


def _run_steps(connection: Connection, steps: Iterable[Any]) -> None:
    """Run the migration functions of `steps` on `connection` (a dry run: the caller throws the result away)."""
    migration = MigrationContext.configure(connection, opts={"render_as_batch": True})
    with Operations.context(migration):
        for step in steps:
            step.migration_fn()


def _schema_after(connection: Connection, steps: list[Any]) -> Schema:
    """The tables and columns the steps leave: on PostgreSQL run inside a savepoint then rolled back; on SQLite on
    an empty copy of the schema (so no table of data is copied)."""
    if connection.dialect.name != "sqlite":
        savepoint = connection.begin_nested()
        try:
            _run_steps(connection, steps)
            return _schema(connection)
        finally:
            savepoint.rollback()
    ddl = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
        "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, rowid"
    ).scalars()
    versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    with tempfile.TemporaryDirectory(prefix="pop-downgrade-") as folder:
        scratch = create_engine(f"sqlite:///{Path(folder) / 'schema.sqlite'}", poolclass=pool.NullPool)
        with scratch.begin() as copy:
            for statement in ddl:
                copy.exec_driver_sql(statement)
            for version in versions:
                copy.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version})
            _run_steps(copy, steps)
            return _schema(copy)


def data_lost(connection: Connection, steps: list[Any]) -> list[str]:
    """What the downgrade `steps` would drop that holds data: 'table T (N rows)', 'column T.C (N values)'."""
    before, after = _schema(connection), _schema_after(connection, steps)
    lost = []
    for name in sorted(set(before) - NOT_DATA):
        if name not in after:
            rows = connection.execute(select(func.count()).select_from(table(name))).scalar_one()
            if rows:
                lost.append(f"table {name} ({rows:,} rows)")
            continue
        for column in sorted(before[name] - after[name]):
            values = connection.execute(text(f'SELECT COUNT("{column}") FROM "{name}"')).scalar_one()
            if values:
                lost.append(f"column {name}.{column} ({values:,} values)")
    return lost


def _refuse_data_loss(connection: Connection) -> None:
    """Raise (Alembic prints the message and exits 1) before a downgrade that would drop data, unless forced."""
    migration = context.get_context()
    steps_of = migration.opts.get("fn")
    if steps_of is None or _forced():
        return
    steps = [s for s in steps_of(migration.get_current_heads(), migration) if not s.is_upgrade]
    if not steps:
        return
    lost = data_lost(connection, steps)
    if lost:
        names = ", ".join(s.revision.revision for s in steps)
        raise CommandError(
            f"refused: downgrading through {names} would drop data: " + "; ".join(lost) + ". Back it up first "
            "(pop backup), then force it: pop migrate --to REV --force, or alembic -x force=true downgrade REV"
        )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _migrate(connection: Connection) -> None:
    """Run the migrations (a downgrade that drops data only when forced); an upgrade that reaches head then makes
    the views again if their definitions changed (views are derived, not migrated: pop.views)."""
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    _refuse_data_loss(connection)
    with context.begin_transaction():
        context.run_migrations()
        migration = context.get_context()
        upgrading = migration.opts.get("destination_rev") is not None  # an upgrade or downgrade, not a check
        if upgrading and set(migration.get_current_heads()) == set(context.script.get_heads()):
            refresh_views(connection)


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:  # pop.db.upgrade hands over its own connection (and engine settings)
        _migrate(given)
        return
    section = config.get_section(config.config_ini_section, {})
    section["sqlalchemy.url"] = _url()
    connectable = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        _migrate(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
