"""Load: bulk inserts inside the batch's one transaction — executemany on SQLite, COPY on PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pandas as pd
from sqlalchemy import Connection, Table


NULL_MARK = "\\N"


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


def _sqlite_rows(frame: pd.DataFrame) -> Iterator[tuple]:
    columns = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col):
            col = col.astype("Int64")
        values = col.astype(object).to_numpy(copy=True)
        values[col.isna().to_numpy()] = None
        columns.append(values.tolist())
    return zip(*columns)


def _copy_postgres(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor:
        # an explicit NULL marker, so that an empty text value stays an empty string
        with cursor.copy(f'COPY "{table.name}" ({cols}) FROM STDIN WITH (FORMAT csv, NULL \'{NULL_MARK}\')') as copy:
            step = 100_000
            for start in range(0, len(frame), step):
                buffer = io.StringIO()
                frame.iloc[start:start + step].to_csv(buffer, header=False, index=False, na_rep=NULL_MARK)
                copy.write(buffer.getvalue())


def bulk_insert(conn: Connection, table: Table, frame: pd.DataFrame) -> int:
    """Insert every row of `frame` into `table` within the connection's transaction; return the row count."""
    if frame.empty:
        return 0
    ready = _db_ready(frame, table)
    if conn.dialect.name == "postgresql":
        _copy_postgres(conn, table, ready)
    else:
        placeholders = ", ".join("?" for _ in ready.columns)
        cols = ", ".join(f'"{c}"' for c in ready.columns)
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.executemany(f'INSERT INTO "{table.name}" ({cols}) VALUES ({placeholders})', _sqlite_rows(ready))
        finally:
            cursor.close()
    return len(ready)
