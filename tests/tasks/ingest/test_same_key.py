"""Several rows, one key, on SQLite and PostgreSQL: a source that declares `same_key: sum` has the rows of a file
that map to one key added up (a provider listed under its old and its new name in one year), within a chunk and
across chunks, every sender row kept as provenance; by default such rows stay quarantined as duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from pop.contracts import BatchStatus, QuarantineStatus, ReviewStatus
from pop.db import get_engine
from pop.registry import Registry
from tasks.ingest.batch import ingest_file
from tasks.ingest.inbox import discover_files
from tasks.reference.dimensions import sync_dimensions
from tasks.steward.corrections import reconcile
from tests.helpers import write_file
from tests.pop.test_observations import NCMEC_HEADER, ncmec_table

TABLE = [  # a provider renamed during 2023 is listed twice that year, once under each name
    "Twitter Inc.,2022,98050",
    "Twitter Inc.,2023,100000",
    "Snap Inc.,2023,713055",
    "X Corp.,2023,497087",
    "Google,2023,1470958",
]


def load(tmp_path: Path, url: str, same_key: str, chunk_rows: int) -> int:
    source = ncmec_table(tmp_path).model_copy(update={"same_key": same_key})
    with get_engine(url).begin() as conn:
        sync_dimensions(conn, Registry(sources=[source]))
    write_file(tmp_path, "cybertipline_by_esp.csv", "\n".join([NCMEC_HEADER, *TABLE]) + "\n", folder=source.id)
    [incoming] = discover_files(source, tmp_path / "inbox")
    batch = ingest_file(source, incoming, url, tmp_path / "landing", chunk_rows)
    assert batch is not None and batch.status == BatchStatus.LOADED
    return batch.batch_id


def query(url: str, sql: str) -> list[tuple]:
    with get_engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


@pytest.mark.parametrize("chunk_rows", [100, 2, 1])  # the two rows in one chunk, or in different chunks
def test_rows_of_one_key_are_added_up_and_every_sender_row_is_kept(
    tmp_path: Path, database_url: str, chunk_rows: int
) -> None:
    batch_id = load(tmp_path, database_url, "sum", chunk_rows)
    loaded = query(
        database_url,
        "SELECT company_code, period, value, row_number FROM fact_tech_metrics ORDER BY company_code, period",
    )
    assert loaded == [
        ("alphabet", "2023", 1470958.0, 6),
        ("snap", "2023", 713055.0, 4),
        ("x_corp", "2022", 98050.0, 2),
        ("x_corp", "2023", 597087.0, 3),  # 100,000 as Twitter Inc. + 497,087 as X Corp.
    ]
    yearly = dict(query(database_url, "SELECT period, SUM(value) FROM fact_tech_metrics GROUP BY period"))
    assert yearly == {"2022": 98050, "2023": 100000 + 713055 + 497087 + 1470958}  # the file's yearly sums
    [(row, status, reasons, original)] = query(
        database_url, "SELECT row_number, status, reasons_json, original_json FROM quarantine"
    )
    assert (row, status) == (5, QuarantineStatus.COMBINED) and "added up into row 3" in reasons
    assert '"X Corp."' in original and "497087" in original  # the sender's row as sent
    with get_engine(database_url).connect() as conn:
        numbers = reconcile(conn, batch_id)
        review = query(database_url, f"SELECT review_status FROM batches WHERE batch_id = {batch_id}")
    assert (numbers.rows_in, numbers.loaded_first_time, numbers.combined, numbers.accounted) == (5, 4, 1, 5)
    assert numbers.sentence().endswith("dismissed 0 + combined into another row 1")
    assert review == [(ReviewStatus.APPROVED,)]  # nothing held back: approved like any clean batch


def test_by_default_a_repeated_key_stays_quarantined(tmp_path: Path, database_url: str) -> None:
    batch_id = load(tmp_path, database_url, "quarantine", 100)
    assert query(
        database_url, "SELECT value FROM fact_tech_metrics WHERE company_code = 'x_corp' AND period = '2023'"
    ) == [(100000.0,)]
    [(status, reasons)] = query(database_url, "SELECT status, reasons_json FROM quarantine")
    assert status == QuarantineStatus.OPEN and "duplicate_key" in reasons
    assert query(database_url, f"SELECT review_status FROM batches WHERE batch_id = {batch_id}") == [
        (ReviewStatus.PENDING,)
    ]
