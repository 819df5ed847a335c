"""Move the warehouse schema to a revision: up by default, down only when no data would go (unless forced: the
guard is in sql/migrations/env.py, where every downgrade passes)."""

from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

from pop.db import MIGRATION_LOCK, alembic_config, get_engine, writing


@dataclass(frozen=True)
class Migration:
    """Where the schema was, where it was asked to go, and where it is now."""

    before: str | None
    target: str
    after: str | None
    head: str


def current_revision(url: str) -> str | None:
    """The warehouse's revision (None: never migrated)."""
    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(url: str) -> str:
    """The newest migration there is."""
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    return head


def is_downgrade(url: str, current: str | None, target: str) -> bool:
    """Whether going from `current` to `target` (an id, head, base, -N or +N) goes down the history."""
    if target.startswith("-"):
        return True
    if target in ("head", "heads") or target.startswith("+") or current is None:
        return False
    script = ScriptDirectory.from_config(alembic_config(url))
    order = [s.revision for s in script.walk_revisions()]  # newest first
    if current not in order:
        raise CommandError(f"the warehouse is at revision {current}, which this code does not know (a newer one?)")
    wanted = len(order) if target == "base" else order.index(script.get_revision(target).revision)
    return wanted > order.index(current)


def migrate(url: str, target: str = "head", force: bool = False) -> Migration:
    """Upgrade or downgrade the warehouse to `target`; raises alembic's CommandError when refused."""
    before = current_revision(url)
    config = alembic_config(url)
    config.attributes["force"] = force
    down = is_downgrade(url, before, target)
    # SQLite enforces foreign keys on our engine's connections, and dropping a table others refer to then fails: a
    # downgrade runs, as the alembic command does, on a connection of its own
    sqlite = make_url(url).get_backend_name() == "sqlite"
    plain = create_engine(url, poolclass=pool.NullPool) if down and sqlite else None
    with plain.begin() if plain else writing(url) as connection:
        if connection.dialect.name == "postgresql":  # one schema change at a time, as pop.db.upgrade takes turns
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, target)
    if plain:
        plain.dispose()
    return Migration(before=before, target=target, after=current_revision(url), head=head_revision(url))
