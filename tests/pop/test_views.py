"""Which batches count, on SQLite and PostgreSQL: current_* holds exactly the loaded batches not rejected (and their
rows), approved_* exactly the approved ones; the views follow their table's columns and can be made again."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, select, text

from pop import views
from pop.contracts import BatchStatus, ReviewStatus
from pop.db import get_engine
from pop.models import FACT_TABLES
from tasks.ledger.review import review_batch
from tests.helpers import HEADER, helpline_source, write_file
from tests.tasks.ingest.test_ingest_file import run_ingest

HELPLINE = "fact_helpline_contacts"
FILES = {  # one batch per review state, and one failed
    "a_clean.csv": [
        "2023-Q1,Kenya,counselling,TEL,bullying,13-15,girl,12",
        "2023-Q1,Kenya,counselling,chat,grooming,13-15,girl,4",
    ],
    "b_waiting.csv": [
        "2023-Q2,Kenya,counselling,TEL,bullying,13-15,girl,9",
        "2023-Q2,Narnia,counselling,TEL,bullying,13-15,boy,1",
    ],
    "c_rejected.csv": ["2023-Q3,Kenya,counselling,TEL,bullying,13-15,girl,7"],
}


def warehouse_with_every_state(tmp_path: Path, url: str) -> dict[str, int]:
    """Batches: a clean one (approved at once), one waiting for review, one rejected, and one failed; by file."""
    source = helpline_source(tmp_path)
    for name, lines in FILES.items():
        write_file(tmp_path, name, "\n".join([HEADER, *lines]) + "\n")
    write_file(tmp_path, "d_failed.csv", b"")
    batches = {b.original_name: b for b in run_ingest(tmp_path, url, source) if b}
    with get_engine(url).begin() as conn:
        review_batch(conn, batches["c_rejected.csv"].batch_id, ReviewStatus.REJECTED, "amina", "withdrawn")
    assert batches["a_clean.csv"].review_status == ReviewStatus.APPROVED
    assert batches["b_waiting.csv"].review_status == ReviewStatus.PENDING
    assert batches["d_failed.csv"].status == BatchStatus.FAILED
    return {name: b.batch_id for name, b in batches.items()}


def ids(url: str, sql: str) -> list:
    with get_engine(url).connect() as conn:
        return sorted(r[0] for r in conn.execute(text(sql)))


def test_current_and_approved_hold_exactly_the_batches_that_count(tmp_path: Path, database_url: str) -> None:
    batch = warehouse_with_every_state(tmp_path, database_url)
    assert ids(database_url, "SELECT batch_id FROM current_batches") == [batch["a_clean.csv"], batch["b_waiting.csv"]]
    assert ids(database_url, "SELECT batch_id FROM approved_batches") == [batch["a_clean.csv"]]
    current = ids(database_url, f"SELECT batch_id FROM current_{HELPLINE}")
    assert current == [batch["a_clean.csv"]] * 2 + [batch["b_waiting.csv"]]  # Narnia's row is quarantined
    assert ids(database_url, f"SELECT batch_id FROM approved_{HELPLINE}") == [batch["a_clean.csv"]] * 2
    assert set(ids(database_url, f"SELECT source_id FROM current_{HELPLINE}")) == {"test_helpline"}
    assert len(ids(database_url, f"SELECT batch_id FROM {HELPLINE}")) == 4  # the rejected batch keeps its row
    with get_engine(database_url).connect() as conn:  # the query constructs read the same views
        approved = views.batches(views.APPROVED)
        assert conn.execute(select(approved.c.batch_id)).scalars().all() == [batch["a_clean.csv"]]


def test_every_fact_table_has_both_views_with_its_columns_and_source_id(database_url: str) -> None:
    with get_engine(database_url).connect() as conn:
        found = inspect(conn)
        assert set(views.fact_tables(conn)) == {*FACT_TABLES, "fact_choices"}
        for table in views.fact_tables(conn):
            columns = [c["name"] for c in found.get_columns(table)]
            for kind in views.KINDS:
                assert [c["name"] for c in found.get_columns(views.facts_view(kind, table))] == [*columns, "source_id"]


def test_the_views_can_be_dropped_and_made_again(tmp_path: Path, database_url: str) -> None:
    batch = warehouse_with_every_state(tmp_path, database_url)
    with get_engine(database_url).begin() as conn:
        views.drop_views(conn)
        assert not [v for v in inspect(conn).get_view_names() if v.startswith(views.KINDS)]
        views.drop_views(conn)  # nothing left to drop: no error
        views.create_views(conn)
    assert ids(database_url, "SELECT batch_id FROM approved_batches") == [batch["a_clean.csv"]]
