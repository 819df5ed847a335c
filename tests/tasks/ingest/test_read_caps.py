"""What reading one file may hold in memory, with small limits: a line too long (CSV, JSON Lines), a JSON record
too large, a workbook that unpacks to too much or is packed like a zip bomb. Each fails its batch before a parser
holds it, with a short message naming the limit and the setting that raises it; nothing is loaded. JSON documents
are streamed and read as Python's json module read them (NaN, Infinity, decimals, escapes across block ends). On
SQLite and PostgreSQL where a batch is recorded."""

from __future__ import annotations

import io
import json
import math
import sqlite3
import zipfile
from decimal import Decimal
from pathlib import Path

import ijson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import tasks.ingest.batch as batch_module
from pop.models import FACT_TABLES, QuarantineRow
from pop.settings import Settings, reset_settings
from tasks.ingest.batch import failure_message
from tasks.ingest.bounds import first_long_line
from tasks.ingest.convert import BadFileError
from tasks.ingest.extract import ReadLimits
from tasks.ingest.json_stream import JsonText
from tests.helpers import workbook, write_file
from tests.tasks.ingest.test_bounded_memory import WORKBOOK_PARTS
from tests.tasks.ingest.test_files_as_they_come import (
    TABLE,
    as_cells,
    delimited,
    ingest,
    loaded,
    quarantined,
    records,
    source_for,
)
from tests.tasks.ingest.test_ingest_file import count

HELPLINE = FACT_TABLES["fact_helpline_contacts"]


def small(**limits: int) -> ReadLimits:
    return ReadLimits(max_bytes=64 << 20, max_rows=1_000_000, max_cell_chars=32_767, **limits)


def assert_refused(batch, *expected: str, database_url: str) -> None:
    assert batch.status == "failed", batch.message
    assert len(batch.message) < 1_000, batch.message
    for text in expected:
        assert text in batch.message
    assert count(database_url, HELPLINE) == 0 and count(database_url, QuarantineRow.__table__) == 0


# the longest line: a scan of the file's bytes, checked against splitting the file into lines


def longest_first(lines: list[str], limit: int) -> int | None:
    return next((n for n, line in enumerate(lines, start=1) if len(line.encode()) > limit), None)


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.text(alphabet="ab,é\r", max_size=40), min_size=1, max_size=30),
    limit=st.integers(min_value=1, max_value=50),
    final_newline=st.booleans(),
)
def test_the_scan_finds_the_first_line_too_long(tmp_path_factory, lines: list[str], limit: int, final_newline: bool):
    path = tmp_path_factory.mktemp("scan") / "a.csv"
    path.write_bytes(("\n".join(lines) + ("\n" if final_newline else "")).encode())
    assert first_long_line(path, limit) == longest_first(lines, limit)


def test_the_scan_reads_utf16_by_its_characters(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    lines = ["Year\tCountry", "2023\tKenya", "x" * 3_000, "2023\tPerú"]
    path.write_bytes("\r\n".join(lines).encode("utf-16"))
    assert first_long_line(path, 4_000, "utf-16") == 3  # 3,000 characters are 6,000 bytes of UTF-16
    assert first_long_line(path, 8_000, "utf-16") is None


def test_a_csv_line_too_long_fails_the_batch_before_it_is_read(tmp_path: Path, database_url: str) -> None:
    rows = [TABLE[0], TABLE[1], [*TABLE[2][:8], "x" * 5_000], TABLE[3]]
    write_file(tmp_path, "a.csv", delimited(rows).encode())
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path), limits=small(max_line_bytes=4_096))
    assert_refused(
        batch,
        "a.csv: line 3 is longer than 4 KB, the most one line may hold (POP_MAX_LINE_KB)",
        "raise POP_MAX_LINE_KB",
        database_url=database_url,
    )


def test_a_json_lines_line_too_long_fails_the_batch(tmp_path: Path, database_url: str) -> None:
    lines = [json.dumps(r) for r in records(TABLE)]
    lines[1] = json.dumps({**records(TABLE)[1], "Office": "y" * 10_000})
    write_file(tmp_path, "a.jsonl", "\n".join(lines) + "\n")
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="json"), limits=small(max_line_bytes=2_048))
    assert_refused(batch, "a.jsonl: line 2 is longer than 2 KB", "(POP_MAX_LINE_KB)", database_url=database_url)


def test_lines_within_the_limit_load(tmp_path: Path, database_url: str) -> None:
    write_file(tmp_path, "a.csv", delimited(TABLE).encode())
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path), limits=small(max_line_bytes=200))
    assert (batch.status, batch.rows_loaded) == ("loaded", 3), batch.message


# JSON documents, streamed


