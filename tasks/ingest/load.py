"""Load: bulk inserts inside the batch's one transaction — executemany on SQLite, COPY on PostgreSQL."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Connection, Table

NULL_MARK = "\\N"
COPY_ROWS_PER_WRITE = 25_000  # PostgreSQL: rows formatted and sent at a time
ROWS_PER_STATEMENT = 500  # SQLite: rows one INSERT carries, within the connection's limit of bound values


def _db_ready(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """The frame with the table's columns, dates as ISO text, in the table's column order."""
    columns = [c.name for c in table.columns if c.name in frame.columns]
    out = frame[columns].copy()
    for name in columns:
        if pd.api.types.is_datetime64_any_dtype(out[name]):
            codes, uniques = pd.factorize(out[name])
            text = pd.Series(pd.DatetimeIndex(uniques).strftime("%Y-%m-%d"), dtype="string")
            out[name] = pd.Series(text.array.take(codes, allow_fill=True), index=out.index)
    return out


def _sqlite_cells(frame: pd.DataFrame) -> np.ndarray:
    """The frame as a 2-D array of Python values sqlite3 binds (missing → None, booleans → 0/1)."""
    cells = np.empty((len(frame), len(frame.columns)), dtype=object)
    for position, name in enumerate(frame.columns):
        col = frame[name]
        if pd.api.types.is_bool_dtype(col):
            col = col.astype("Int64")
        values = col.astype(object).to_numpy(copy=True)
        values[col.isna().to_numpy()] = None
        cells[:, position] = values
    return cells


def _quoted(value: object) -> str:
    return '"' + str(value).replace('"', '""') + '"'


def _csv_cells(column: pd.Series) -> np.ndarray:
    """The column as CSV cells for COPY: text quoted (so '' stays an empty string), missing → the NULL marker.
    Each distinct value is formatted once, then spread over the rows that hold it."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, uniques, text = column.cat.codes.to_numpy(), column.cat.categories, True
    else:
        codes, uniques = pd.factorize(column)  # missing values get code -1
        text = pd.api.types.is_string_dtype(column) or column.dtype == object
    form = _quoted if text else str
    return np.array([form(u) for u in uniques] + [NULL_MARK], dtype=object)[codes]  # -1 picks the marker


def _copy_postgres(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    """COPY in CSV; a column missing in every row is left out (it is NULL without a default), so not sent."""
    frame = frame[
        [name for name in frame.columns if table.c[name].server_default is not None or not frame[name].isna().all()]
    ]
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor:
        # an explicit NULL marker, so that an empty text value stays an empty string; a queued writer sends each
        # part from its own thread, so the server takes in one part while the next is formatted
        statement = f"COPY \"{table.name}\" ({cols}) FROM STDIN WITH (FORMAT csv, NULL '{NULL_MARK}')"
        with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
            step = COPY_ROWS_PER_WRITE
            for start in range(0, len(frame), step):
                cells = [_csv_cells(frame[name].iloc[start : start + step]) for name in frame.columns]
                copy.write("\n".join(map(",".join, zip(*cells, strict=True))) + "\n")


def bulk_insert(conn: Connection, table: Table, frame: pd.DataFrame) -> int:
    """Insert every row of `frame` into `table` within the connection's transaction; return the row count."""
    if frame.empty:
        return 0
    ready = _db_ready(frame, table)
    if conn.dialect.name == "postgresql":
        _copy_postgres(conn, table, ready)
    else:
        _executemany_sqlite(conn, table, ready)
    return len(ready)


def _sqlite_literal(value: object) -> str | None:
    """A value written into the statement itself, or None when it is safer to bind it."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    return None


def _constant(column: pd.Series) -> str | None:
    """The SQL literal of a column that holds one value in every row (batch id, a default), else None."""
    if column.nunique(dropna=False) != 1:
        return None
    value = column.iloc[0]
    return _sqlite_literal(value.item() if hasattr(value, "item") else value)


def _executemany_sqlite(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    """executemany in the open transaction, of multi-row INSERTs: one statement carries hundreds of rows, so
    SQLite runs and resets a statement, and the writing thread takes the GIL back, hundreds of times less often. A
    column with one value for all rows is written once, as a literal, instead of being bound a million times."""
    constants = {name: literal for name in frame.columns if (literal := _constant(frame[name])) is not None}
    bound = [name for name in frame.columns if name not in constants]
    cols = ", ".join(f'"{c}"' for c in [*bound, *constants])
    row = "(" + ", ".join(["?"] * len(bound) + list(constants.values())) + ")"
    raw = conn.connection.driver_connection
    limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per_statement = max(1, min(ROWS_PER_STATEMENT, limit // max(1, len(bound))))
    cells = _sqlite_cells(frame[bound])
    whole = len(frame) // per_statement * per_statement
    cursor = raw.cursor()
    try:
        if whole:
            cursor.executemany(
                f'INSERT INTO "{table.name}" ({cols}) VALUES {", ".join([row] * per_statement)}',
                cells[:whole].reshape(whole // per_statement, per_statement * len(bound)).tolist(),
            )
        if whole < len(frame):
            cursor.executemany(f'INSERT INTO "{table.name}" ({cols}) VALUES {row}', cells[whole:].tolist())
    finally:
        cursor.close()
