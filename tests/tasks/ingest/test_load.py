"""The bulk loader: whatever the number of rows (a multi-row statement's worth, one more, one less), every row
arrives once with its values — text with quotes and empty strings, missing values, booleans, dates and columns
that hold one value in every row — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import BigInteger, Boolean, Column, Date, Integer, MetaData, String, Table, select

from pop.db import get_engine
from tasks.ingest.load import ROWS_PER_STATEMENT, bulk_insert

SCRATCH = Table(
    "test_bulk_scratch",
    MetaData(),
    Column("row_number", BigInteger, primary_key=True),
    Column("name", String(40)),
    Column("flag", Boolean),
    Column("amount", Integer),
    Column("day", Date),
    Column("batch_id", Integer),
    Column("note", String(40)),
)


def _frame(rows: int) -> pd.DataFrame:
    names = ["Kenya", 'say "hi"', "", "O'Brien", "ção…", None]
    return pd.DataFrame(
        {
            "row_number": range(2, rows + 2),
            "name": pd.Series([names[i % len(names)] for i in range(rows)], dtype="string"),
            "flag": pd.Series([[True, False, None][i % 3] for i in range(rows)], dtype="boolean"),
            "amount": pd.Series([None if i % 7 == 0 else i * 1000 for i in range(rows)], dtype="Int64"),
            "day": pd.to_datetime([dt.date(2024, 1, 1) + dt.timedelta(days=i % 40) for i in range(rows)]),
            "batch_id": 7,  # one value in every row: written as a literal on SQLite
            "note": None,
        }
    )


def _expected(frame: pd.DataFrame) -> list[tuple]:
    return [
        (
            int(r.row_number),
            None if pd.isna(r.name) else r.name,
            None if pd.isna(r.flag) else bool(r.flag),
            None if pd.isna(r.amount) else int(r.amount),
            r.day.date(),
            7,
            None,
        )
        for r in frame.itertuples(index=False)
    ]


@pytest.mark.parametrize(
    "rows", [1, ROWS_PER_STATEMENT - 1, ROWS_PER_STATEMENT, ROWS_PER_STATEMENT + 1, 2 * ROWS_PER_STATEMENT + 57]
)
def test_every_row_arrives_once_with_its_values(database_url: str, rows: int) -> None:
    engine = get_engine(database_url)
    SCRATCH.create(engine)
    frame = _frame(rows)
    with engine.begin() as conn:
        assert bulk_insert(conn, SCRATCH, frame) == rows
    with engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(select(SCRATCH).order_by(SCRATCH.c.row_number))]
    assert stored == _expected(frame)


def test_a_frame_whose_every_column_is_constant(database_url: str) -> None:
    table = Table("test_bulk_constant", MetaData(), Column("batch_id", Integer), Column("code", String(10)))
    engine = get_engine(database_url)
    table.create(engine)
    with engine.begin() as conn:
        bulk_insert(conn, table, pd.DataFrame({"batch_id": [3] * 250, "code": ["x"] * 250}))
    with engine.connect() as conn:
        assert conn.execute(select(table.c.batch_id, table.c.code)).all() == [(3, "x")] * 250


def test_a_failed_insert_leaves_nothing(database_url: str) -> None:
    """A repeated key in the middle of a multi-row statement fails the whole transaction, no partial rows."""
    engine = get_engine(database_url)
    SCRATCH.create(engine)
    frame = _frame(3 * ROWS_PER_STATEMENT)
    frame.loc[150, "row_number"] = 10  # the key of an earlier row
    with pytest.raises(Exception), engine.begin() as conn:  # noqa: B017 - each driver raises its own error
        bulk_insert(conn, SCRATCH, frame)
    with engine.connect() as conn:
        assert conn.execute(select(SCRATCH)).all() == []