@pytest.mark.parametrize("records_path", [None, "records"])
def test_a_json_record_too_large_fails_the_batch(tmp_path: Path, database_url: str, records_path: str | None) -> None:
    """One record of 300 KB in a document on one line (as json.dumps writes it): the read stops within the limit."""
    rows = [records(TABLE)[0], {**records(TABLE)[1], "Office": "z" * 300_000}, records(TABLE)[2]]
    document = {"exported": "2024-07-01", "records": rows} if records_path else rows
    write_file(tmp_path, "a.json", json.dumps(document))
    source = source_for(tmp_path, format="json", records_path=records_path)
    [batch] = ingest(tmp_path, database_url, source, limits=small(max_line_bytes=100_000))
    assert_refused(
        batch,
        "a.json: record 2 holds more than 98 KB of JSON, the most one record may hold (POP_MAX_LINE_KB)",
        database_url=database_url,
    )


def test_a_huge_value_before_the_records_fails_the_batch(tmp_path: Path, database_url: str) -> None:
    write_file(tmp_path, "a.json", json.dumps({"notes": "n" * 300_000, "records": records(TABLE)}))
    source = source_for(tmp_path, format="json", records_path="records")
    [batch] = ingest(tmp_path, database_url, source, limits=small(max_line_bytes=100_000))
    assert_refused(batch, "the start of the document, before its records, holds more than", database_url=database_url)


def test_a_streamed_document_loads_in_chunks_numbered_from_one(tmp_path: Path, database_url: str) -> None:
    """Chunks of 2 records; NaN (missing) and Infinity (no count) where Python writes them; a key first seen in a
    later chunk; the words NaN and Infinity inside text stay text."""
    rows = [
        {**records(TABLE)[0], "Office": 'NaN, "Infinity" and \\ NaN'},
        records(TABLE)[1],
        {**records(TABLE)[2], "Contacts": float("nan")},
        {**records(TABLE)[0], "Reason": "grooming", "Contacts": float("inf")},
        {**records(TABLE)[0], "Reason": "sextortion", "Contacts": 2.50},
    ]
    write_file(tmp_path, "a.json", json.dumps({"records": rows}))
    source = source_for(tmp_path, format="json", records_path="records")
    [batch] = ingest(tmp_path, database_url, source, chunk_rows=2)
    assert (batch.status, batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == ("loaded", 5, 2, 3)
    assert loaded(database_url) == [('NaN, "Infinity" and \\ NaN', "BRA", 1200), ("Zürich", "CIV", 40)]
    assert quarantined(database_url) == {3: ["missing_value"], 4: ["not_a_whole_number"], 5: ["not_a_whole_number"]}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the file is empty"),
        ("  \n ", "the file is empty"),
        ('{"records": [{"Year": "2023"}, 1]', "not valid JSON (parse error: premature EOF"),
        ('{"records": [{"Year": "2023"}]} {"more": 1}', "not valid JSON (parse error: trailing garbage"),
        ('{"records": [{"Year": 2023,}]}', "not valid JSON"),
        ('{"records": 7}', "expected a list of records (objects) under 'records'"),
        ('{"records": [{"Year": "2023"}, [1]]}', "expected a list of records (objects) under 'records'"),
        ('"text"', "expected an object with a 'records' list of records, found str."),
        ("[]", "expected an object with a 'records' list of records, found list."),
        ('{"a": 1, "b": {"records": []}}', "found dict with keys 'a', 'b'."),
    ],
)
def test_a_document_s_faults_are_named_as_before(tmp_path: Path, database_url: str, content: str, expected: str):
    write_file(tmp_path, "a.json", content)
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="json", records_path="records"))
    assert batch.status == "failed" and expected in batch.message, batch.message
    assert len(batch.message) < 1_000


def parsed(document: bytes, block: int) -> list:
    """The items of a top-level list as the stream gives them to ijson, read in blocks of `block` bytes."""
    stream = JsonText(io.BytesIO(document), "utf-8", block)
    return [json_plain(item) for item in ijson.items(stream, "item", buf_size=max(block, 1))]


def json_plain(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: json_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_plain(v) for v in value]
    return value


TRICKY = st.text(alphabet=['"', "\\", "N", "a", "I", "n", "f", "i", "t", "y", "-", " ", ":", ",", "é", "\n"])
VALUES = st.one_of(
    TRICKY,
    st.sampled_from(["NaN", "Infinity", "-Infinity", 'x": NaN, "y', "\\", '\\"']),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.dictionaries(TRICKY, VALUES, max_size=4), max_size=5), block=st.integers(1, 40))
def test_a_streamed_document_reads_as_json_reads_it(rows: list[dict], block: int) -> None:
    """Whatever the block ends split (a string, an escape, a constant), the stream reads what json.loads reads;
    NaN is None and Infinity its word, as the reader before it read them."""
    document = json.dumps(rows).encode()
    expected = json.loads(document, parse_constant=lambda word: None if word == "NaN" else word)
    assert _same(parsed(document, block), expected)


def _same(got: object, expected: object) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return got is None  # pragma: no cover - NaN is read as None before it becomes a float
    return got == expected


def test_a_document_in_another_encoding_streams(tmp_path: Path, database_url: str) -> None:
    write_file(tmp_path, "a.json", json.dumps({"records": records(TABLE)}, ensure_ascii=False).encode("utf-16"))
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="json", records_path="records"))
    assert (batch.status, batch.rows_loaded) == ("loaded", 3), batch.message


