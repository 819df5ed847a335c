"""organisations as a vocabulary that grows

A service provider's organisation is a code of the organisation vocabulary (dim_organisation, grown in the warehouse
like companies and platforms), with the name as the source wrote it; two sources that name one organisation alike,
or by names a steward mapped to it, report the same observation. The organisations of rows loaded before are added
as entries the sources brought, for a steward to review.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 01:53:06.248486

"""

import datetime as dt
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from pop.views import drop_views
from schemas.vocabulary import NAME_CHARS, code_form, normalise_text

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ADDED_BY = "pop (migration 0010)"


def upgrade() -> None:
    """Upgrade schema; the views are dropped first (pop.views makes them again once at head)."""
    drop_views(op.get_bind())
    op.create_table(
        "dim_organisation",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_dim_organisation")),
    )
    with op.batch_alter_table("fact_service_provider_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("org_name_code", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("org_name_reported", sa.Text(), nullable=True))
    _organisations_of_loaded_rows()
    with op.batch_alter_table("fact_service_provider_reports", schema=None) as batch_op:
        batch_op.alter_column("org_name_code", existing_type=sa.String(length=60), nullable=False)
        batch_op.alter_column("org_name_reported", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("org_name")


def _organisations_of_loaded_rows() -> None:
    """Each organisation name loaded so far becomes an entry (its code made from the name, as a source's new name
    is), brought by the source of its first batch and listed for review; its rows take the code."""
    conn = op.get_bind()
    named = conn.execute(
        sa.text(
            "SELECT f.org_name, MIN(f.batch_id) AS batch_id FROM fact_service_provider_reports f GROUP BY f.org_name"
        )
    ).all()
    now = dt.datetime.now(dt.UTC)
    codes: dict[str, str] = {}
    for name, batch_id in named:
        code = code_form(name) or "organisation"
        source_id = conn.execute(sa.text("SELECT source_id FROM batches WHERE batch_id = :b"), {"b": batch_id}).scalar()
        conn.execute(
            sa.text(
                "UPDATE fact_service_provider_reports SET org_name_code = :c, org_name_reported = org_name "
                "WHERE org_name = :n"
            ),
            {"c": code, "n": name},
        )
        observed = {"b": batch_id, "n": name[:NAME_CHARS], "c": code}
        known = conn.execute(
            sa.text("SELECT COUNT(*) FROM vocabulary_entries WHERE vocabulary = 'organisation' AND code = :c"),
            {"c": code},
        ).scalar()
        if code in codes.values():  # another spelling of an organisation already added: one more name of it
            continue
        codes[name] = code
        conn.execute(sa.text("INSERT INTO dim_organisation (code, label) VALUES (:c, :n)"), observed)
        if known:  # added before a downgrade
            continue
        conn.execute(
            sa.text(
                "INSERT INTO vocabulary_entries (vocabulary, code, label, source_id, batch_id, added_by, added_at, "
                "reason) VALUES ('organisation', :c, :n, :s, :b, :by, :at, :why)"
            ),
            {
                **observed,
                "s": source_id,
                "by": ADDED_BY,
                "at": now,
                "why": "named by rows loaded before organisations were a vocabulary: new, for review",
            },
        )
        conn.execute(
            sa.text(
                "INSERT INTO vocabulary_names (vocabulary, name, spelling, code, decision, source_id, added_by, "
                "added_at, reason) VALUES ('organisation', :k, :n, :c, 'source', :s, :by, :at, NULL)"
            ),
            {**observed, "k": normalise_text(name)[:NAME_CHARS], "s": source_id, "by": ADDED_BY, "at": now},
        )
    # the observed views compare service providers' rows by organisation code now
    conn.execute(
        sa.text(
            "UPDATE observation_scopes SET scope_1 = (SELECT MIN(f.org_name_code) FROM fact_service_provider_reports f "
            "WHERE f.batch_id = observation_scopes.batch_id AND f.org_name = observation_scopes.scope_1) "
            "WHERE batch_id IN (SELECT batch_id FROM fact_service_provider_reports)"
        )
    )


def downgrade() -> None:
    """Downgrade schema; the views are dropped first. The organisations added stay in vocabulary_entries."""
    drop_views(op.get_bind())
    with op.batch_alter_table("fact_service_provider_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("org_name", sa.TEXT(), nullable=True))
    op.execute("UPDATE fact_service_provider_reports SET org_name = org_name_reported")
    op.execute(
        "UPDATE observation_scopes SET scope_1 = (SELECT MIN(f.org_name) FROM fact_service_provider_reports f "
        "WHERE f.batch_id = observation_scopes.batch_id AND f.org_name_code = observation_scopes.scope_1) "
        "WHERE batch_id IN (SELECT batch_id FROM fact_service_provider_reports)"
    )
    with op.batch_alter_table("fact_service_provider_reports", schema=None) as batch_op:
        batch_op.alter_column("org_name", existing_type=sa.TEXT(), nullable=False)
        batch_op.drop_column("org_name_reported")
        batch_op.drop_column("org_name_code")
    op.drop_table("dim_organisation")
