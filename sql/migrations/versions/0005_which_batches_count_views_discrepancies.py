"""which batches count, as views: current_* (loaded, not rejected) and approved_*, of the batches and of every fact
table; consistency_findings becomes discrepancies

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

"""

import json
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from pop.views import drop_views, fact_tables

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

RUNS = sa.table("ingest_runs", sa.column("run_id", sa.String), sa.column("summary_json", sa.Text))


def _rename_run_key(old: str, new: str) -> None:
    """Stored run summaries call their count of unresolved cross-source discrepancies `new` instead of `old`."""
    bind = op.get_bind()
    stored = bind.execute(sa.select(RUNS.c.run_id, RUNS.c.summary_json).where(RUNS.c.summary_json.is_not(None)))
    for run_id, text in stored.all():
        summary = json.loads(text)
        if old in summary:
            summary[new] = summary.pop(old)
            bind.execute(RUNS.update().where(RUNS.c.run_id == run_id).values(summary_json=json.dumps(summary)))


def _rename_discrepancies(table: str, new_table: str, key: str, new_key: str) -> None:
    """Rename the table, its key column and the constraints named after them, keeping every row."""
    op.rename_table(table, new_table)
    with op.batch_alter_table(new_table) as batch:
        batch.alter_column(key, new_column_name=new_key)
    with op.batch_alter_table(new_table) as batch:  # in a batch of its own: SQLite's copy names columns as they were
        batch.drop_constraint(f"uq_{table}_subject", type_="unique")
        batch.create_unique_constraint(f"uq_{new_table}_subject", ["check_id", "subject"])
        batch.drop_constraint(f"pk_{table}", type_="primary")
        batch.create_primary_key(f"pk_{new_table}", [new_key])
    if op.get_bind().dialect.name == "postgresql":  # the key's sequence is named after the table too (SQLite has none)
        op.execute(f"ALTER SEQUENCE {table}_{key}_seq RENAME TO {new_table}_{new_key}_seq")


def upgrade() -> None:
    """The views (made again after the upgrade, pop.views) replace 0003's approved views, which read batches
    themselves."""
    drop_views(op.get_bind())
    _rename_discrepancies("consistency_findings", "discrepancies", "finding_id", "discrepancy_id")
    _rename_run_key("findings", "discrepancies")


def downgrade() -> None:
    """Back to consistency_findings, and to 0003's approved views only."""
    _rename_run_key("discrepancies", "findings")
    _rename_discrepancies("discrepancies", "consistency_findings", "discrepancy_id", "finding_id")
    drop_views(op.get_bind())
    for table in fact_tables(op.get_bind()):
        op.execute(
            f"CREATE VIEW approved_{table} AS SELECT f.*, b.source_id FROM {table} f "
            f"JOIN batches b ON b.batch_id = f.batch_id "
            f"WHERE b.status = 'loaded' AND b.review_status = 'approved'"
        )