# workbooks, judged from their zip directory before openpyxl opens them


def test_a_workbook_packed_like_a_bomb_is_not_opened(tmp_path: Path, database_url: str) -> None:
    path = workbook(tmp_path / "inbox" / "hl" / "a.xlsx", {"Data": [TABLE[0], *TABLE[1:]]})
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.xml", b"0" * (4 << 20))  # 4 MB of one byte packs ~1,000 to 1
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="xlsx"))
    assert_refused(
        batch,
        "a.xlsx: part 'xl/media/padding.xml' of the workbook is packed",
        "more than the 200 to 1 a workbook may be (POP_MAX_ZIP_RATIO): it looks like a zip bomb",
        database_url=database_url,
    )


def test_a_workbook_whose_text_unpacks_to_too_much_is_not_opened(tmp_path: Path, database_url: str) -> None:
    source = source_for(tmp_path, format="xlsx")
    path = tmp_path / "inbox" / "hl" / "a.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in WORKBOOK_PARTS.items():
            archive.writestr(name, text)
        archive.writestr("xl/sharedStrings.xml", f"<sst><si><t>{'grooming ' * 20_000}</t></si></sst>")
    [batch] = ingest(tmp_path, database_url, source, limits=small(max_xlsx_strings_bytes=100_000))
    assert_refused(
        batch,
        "a.xlsx: the workbook's text (its shared strings) unpacks to 0 MB, more than the 0 MB",
        "(POP_MAX_XLSX_STRINGS_MB)",
        database_url=database_url,
    )


def test_a_workbook_that_unpacks_to_too_much_is_not_opened(tmp_path: Path, database_url: str) -> None:
    workbook(tmp_path / "inbox" / "hl" / "a.xlsx", {"Data": [TABLE[0], *TABLE[1:]]})
    limits = small(max_xlsx_expanded_bytes=10_000)
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="xlsx"), limits=limits)
    assert_refused(batch, "a.xlsx: the workbook unpacks to", "(POP_MAX_XLSX_EXPANDED_MB)", database_url=database_url)


def test_a_workbook_within_the_limits_loads(tmp_path: Path, database_url: str) -> None:
    workbook(tmp_path / "inbox" / "hl" / "a.xlsx", {"Data": as_cells(TABLE)})
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="xlsx"))
    assert (batch.status, batch.rows_loaded) == ("loaded", 3), batch.message


# the limits are settings; a failure's message is bounded whatever the error quotes


def test_the_read_caps_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"LINE_KB": "8", "XLSX_EXPANDED_MB": "3", "XLSX_STRINGS_MB": "2", "ZIP_RATIO": "50"}.items():
        monkeypatch.setenv(f"POP_MAX_{name}", value)
    reset_settings()
    try:
        limits = ReadLimits.from_settings()
    finally:
        monkeypatch.undo()
        reset_settings()
    assert (limits.max_line_bytes, limits.max_xlsx_expanded_bytes, limits.max_xlsx_strings_bytes) == (
        8 << 10,
        3 << 20,
        2 << 20,
    )
    assert limits.max_zip_ratio == 50
    assert ReadLimits(1, 1, 1).max_line_bytes == Settings().max_line_kb << 10  # the defaults are the settings'


@pytest.mark.parametrize("name", ["max_line_kb", "max_xlsx_expanded_mb", "max_xlsx_strings_mb", "max_zip_ratio"])
def test_a_cap_is_at_least_one(name: str) -> None:
    with pytest.raises(ValidationError):
        Settings(**{name: 0})


@pytest.mark.parametrize(
    "exc",
    [
        MemoryError(),
        OverflowError("x" * 10_000_000),
        RuntimeError("(sqlite3.DataError) string or blob too big [parameters: " + "y" * 5_000_000 + "]"),
        BadFileError("a.csv: " + "z" * 1_000_000),
    ],
)
def test_a_failure_message_is_bounded(exc: Exception) -> None:
    message = failure_message(exc, "a.csv")
    assert message.startswith("a.csv: ") and len(message) < 2_200


@pytest.mark.parametrize(
    "exc",
    [
        MemoryError(),
        OverflowError("Python int too large to convert to C long"),
        sqlite3.DataError("string or blob too big"),
    ],
)
def test_a_batch_that_runs_out_of_room_is_failed_never_left_processing(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, exc: Exception
) -> None:
    """Whatever the read or the load raises (out of memory, a number too large, a value too big for the database,
    with a huge value in its text), the batch is closed failed with a bounded message, and nothing is loaded."""

    def failing(*args: object, **kwargs: object):
        yield from ()
        raise exc.__class__(*(f"{a} [parameters: ('{'x' * 5_000_000}',)]" for a in exc.args))

    monkeypatch.setattr(batch_module, "read_chunks", failing)
    write_file(tmp_path, "a.csv", delimited(TABLE).encode())
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path))
    assert batch.status == "failed" and batch.message.startswith(f"a.csv: could not be ingested ({type(exc).__name__}")
    assert len(batch.message) < 1_000 and "Nothing was loaded" in batch.message
    assert count(database_url, HELPLINE) == 0
