"""The warehouse connection: engine creation, the transactions every stage uses (writing, reading one state), and
schema upgrade through Alembic."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text

from pop import paths

SQLITE_BEGIN = "pop_sqlite_begin"  # execution option: how a SQLite transaction begins (DEFERRED or IMMEDIATE)
# how long a SQLite writer waits for another one to commit before 'database is locked': a steward's approval may
# wait for a file's load, which holds the write lock for its whole transaction
SQLITE_BUSY_SECONDS = 120
MIGRATION_LOCK = 0x504F505F4D494752  # PostgreSQL advisory lock key taken while the schema is upgraded ("POP_MIGR")


def utcnow() -> dt.datetime:
    """Now, timezone-aware in UTC: every timestamp the warehouse stores."""
    return dt.datetime.now(dt.UTC)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # the driver's own transaction handling is off: it begins none before a SELECT (so a reader's statements would
    # each see another state) and one before DML only (so a read-then-write transaction could not take the write
    # lock first); _sqlite_begin begins every transaction instead
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Begin a SQLite transaction: DEFERRED for readers (their first read fixes the state they see, to the end),
    IMMEDIATE for writers (the write lock is taken before anything is read, so what a writer read cannot change
    before it writes, and a second writer waits instead of failing half-way)."""
    conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get(SQLITE_BEGIN, 'DEFERRED')}")


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One engine per URL; SQLite files get their folder created, sensible pragmas and real transactions."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


@contextmanager
def writing(url: str) -> Iterator[Connection]:
    """A write transaction, committed at the end (rolled back on error). On SQLite it holds the write lock from its
    start (BEGIN IMMEDIATE); on PostgreSQL rows are locked as they are written."""
    with get_engine(url).connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        with conn.begin():
            yield conn


@contextmanager
def reading(url: str) -> Iterator[Connection]:
    """A transaction for reading that sees one state of the warehouse from its first statement to its end, whatever
    commits meanwhile: a snapshot isolation on PostgreSQL (REPEATABLE READ), a read transaction on SQLite (WAL)."""
    with get_engine(url).connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")  # not read-only: indicators make temp tables
        with conn.begin():
            yield conn


def alembic_config(url: str) -> Config:
    config = Config(str(paths.ALEMBIC_INI))
    config.set_main_option("script_location", str(paths.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the warehouse schema to the newest migration (idempotent), on our engine's connection. Two processes
    upgrading at once take turns: the second finds the schema at head."""
    config = alembic_config(url)
    with writing(url) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def redact(url: str) -> str:
    """The URL without its password, for reports and logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
