"""helplines named in their cells

A helpline cell names its helpline (an organisation code, and the name as sent): a compilation names each helpline,
a helpline sending its own contacts is the source's organisation. The helpline is part of the cell's observation,
so two helplines of one country are two observations, while a helpline's cell sent by itself and by a compilation
naming it is one. The rows loaded before are the helpline of their source's organisation, added for review.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 02:49:26.000000

"""

import datetime as dt
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from pop.views import drop_views
from schemas.vocabulary import NAME_CHARS, code_form, normalise_text

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ADDED_BY = "pop (migration 0011)"


def upgrade() -> None:
    """Upgrade schema; the views are dropped first (pop.views makes them again once at head)."""
    drop_views(op.get_bind())
    with op.batch_alter_table("fact_helpline_contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("helpline_code", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("helpline_reported", sa.Text(), nullable=True))
    _helplines_of_loaded_rows()
    with op.batch_alter_table("fact_helpline_contacts", schema=None) as batch_op:
        batch_op.alter_column("helpline_code", existing_type=sa.String(length=60), nullable=False)
        batch_op.alter_column("helpline_reported", existing_type=sa.Text(), nullable=False)


def _helplines_of_loaded_rows() -> None:
    """The rows loaded so far are their source's organisation's; it becomes an organisation entry brought by the
    source, for review, unless one has its code; the observation scopes of those batches are recorded again."""
    conn = op.get_bind()
    sources = conn.execute(
        sa.text(
            "SELECT s.id, s.organisation, MIN(b.batch_id) FROM sources s JOIN batches b ON b.source_id = s.id "
            "WHERE b.batch_id IN (SELECT DISTINCT batch_id FROM fact_helpline_contacts) GROUP BY s.id, s.organisation"
        )
    ).all()
    now = dt.datetime.now(dt.UTC)
    for source_id, organisation, batch_id in sources:
        name = str(organisation)[:NAME_CHARS]
        code = code_form(name) or "helpline"
        conn.execute(
            sa.text(
                "UPDATE fact_helpline_contacts SET helpline_code = :c, helpline_reported = :n "
                "WHERE batch_id IN (SELECT batch_id FROM batches WHERE source_id = :s)"
            ),
            {"c": code, "n": name, "s": source_id},
        )
        known = conn.execute(
            sa.text("SELECT COUNT(*) FROM vocabulary_entries WHERE vocabulary = 'organisation' AND code = :c"),
            {"c": code},
        ).scalar()
        if known:
            continue
        given = {"c": code, "n": name, "s": source_id, "b": batch_id, "by": ADDED_BY, "at": now}
        conn.execute(sa.text("INSERT INTO dim_organisation (code, label) VALUES (:c, :n)"), given)
        conn.execute(
            sa.text(
                "INSERT INTO vocabulary_entries (vocabulary, code, label, source_id, batch_id, added_by, added_at, "
                "reason) VALUES ('organisation', :c, :n, :s, :b, :by, :at, :why)"
            ),
            {**given, "why": "the helpline of the rows its source loaded before helplines were named: new, for review"},
        )
        conn.execute(
            sa.text(
                "INSERT INTO vocabulary_names (vocabulary, name, spelling, code, decision, source_id, added_by, "
                "added_at, reason) VALUES ('organisation', :k, :n, :c, 'source', :s, :by, :at, NULL)"
            ),
            {**given, "k": normalise_text(name)[:NAME_CHARS]},
        )
    # the observed views compare helpline cells by helpline and period now (they were by period and country)
    helplines = "SELECT DISTINCT batch_id FROM fact_helpline_contacts"
    conn.execute(sa.text(f"DELETE FROM observation_scopes WHERE batch_id IN ({helplines})"))
    conn.execute(
        sa.text(
            "INSERT INTO observation_scopes (batch_id, scope_1, scope_2) "
            "SELECT DISTINCT batch_id, helpline_code, CAST(period AS VARCHAR(200)) FROM fact_helpline_contacts"
        )
    )


def downgrade() -> None:
    """Downgrade schema; the views are dropped first. The helplines added stay in vocabulary_entries."""
    drop_views(op.get_bind())
    helplines = "SELECT DISTINCT batch_id FROM fact_helpline_contacts"
    op.execute(f"DELETE FROM observation_scopes WHERE batch_id IN ({helplines})")
    op.execute(
        "INSERT INTO observation_scopes (batch_id, scope_1, scope_2) SELECT DISTINCT batch_id, "
        "CAST(period AS VARCHAR(200)), CAST(country_iso3 AS VARCHAR(200)) FROM fact_helpline_contacts"
    )
    with op.batch_alter_table("fact_helpline_contacts", schema=None) as batch_op:
        batch_op.drop_column("helpline_reported")
        batch_op.drop_column("helpline_code")
