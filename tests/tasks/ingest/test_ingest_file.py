"""The ingest task on tiny sender files: what lands, what loads, what is quarantined and why, and the
invariants — reconciliation, idempotency, all-or-nothing — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from pop.contracts import BatchSummary
from pop.db import get_engine
from pop.models import FACT_TABLES, Batch, QuarantineRow
from pop.registry import Registry
from tasks.ingest.batch import ingest_file
from tasks.ingest.inbox import discover_files
from tasks.reference.dimensions import sync_dimensions
from tests.helpers import HEADER, HELPLINE_COLUMNS, helpline_source, workbook, write_file

HELPLINE = FACT_TABLES["fact_helpline_contacts"]

GOOD_ROWS = [
    '2023-Q1,Kenya,counselling,TEL,bullying,13-15,girl,"1,200"',
    "2023-Q1,KEN,counselling,chat,cyberbullying,13-15,girl,40",
    "2023-Q1,Kenya,counselling,WhatsApp,sextortion,16-17,boy,7",
]


def run_ingest(tmp_path: Path, database_url: str, source, chunk_rows: int = 1000) -> list[BatchSummary | None]:
    with get_engine(database_url).begin() as conn:
        sync_dimensions(conn, Registry(sources=[source]))
    results = []
    for incoming in discover_files(source, tmp_path / "inbox"):
        results.append(ingest_file(source, incoming, database_url, tmp_path / "landing", chunk_rows, None))
    return results


def count(database_url: str, table) -> int:
    with get_engine(database_url).connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_clean_rows_load_harmonised(tmp_path: Path, database_url: str) -> None:
    source = helpline_source(tmp_path)
    write_file(tmp_path, "q1.csv", "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    [batch] = run_ingest(tmp_path, database_url, source)
    assert (batch.status, batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == ("loaded", 3, 3, 0)
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT f.row_number, f.country_iso3, f.channel, f.reason, a.age_min, a.age_max, "
                "a.pop_age_band, f.contacts, p.period_start, p.period_end, p.granularity "
                "FROM fact_helpline_contacts f JOIN dim_period p ON p.period = f.period "
                "JOIN dim_source_age_band a ON a.age_band = f.age_band "
                "ORDER BY f.row_number"
            )
        ).all()
    assert [tuple(r[:8]) for r in rows] == [
        (2, "KEN", "phone", "violence.bullying", 13, 15, "13-15", 1200),
        (3, "KEN", "web_chat", "online.cyberbullying", 13, 15, "13-15", 40),
        (4, "KEN", "messaging_app", "online.sextortion", 16, 17, "16-17", 7),
    ]
    assert str(rows[0].period_start)[:10] == "2023-01-01" and str(rows[0].period_end)[:10] == "2023-03-31"
    assert rows[0].granularity == "quarter"
    landed = Path(batch.landed_path)
    assert landed.exists() and landed.name == f"{batch.sha256}.csv"


@pytest.mark.parametrize("chunk_rows", [1000, 2], ids=["one-chunk", "chunks-of-2"])
def test_bad_rows_are_quarantined_with_every_reason(tmp_path: Path, database_url: str, chunk_rows: int) -> None:
    """The same verdicts whether the file is read whole or in chunks (row 8 repeats a key from another chunk)."""
    source = helpline_source(tmp_path)
    write_file(
        tmp_path,
        "q1.csv",
        "\n".join(
            [
                HEADER,
                *GOOD_ROWS,
                "2023-Q1,Narnia,counselling,chat,grooming,13-15,girl,3",  # row 5: unknown country
                "2023-Q1,Kenya,counselling,pigeon,grooming,13-15,girl,-4",  # row 6: channel not in vocabulary, negative
                "2023-Q9,Kenya,counselling,chat,grooming,10-12,boy,twelve",  # row 7: bad period + not a number
                "2023-Q1,KEN,counselling,chat,cyberbullying,13-15,girl,41",  # row 8: repeats row 3's key
            ]
        )
        + "\n",
    )
    [batch] = run_ingest(tmp_path, database_url, source, chunk_rows=chunk_rows)
    assert (batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == (7, 3, 4)
    with get_engine(database_url).connect() as conn:
        quarantined = {
            r.row_number: (r.fields, json.loads(r.reasons_json), json.loads(r.original_json))
            for r in conn.execute(select(QuarantineRow.__table__))
        }
    assert {n: q[0] for n, q in quarantined.items()} == {
        5: "country",
        6: "channel,contacts",
        7: "period,contacts",
        8: "natural_key",
    }
    assert quarantined[5][2]["Country"] == "Narnia"  # the row as sent, in the sender's column names
    assert quarantined[8][1][0]["value"] == "same key as row 3"  # across chunks too
    checks = {(n, r["check"]) for n, q in quarantined.items() for r in q[1]}
    assert checks == {
        (5, "unknown_country"),
        (6, "unknown_code"),
        (6, "below_minimum"),
        (7, "bad_period"),
        (7, "not_a_whole_number"),
        (8, "duplicate_key"),
    }
    failures = {(f.column, f.check): f for f in batch.failures}
    assert failures[("country", "unknown_country")].examples == ("Narnia",)
    assert failures[("country", "unknown_country")].sender_column == "Country"
    assert failures[("contacts", "below_minimum")].row_numbers == (6,)
    assert "at least 0" in failures[("contacts", "below_minimum")].hint


def test_same_file_twice_loads_once(tmp_path: Path, database_url: str) -> None:
    source = helpline_source(tmp_path)
    write_file(tmp_path, "q1.csv", "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    first = run_ingest(tmp_path, database_url, source)
    again = run_ingest(tmp_path, database_url, source)
    assert [b.status for b in first] == ["loaded"] and again == [None]
    write_file(tmp_path, "q1_resent.csv", "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    results = run_ingest(tmp_path, database_url, source)
    duplicate = next(b for b in results if b)
    assert duplicate.status == "duplicate" and duplicate.duplicate_of == first[0].batch_id
    assert "same content as q1.csv" in duplicate.message
    assert count(database_url, HELPLINE) == 3
    assert count(database_url, Batch.__table__) == 2


def test_failure_mid_file_leaves_no_partial_rows(tmp_path: Path, database_url: str) -> None:
    """Chunks of 2 rows: the first chunks load, then line 9 is broken; the whole batch must roll back."""
    source = helpline_source(tmp_path)
    rows = [
        f"2023-Q{q},Kenya,counselling,chat,grooming,{band},girl,{q}" for q in (1, 2, 3) for band in ("10-12", "13-15")
    ]
    broken = "2023-Q4,Kenya,counselling,chat,grooming,16-17,girl,5,EXTRA,FIELDS"
    write_file(tmp_path, "q.csv", "\n".join([HEADER, *rows, broken, *GOOD_ROWS]) + "\n")
    [batch] = run_ingest(tmp_path, database_url, source, chunk_rows=2)
    assert batch.status == "failed"
    assert "q.csv" in batch.message and "same number of columns" in batch.message
    assert count(database_url, HELPLINE) == 0
    assert count(database_url, QuarantineRow.__table__) == 0
    assert Path(batch.landed_path).exists()


BAD_FILES = [
    ("empty.csv", b"", "the file is empty"),
    ("header_only.csv", (HEADER + "\n").encode(), "header but no data rows"),
    (
        "latin1.csv",
        ("\n".join([HEADER, "2023,Perú,counselling,chat,grooming,13-15,girl,4"]) + "\n").encode("latin-1"),
        "not valid UTF-8: byte 0xfa at line 2, column 9 (this looks like Latin-1/Windows-1252 text)",
    ),
    (
        "missing.csv",
        b"Year,Country,Type,Channel,Reason,Age,Sex\n2023,Kenya,counselling,chat,grooming,13-15,girl\n",
        "missing required column(s) 'Contacts' (for contacts)",
    ),
    (
        "extra.csv",
        ("\n".join([HEADER + ",Notes", GOOD_ROWS[1] + ",hello"]) + "\n").encode(),
        "unexpected column(s) 'Notes'",
    ),
    ("binary.csv", bytes(range(256)) * 4, "not a text file"),
]


@pytest.mark.parametrize(("name", "content", "expected"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_fails_its_batch_with_a_clear_message(
    tmp_path: Path, database_url: str, name: str, content: bytes, expected: str
) -> None:
    source = helpline_source(tmp_path, encoding="utf-8")  # pinned: a file in another encoding is refused
    write_file(tmp_path, name, content)
    [batch] = run_ingest(tmp_path, database_url, source)
    assert batch.status == "failed"
    assert batch.message.startswith(name) and expected in batch.message
    assert (batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == (0, 0, 0)
    assert Path(batch.landed_path).exists()
    assert count(database_url, HELPLINE) == 0


def test_workbook_without_the_expected_sheet(tmp_path: Path, database_url: str) -> None:
    source = helpline_source(tmp_path, format="xlsx", files="hl/*.xlsx", sheet="Data")
    workbook(tmp_path / "inbox" / "hl" / "book.xlsx", {"About": [["Demo helpline"]], "Sheet2": [HEADER.split(",")]})
    [batch] = run_ingest(tmp_path, database_url, source)
    assert batch.status == "failed"
    assert "no sheet 'Data' (sheets found: About, Sheet2)" in batch.message


def test_workbook_with_cover_sheet_loads_with_sheet_row_numbers(tmp_path: Path, database_url: str) -> None:
    source = helpline_source(tmp_path, format="xlsx", files="hl/*.xlsx", sheet="Data", header_row=3)
    rows = [
        ["Helpline contacts 2023"],
        [],
        HEADER.split(","),
        ["2023", "Kenya", "counselling", "TEL", "bullying", "13-15", "girl", 120],
        ["2023", "Kenya", "counselling", "chat", "bullying", "13-15", "girl", -1],
    ]
    workbook(tmp_path / "inbox" / "hl" / "book.xlsx", {"About": [["cover"]], "Data": rows})
    [batch] = run_ingest(tmp_path, database_url, source)
    assert (batch.status, batch.rows_loaded, batch.rows_quarantined) == ("loaded", 1, 1)
    assert batch.failures[0].row_numbers == (5,)


def test_corrupt_workbook(tmp_path: Path, database_url: str) -> None:
    source = helpline_source(tmp_path, format="xlsx", files="hl/*.xlsx", sheet="Data")
    write_file(tmp_path, "broken.xlsx", b"PK\x03\x04 this is not really a zip")
    [batch] = run_ingest(tmp_path, database_url, source)
    assert batch.status == "failed" and "not a readable .xlsx workbook" in batch.message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"data": {"a": 1}}', "JSON of the wrong shape: expected a list of records (objects) under 'records'"),
        ('[{"Year": "2023"}]', "JSON of the wrong shape: expected an object with a 'records' list"),
        ('{"records": [1, 2]', "not valid JSON"),
    ],
)
def test_json_of_the_wrong_shape(tmp_path: Path, database_url: str, content: str, expected: str) -> None:
    source = helpline_source(tmp_path, format="json", files="hl/*.json", records_path="records")
    write_file(tmp_path, "h.json", content.replace('"data"', '"records"') if 'a": 1' in content else content)
    [batch] = run_ingest(tmp_path, database_url, source)
    assert batch.status == "failed" and expected in batch.message


def test_every_batch_reconciles(tmp_path: Path, database_url: str) -> None:
    source = helpline_source(tmp_path)
    write_file(tmp_path, "a.csv", "\n".join([HEADER, *GOOD_ROWS, "2023,Atlantis,all,all,all,all,all,1"]) + "\n")
    write_file(tmp_path, "b.csv", (HEADER + "\n").encode())
    run_ingest(tmp_path, database_url, source)
    with get_engine(database_url).connect() as conn:
        for b in conn.execute(select(Batch.__table__)).mappings():
            assert b["rows_in"] == b["rows_loaded"] + b["rows_quarantined"]
            loaded = conn.execute(
                select(func.count()).select_from(HELPLINE).where(HELPLINE.c.batch_id == b["batch_id"])
            ).scalar_one()
            held = conn.execute(
                select(func.count()).select_from(QuarantineRow.__table__).where(QuarantineRow.batch_id == b["batch_id"])
            ).scalar_one()
            assert (loaded, held) == (b["rows_loaded"], b["rows_quarantined"])


def test_a_new_file_repeating_loaded_rows_does_not_double_count(tmp_path: Path, database_url: str) -> None:
    """A re-sent cell in a different file (new checksum) is held back, naming the batch that has it."""
    source = helpline_source(tmp_path)
    write_file(tmp_path, "a.csv", "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    [first] = run_ingest(tmp_path, database_url, source)
    write_file(
        tmp_path,
        "b.csv",
        "\n".join([HEADER, GOOD_ROWS[1].replace(",40", ",45"), "2023-Q2,Kenya,counselling,chat,grooming,13-15,girl,4"])
        + "\n",
    )
    second = next(b for b in run_ingest(tmp_path, database_url, source) if b)
    assert (second.rows_loaded, second.rows_quarantined) == (1, 1)
    [failure] = second.failures
    assert failure.check == "already_loaded" and failure.row_numbers == (2,)
    assert failure.examples == (f"already loaded from batch {first.batch_id}, row 3",)
    assert count(database_url, HELPLINE) == 4


def test_blank_optional_text_takes_the_schema_default(tmp_path: Path, database_url: str) -> None:
    columns = {
        "Company": "company",
        "Product": "product",
        "Reporter": "reporter",
        "Metric": "metric",
        "Area": "policy_area",
        "Unit": "unit",
        "Value": "value",
        "Period": "period",
    }
    source = helpline_source(
        tmp_path,
        id="tech",
        group="tech_companies",
        schema="tech_companies",
        columns=columns,
        values={},
        files="hl/*.csv",
    )
    write_file(
        tmp_path,
        "t.csv",
        "Company,Product,Reporter,Metric,Area,Unit,Value,Period\n"
        'Meta Platforms Inc.,Instagram,company,content_actioned,,count,"16,200,000",2023-Q4\n',
    )
    [batch] = run_ingest(tmp_path, database_url, source)
    assert (batch.status, batch.rows_loaded) == ("loaded", 1), batch
    with get_engine(database_url).connect() as conn:
        row = conn.execute(
            text(
                "SELECT company_code, product_code, policy_area, value, country_iso3, is_total_row "
                "FROM fact_tech_metrics"
            )
        ).one()
    assert tuple(row) == ("meta", "instagram", "", 16_200_000.0, "WLD", False)


def test_a_file_whose_every_row_fails_is_quarantined_row_by_row(tmp_path: Path, database_url: str) -> None:
    """A sender's systematic error (every count negative; every 10th row also in an unknown country): each row is
    held back once, in order, with its own reasons and the row as sent."""
    source = helpline_source(tmp_path)
    rows = [
        f"2023-Q1,{'Narnia' if n % 10 == 0 else 'Kenya'},counselling,chat,grooming,13-15,girl,-{n + 1}"
        for n in range(2_500)
    ]
    write_file(tmp_path, "q1.csv", "\n".join([HEADER, *rows]) + "\n")
    [batch] = run_ingest(tmp_path, database_url, source, chunk_rows=1_000)
    assert (batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == (2_500, 0, 2_500)
    with get_engine(database_url).connect() as conn:
        stored = conn.execute(
            select(
                QuarantineRow.row_number, QuarantineRow.fields, QuarantineRow.reasons_json, QuarantineRow.original_json
            ).order_by(QuarantineRow.row_number)
        ).all()
    assert [r.row_number for r in stored] == list(range(2, 2_502))
    for r in stored[:30]:
        n = r.row_number - 2
        reasons = json.loads(r.reasons_json)
        assert r.fields == ("country,contacts" if n % 10 == 0 else "contacts")
        assert [x["value"] for x in reasons] == (["Narnia", f"-{n + 1}"] if n % 10 == 0 else [f"-{n + 1}"])
        assert json.loads(r.original_json)["Contacts"] == f"-{n + 1}"


def test_cells_are_read_as_the_sender_wrote_them(tmp_path: Path, database_url: str) -> None:
    """Text stays text: a zero-padded id keeps its zeros, a sender's code '01' maps as '01', and the quarantined
    row is kept as written ('007', '1.50'), whatever the reading library would infer from digits."""
    source = helpline_source(
        tmp_path, columns={**HELPLINE_COLUMNS, "Id": "record_id"}, values={"channel": {"01": "phone", "1": "sms"}}
    )
    write_file(
        tmp_path,
        "q1.csv",
        "\n".join(
            [
                HEADER + ",Id",
                "2023-Q1,Kenya,counselling,01,bullying,13-15,girl,12,007",
                "2023-Q1,Kenya,counselling,1,grooming,13-15,girl,5,010",
                "2023-Q1,Kenya,counselling,01,sextortion,13-15,girl,1.50,011",  # not a whole number: quarantined
            ]
        )
        + "\n",
    )
    [batch] = run_ingest(tmp_path, database_url, source)
    assert (batch.rows_loaded, batch.rows_quarantined) == (2, 1)
    with get_engine(database_url).connect() as conn:
        loaded = conn.execute(select(HELPLINE.c.record_id, HELPLINE.c.channel).order_by(HELPLINE.c.row_number)).all()
        original = json.loads(conn.execute(select(QuarantineRow.original_json)).scalar_one())
    assert [tuple(r) for r in loaded] == [("007", "phone"), ("010", "sms")]
    assert (original["Id"], original["Contacts"], original["Channel"]) == ("011", "1.50", "01")
