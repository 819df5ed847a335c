"""Files as senders make them: one source takes the formats its partner uses, each file read as its content shows
(CSV, TSV, semicolons or pipes in any common encoding; xlsx, whatever its declared size, cover sheet or formulas;
JSON and JSON Lines), and a file is refused only with a message naming its real problem. Also the limits of one
file: more rows or bytes than allowed fail the batch, never cut it short. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from pop.db import get_engine
from pop.models import FACT_TABLES, QuarantineRow
from pop.registry import Registry, Source
from pop.settings import reset_settings
from tasks.ingest.batch import ingest_file
from tasks.ingest.extract import ReadLimits
from tasks.ingest.inbox import discover_files
from tasks.reference.dimensions import sync_dimensions
from tests.helpers import HELPLINE_COLUMNS, helpline_source, workbook, write_file
from tests.tasks.ingest.test_ingest_file import count

HELPLINE = FACT_TABLES["fact_helpline_contacts"]
COLUMNS = {**HELPLINE_COLUMNS, "Office": "record_id"}
TABLE = [
    ["Year", "Country", "Type", "Channel", "Reason", "Age", "Sex", "Contacts", "Office"],
    ["2023", "Brazil", "counselling", "TEL", "bullying", "13-15", "girl", "1200", "São Paulo"],
    ["2023", "Côte d'Ivoire", "counselling", "chat", "grooming", "13-15", "boy", "40", "Zürich"],
    ["2023", "Perú", "counselling", "chat", "sextortion", "16-17", "girl", "7", "Lima"],
]
LOADED = [("São Paulo", "BRA", 1200), ("Zürich", "CIV", 40), ("Lima", "PER", 7)]


def source_for(tmp_path: Path, **overrides: object) -> Source:
    """The helpline source with an 'Office' text column, taking any file name in its folder."""
    return helpline_source(tmp_path, columns=COLUMNS, files="hl/*", **overrides)


def delimited(rows: list[list[str]], delimiter: str = ",", newline: str = "\r\n") -> str:
    """Rows as a spreadsheet program writes them (quoted where needed, CRLF line ends)."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return out.getvalue()


def ingest(tmp_path: Path, database_url: str, source: Source, limits: ReadLimits | None = None, chunk_rows: int = 1000):
    with get_engine(database_url).begin() as conn:
        sync_dimensions(conn, Registry(sources=[source]))
    return [
        ingest_file(source, incoming, database_url, tmp_path / "landing", chunk_rows, None, limits=limits)
        for incoming in discover_files(source, tmp_path / "inbox")
    ]


def loaded(database_url: str) -> list[tuple]:
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(
            select(HELPLINE.c.record_id, HELPLINE.c.country_iso3, HELPLINE.c.contacts).order_by(HELPLINE.c.row_number)
        ).all()
    return [tuple(r) for r in rows]


def quarantined(database_url: str) -> dict[int, list[str]]:
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(select(QuarantineRow.row_number, QuarantineRow.reasons_json)).all()
    return {r.row_number: [reason["check"] for reason in json.loads(r.reasons_json)] for r in rows}


# how real senders write the same table
SENT_AS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "Excel 'CSV UTF-8' (a byte-order mark)": ("a.csv", lambda: delimited(TABLE).encode("utf-8-sig")),
    "Excel 'Unicode text' (UTF-16, tabs)": ("a.txt", lambda: delimited(TABLE, "\t").encode("utf-16")),
    "UTF-16 without a byte-order mark": ("a.txt", lambda: delimited(TABLE, "\t").encode("utf-16-le")),
    "Excel 'CSV' in a European locale (semicolons, Windows-1252)": (
        "a.csv",
        lambda: delimited(TABLE, ";").encode("cp1252"),
    ),
    "a Latin-1 export": ("a.csv", lambda: delimited(TABLE, newline="\n").encode("latin-1")),
    "pipes": ("a.psv", lambda: delimited(TABLE, "|").encode()),
    "a TSV": ("a.tsv", lambda: delimited(TABLE, "\t", "\n").encode()),
}


@pytest.mark.parametrize("how", list(SENT_AS))
def test_text_in_any_common_encoding_and_delimiter_loads_with_its_accents(
    tmp_path: Path, database_url: str, how: str
) -> None:
    name, content = SENT_AS[how]
    write_file(tmp_path, name, content())
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path))
    assert (batch.status, batch.rows_in, batch.rows_loaded) == ("loaded", 3, 3), batch.message
    assert loaded(database_url) == LOADED


