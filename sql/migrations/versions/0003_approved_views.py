"""approved views: what later stages (snapshots, releases) may read — rows of approved batches only

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

"""

from typing import Sequence, Union

from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FACT_TABLES = (
    "fact_helpline_contacts",
    "fact_youth_responses",
    "fact_service_provider_reports",
    "fact_tech_metrics",
    "fact_protection_submissions",
    "fact_choices",
)


def upgrade() -> None:
    """One view per fact table: its rows whose batch a steward (or the clean-batch rule) approved."""
    for table in FACT_TABLES:
        op.execute(
            f"CREATE VIEW approved_{table} AS SELECT f.*, b.source_id FROM {table} f "
            f"JOIN batches b ON b.batch_id = f.batch_id "
            f"WHERE b.status = 'loaded' AND b.review_status = 'approved'"
        )


def downgrade() -> None:
    for table in FACT_TABLES:
        op.execute(f"DROP VIEW IF EXISTS approved_{table}")
