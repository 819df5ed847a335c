"""Alembic environment: migrations for the POP warehouse, on SQLite or PostgreSQL alike."""

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from pop.models import Base
from pop.settings import get_settings
from pop.views import refresh_views

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().warehouse_url


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
    """Run the migrations; an upgrade that reaches head then makes the views again if their definitions changed
    (views are derived, not migrated: pop.views)."""
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
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