UTF8 = delimited(TABLE).encode()
REFUSED = [
    (
        {"encoding": "utf-8"},
        delimited(TABLE, "\t").encode("utf-16"),
        "the file is UTF-16 text, not UTF-8 as registered for this source",
    ),
    (
        {"encoding": "utf-8"},
        delimited(TABLE).encode("latin-1"),
        "not valid UTF-8: byte 0xe3 at line 2, column 55 (this looks like Latin-1/Windows-1252 text)",
    ),
    ({"encoding": "latin-1"}, UTF8, "the file is UTF-8 text, not Latin-1/Windows-1252 as registered"),
    ({"delimiter": ","}, delimited(TABLE, ";").encode(), "separated by semicolons, not commas as registered"),
    ({"delimiter": "\t"}, UTF8, "separated by commas, not tabs as registered"),
    ({}, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "an Excel 97-2003 workbook (.xls)"),
    ({}, bytes(range(256)) * 4, "not a text file (it looks like a binary file)"),
    ({"format": "json"}, UTF8, "delimited text (CSV), but this source takes json files"),
]


@pytest.mark.parametrize(("pinned", "content", "expected"), REFUSED)
def test_a_refusal_names_the_real_problem(
    tmp_path: Path, database_url: str, pinned: dict, content: bytes, expected: str
) -> None:
    write_file(tmp_path, "a.csv", content)
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, **pinned))
    assert batch.status == "failed" and expected in batch.message, batch.message
    assert count(database_url, HELPLINE) == 0


def test_a_bad_byte_past_the_sample_is_placed_by_line_and_column(tmp_path: Path, database_url: str) -> None:
    """Detection reads the file's start only; a Latin-1 byte far below it fails the batch (all of it) with its line
    and column in the file, not a position inside some buffer."""
    body = [
        [f"{2000 + n % 20}-{1 + n // 20 % 12:02d}", *TABLE[1][1:7], str(n), f"office {n:06d}"] for n in range(20_000)
    ]
    latin1 = "2023,Perú,counselling,chat,grooming,13-15,girl,1,Lima\n".encode("latin-1")
    text = delimited([TABLE[0], *body], newline="\n").encode() + latin1
    assert len(text) > 1 << 20
    write_file(tmp_path, "big.csv", text)
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path), chunk_rows=5_000)
    assert batch.status == "failed"
    assert "not valid UTF-8: byte 0xfa at line 20,002, column 9 (this looks like Latin-1/Windows-1252" in batch.message
    assert count(database_url, HELPLINE) == 0


def test_quoted_newlines_stay_inside_their_cell(tmp_path: Path, database_url: str) -> None:
    """A cell with line breaks (an address typed in Excel) is one cell; rows are numbered as a spreadsheet shows
    them."""
    table = [TABLE[0], [*TABLE[1][:8], "Rua A, 12\nSão Paulo"], [*TABLE[2][:7], "-1", "Zürich"], TABLE[3]]
    write_file(tmp_path, "a.csv", delimited(table).encode())
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path))
    assert (batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == (3, 2, 1)
    assert loaded(database_url) == [("Rua A, 12\nSão Paulo", "BRA", 1200), ("Lima", "PER", 7)]
    assert quarantined(database_url) == {3: ["below_minimum"]}


def records(table: list[list[str]]) -> list[dict[str, object]]:
    return [dict(zip(table[0], row, strict=True)) for row in table[1:]]


def test_json_lines_with_nan_and_infinity(tmp_path: Path, database_url: str) -> None:
    """JSON Lines as Python and pandas write it: NaN for a missing number is a missing value (the row is held back
    as missing, not crashed on); Infinity is a value no count takes. Rows are numbered by their line."""
    lines = [json.dumps({**r, "Contacts": int(str(r["Contacts"]))}, ensure_ascii=False) for r in records(TABLE)]
    lines += [
        "",
        json.dumps({**records(TABLE)[0], "Reason": "grooming", "Contacts": float("nan")}),
        json.dumps({**records(TABLE)[0], "Reason": "sextortion", "Contacts": float("inf")}),
    ]
    write_file(tmp_path, "export.jsonl", "\n".join(lines) + "\n")
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="json"))
    assert (batch.status, batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == ("loaded", 5, 3, 2)
    assert loaded(database_url) == LOADED
    assert quarantined(database_url) == {5: ["missing_value"], 6: ["not_a_whole_number"]}


def test_a_json_document_with_nan_under_its_records_path(tmp_path: Path, database_url: str) -> None:
    rows = [*records(TABLE), {**records(TABLE)[0], "Reason": "grooming", "Contacts": float("nan")}]
    write_file(tmp_path, "export.json", json.dumps({"exported": "2024-07-01", "records": rows}, indent=2))
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="json", records_path="records"))
    assert (batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == (4, 3, 1)
    assert quarantined(database_url) == {4: ["missing_value"]}


def test_json_lines_broken_on_one_line(tmp_path: Path, database_url: str) -> None:
    write_file(tmp_path, "x.jsonl", '{"Year": "2023"}\n{"Year": 2023,\n')
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="json"))
    assert batch.status == "failed" and "line 2 is not valid JSON" in batch.message


