"""helpline cells may name the platform where the harm happened

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

VIEW = (
    "CREATE VIEW approved_fact_helpline_contacts AS SELECT f.*, b.source_id FROM fact_helpline_contacts f "
    "JOIN batches b ON b.batch_id = f.batch_id WHERE b.status = 'loaded' AND b.review_status = 'approved'"
)


def upgrade() -> None:
    """Two nullable columns; the approved view is made again so PostgreSQL's `f.*` includes them."""
    op.execute("DROP VIEW approved_fact_helpline_contacts")
    with op.batch_alter_table("fact_helpline_contacts") as batch:
        batch.add_column(sa.Column("platform_code", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("platform_reported", sa.String(length=200), nullable=True))
    op.execute(VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW approved_fact_helpline_contacts")
    with op.batch_alter_table("fact_helpline_contacts") as batch:
        batch.drop_column("platform_reported")
        batch.drop_column("platform_code")
    op.execute(VIEW)
