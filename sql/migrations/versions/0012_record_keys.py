"""record keys

Every fact row carries a record key for the cell-key method of disclosure control (record_key, 0..255, fixed when the
row is loaded: pop.record_keys). The rows loaded before get the key a load gives them now: derived from their
batch's sha256 and their row number with the record-key secret. This migration imports pop.record_keys and
pop.settings to get that secret (POP_RECORD_KEY_SECRET, else the file record-key.secret in the outputs folder,
made if missing), so it must run with the settings the warehouse is loaded with.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 04:08:57.165154

"""

import itertools
from typing import Sequence, Union

from alembic import op
import numpy as np
import sqlalchemy as sa

from pop.record_keys import key_secret, record_keys
from pop.settings import get_settings
from pop.views import drop_views

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# the fact tables of this revision's day (not today's schemas: a later group's table has its key from the start)
FACT_TABLES = (
    "fact_helpline_contacts",
    "fact_protection_submissions",
    "fact_service_provider_reports",
    "fact_tech_metrics",
    "fact_youth_responses",
)
ROWS_PER_PART = 100_000  # row numbers read, and keys written, at a time
KEYS = "pop_record_keys_0012"  # a temporary table of the keys of one fact table's rows


def upgrade() -> None:
    """Upgrade schema; the views are dropped first (pop.views makes them again once at head)."""
    drop_views(op.get_bind())
    for name in FACT_TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("record_key", sa.SmallInteger(), nullable=True))
    _keys_of_loaded_rows()
    for name in FACT_TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.alter_column("record_key", existing_type=sa.SmallInteger(), nullable=False)


def _keys_of_loaded_rows() -> None:
    """Each loaded row's key, as a load derives it (its batch's sha256, its row number): computed a part of a batch
    at a time into a temporary table, then set by one UPDATE ... FROM per fact table (SQLite and PostgreSQL alike)."""
    conn = op.get_bind()
    secret = key_secret(get_settings())
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {KEYS} (batch_id INTEGER NOT NULL, row_number BIGINT NOT NULL, "
        "record_key SMALLINT NOT NULL, PRIMARY KEY (batch_id, row_number))"
    )
    for name in FACT_TABLES:
        loaded = conn.execute(
            sa.text(
                f"SELECT batch_id, sha256 FROM batches WHERE batch_id IN (SELECT DISTINCT batch_id FROM {name}) "
                "ORDER BY batch_id"
            )
        ).all()
        for batch_id, sha256 in loaded:
            numbered = sa.text(f"SELECT row_number FROM {name} WHERE batch_id = :b")
            found = conn.execute(numbered.execution_options(yield_per=ROWS_PER_PART), {"b": batch_id})
            parts = [np.fromiter((r[0] for r in part), dtype=np.int64) for part in found.partitions(ROWS_PER_PART)]
            for numbers in parts:
                _write_keys(conn, batch_id, numbers, record_keys(secret, sha256, numbers))
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ANALYZE {KEYS}")  # temporary tables are never analysed by themselves
        conn.exec_driver_sql(
            f"UPDATE {name} SET record_key = k.record_key FROM {KEYS} AS k "
            f"WHERE {name}.batch_id = k.batch_id AND {name}.row_number = k.row_number"
        )
        conn.exec_driver_sql(f"DELETE FROM {KEYS}")
        orphans = conn.execute(sa.text(f"SELECT DISTINCT batch_id FROM {name} WHERE record_key IS NULL")).scalars()
        if orphaned := sorted(orphans):
            raise RuntimeError(
                f"{name}: rows of batch(es) {', '.join(map(str, orphaned))} have no batch in batches, so no sha256 to "
                "derive their record keys from; remove them (or restore their batches) and upgrade again"
            )
    conn.exec_driver_sql(f"DROP TABLE {KEYS}")


def _write_keys(conn: sa.Connection, batch_id: int, numbers: np.ndarray, keys: np.ndarray) -> None:
    """The keys of rows of one batch into the temporary table: COPY on PostgreSQL, executemany on SQLite."""
    rows = list(zip(itertools.repeat(batch_id), numbers.tolist(), keys.tolist()))
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        with cursor, cursor.copy(f"COPY {KEYS} (batch_id, row_number, record_key) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.exec_driver_sql(f"INSERT INTO {KEYS} (batch_id, row_number, record_key) VALUES (?, ?, ?)", rows)


def downgrade() -> None:
    """Downgrade schema; the views are dropped first. The record keys go (an upgrade derives them again)."""
    drop_views(op.get_bind())
    for name in reversed(FACT_TABLES):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_column("record_key")