def rewrite_sheet(path: Path, edit: Callable[[str], str], sheet: int = 1) -> None:
    """Edit one sheet's XML inside the workbook, as another program would have written it."""
    member = f"xl/worksheets/sheet{sheet}.xml"
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts[member] = edit(parts[member].decode()).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


def as_cells(table: list[list[str]]) -> list[list[object]]:
    """The table as a sender's workbook holds it: counts as numbers."""
    return [table[0], *[[*row[:7], int(row[7]), row[8]] for row in table[1:]]]


def test_a_workbook_is_read_whatever_size_it_declares(tmp_path: Path, database_url: str) -> None:
    """Its <dimension> says A1:H3, but the sheet holds 50 rows and 9 columns: all of them are read."""
    rows = [
        [f"2023-{1 + n % 12:02d}", "Kenya", "counselling", "chat", "grooming", f"{10 + n // 12}", "girl", n, f"o{n}"]
        for n in range(50)
    ]
    path = workbook(tmp_path / "inbox" / "hl" / "a.xlsx", {"Data": [TABLE[0], *rows]})
    rewrite_sheet(path, lambda xml: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:H3"', xml))
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="xlsx", sheet="Data"))
    assert (batch.status, batch.rows_in, batch.rows_loaded) == ("loaded", 50, 50), batch.message
    assert loaded(database_url)[-1] == ("o49", "KEN", 49)


def test_formulas_are_read_as_the_values_excel_saved(tmp_path: Path, database_url: str) -> None:
    table = as_cells(TABLE)
    table[1][7] = "=1000+200"
    path = workbook(tmp_path / "inbox" / "hl" / "a.xlsx", {"Data": table})
    rewrite_sheet(path, lambda xml: xml.replace("<f>1000+200</f><v />", "<f>1000+200</f><v>1200</v>"))
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="xlsx"))
    assert (batch.status, batch.rows_loaded) == ("loaded", 3)
    assert loaded(database_url) == LOADED


def test_without_a_registered_sheet_the_one_with_the_columns_is_read(tmp_path: Path, database_url: str) -> None:
    """A cover sheet and a notes sheet before the data: the sheet whose header row holds the source's columns."""
    sheets = {"Cover": [["Helpline contacts 2023"], ["Prepared by the data team"]], "Notes": [["n/a"]]}
    workbook(tmp_path / "inbox" / "hl" / "a.xlsx", {**sheets, "Sheet1": as_cells(TABLE)})
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="xlsx"))
    assert (batch.status, batch.rows_loaded) == ("loaded", 3), batch.message
    assert loaded(database_url) == LOADED


def test_a_workbook_without_the_columns_says_which_sheets_were_tried(tmp_path: Path, database_url: str) -> None:
    workbook(tmp_path / "inbox" / "hl" / "a.xlsx", {"Cover": [["Helpline contacts 2023"]], "Empty": []})
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="xlsx"))
    assert batch.status == "failed"
    assert (
        "no sheet has this source's columns in row 1; sheets tried, with what row 1 holds: "
        "'Cover' ('Helpline contacts 2023'), 'Empty' (empty)"
    ) in batch.message


def test_a_renamed_data_sheet_is_named_in_the_refusal(tmp_path: Path, database_url: str) -> None:
    workbook(tmp_path / "inbox" / "hl" / "a.xlsx", {"Cover": [["x"]], "Data 2023": as_cells(TABLE)})
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path, format="xlsx", sheet="Data"))
    assert batch.status == "failed"
    assert "no sheet 'Data' (sheets found: Cover, Data 2023). Sheet 'Data 2023' has this source's columns" in (
        batch.message
    )


