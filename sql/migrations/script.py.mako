"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}
from pop.views import create_views, drop_views

# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    """Upgrade schema. The views over the tables are made again around the change (PostgreSQL expands f.* once)."""
    drop_views(op.get_bind())
    ${upgrades if upgrades else "pass"}
    create_views(op.get_bind())


def downgrade() -> None:
    """Downgrade schema, the views made again around the change."""
    drop_views(op.get_bind())
    ${downgrades if downgrades else "pass"}
    create_views(op.get_bind())