def test_one_source_takes_csv_one_year_and_excel_the_next(tmp_path: Path, database_url: str) -> None:
    source = source_for(tmp_path, format=["csv", "xlsx"])
    write_file(tmp_path, "2022.csv", delimited([TABLE[0], *[["2022", *row[1:]] for row in TABLE[1:]]]).encode())
    workbook(tmp_path / "inbox" / "hl" / "2023.xlsx", {"Data": as_cells(TABLE)})
    write_file(tmp_path, "2024.json", json.dumps(records(TABLE)))
    csv_batch, xlsx_batch, json_batch = ingest(tmp_path, database_url, source)
    assert (csv_batch.status, csv_batch.rows_loaded) == ("loaded", 3)
    assert (xlsx_batch.status, xlsx_batch.rows_loaded) == ("loaded", 3)
    assert json_batch.status == "failed"
    assert "a JSON file, but this source takes csv or xlsx files" in json_batch.message
    assert "if you can only send json files, tell us" in json_batch.message  # the registry is the steward's
    assert count(database_url, HELPLINE) == 6


def test_a_workbook_sent_to_a_csv_source_is_named(tmp_path: Path, database_url: str) -> None:
    workbook(tmp_path / "inbox" / "hl" / "a.csv", {"Data": as_cells(TABLE)})
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path))
    assert batch.status == "failed"
    assert "not a text file (it looks like an xlsx workbook), but this source takes csv files" in batch.message


def test_more_rows_than_allowed_fail_the_batch_whole(tmp_path: Path, database_url: str) -> None:
    """Chunks of 2 rows load until the cap is passed; then the whole batch rolls back."""
    body = [[*TABLE[1][:4], reason, *TABLE[1][5:]] for reason in ("bullying", "grooming", "sextortion", "violence")]
    write_file(tmp_path, "a.csv", delimited([TABLE[0], *body, *TABLE[2:]]).encode())
    limits = ReadLimits(max_bytes=1 << 20, max_rows=5, max_cell_chars=100)
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path), limits=limits, chunk_rows=2)
    assert batch.status == "failed"
    assert "has more than 5 rows, the most a file may have (POP_MAX_ROWS). Nothing was loaded" in batch.message
    assert count(database_url, HELPLINE) == 0
    assert count(database_url, QuarantineRow.__table__) == 0


def test_a_file_larger_than_allowed_is_not_read(tmp_path: Path, database_url: str) -> None:
    body = [[f"2023-{1 + n % 12:02d}", *TABLE[1][1:7], str(n), "x" * 90] for n in range(12_000)]
    size = write_file(tmp_path, "a.csv", delimited([TABLE[0], *body]).encode()).stat().st_size
    limits = ReadLimits(max_bytes=1 << 20, max_rows=100_000, max_cell_chars=1_000)
    [batch] = ingest(tmp_path, database_url, source_for(tmp_path), limits=limits)
    assert batch.status == "failed"
    assert f"the file is {size / 2**20:.1f} MB, more than the 1 MB a file may be (POP_MAX_FILE_MB)" in batch.message
    assert count(database_url, HELPLINE) == 0


def test_the_limits_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POP_MAX_FILE_MB", "5")
    monkeypatch.setenv("POP_MAX_ROWS", "1000")
    monkeypatch.setenv("POP_MAX_CELL_CHARS", "500")
    reset_settings()
    try:
        assert ReadLimits.from_settings() == ReadLimits(max_bytes=5 << 20, max_rows=1000, max_cell_chars=500)
    finally:
        monkeypatch.undo()
        reset_settings()


@pytest.mark.parametrize(
    ("text", "binary"),
    [
        (delimited(TABLE, "\t"), False),  # tabs and line ends are text
        ("Year,Country\f\n2023,Kenya\x1a", False),  # a form feed, an old end-of-file mark: a stray few
        ("\x01\x02PK\x03\x04" * 100, True),  # valid UTF-8 without a NUL, but no table
        ("Year,Country\n2023,Ken\x00ya\n", True),
    ],
)
def test_text_that_no_table_holds_is_binary(text: str, binary: bool) -> None:
    from tasks.ingest.sniff import looks_binary

    assert looks_binary(text) is binary
