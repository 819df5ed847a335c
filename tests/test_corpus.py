"""A corpus of files with the defects real senders' files have, ingested as an operator does (`pop ingest`), on
SQLite and PostgreSQL: file by file, each is loaded, quarantined with its reasons, or refused with a message
naming its real problem; then the steward exports what waits, and nothing the project wrote can run as a formula
in a spreadsheet or as a script in a browser, and no value of an undeclared column went anywhere."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cli.main import app
from pop.db import get_engine
from tests.conftest import registry_settings
from tests.helpers import helpline_source, workbook
from tests.tasks.ingest.test_files_as_they_come import (
    COLUMNS,
    TABLE,
    as_cells,
    delimited,
    records,
    rewrite_sheet,
)
from tests.tasks.test_written_cells import inert, workbook_cells

PII = "jane.doe.caller@example.org"  # a caller's e-mail in a column the registry does not know
SCRIPT = "<script>alert('x')</script>"
FORMULA = '=HYPERLINK("http://evil.example","click")'


@dataclass(frozen=True)
class Expected:
    """What a careful steward wants of one file: its batch's status, rows loaded, the checks its held rows fail,
    and words the refusal must hold."""

    status: str
    loaded: int = 0
    checks: frozenset[str] = frozenset()
    says: tuple[str, ...] = ()


def of_year(year: int) -> list[list[str]]:
    """TABLE for another year: each file of the corpus reports its own rows (a row already loaded by an earlier
    file of the source would be held back as already_loaded)."""
    return [TABLE[0], *[[str(year), *row[1:]] for row in TABLE[1:]]]


def table_with(year: int, **cells: str) -> list[list[str]]:
    """The year's table with its first data row's cells replaced, by header."""
    table = of_year(year)
    first = dict(zip(table[0], table[1], strict=True)) | cells
    return [table[0], list(first.values()), *table[2:]]


def corpus(inbox: Path) -> dict[str, Expected]:
    """Writes every file into inbox/hl/; what each should come to."""
    folder = inbox / "hl"
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "utf16.txt": (delimited(of_year(2001), "\t").encode("utf-16"), Expected("loaded", 3)),
        "semicolons.csv": (delimited(of_year(2002), ";").encode("cp1252"), Expected("loaded", 3)),
        "latin1.csv": (delimited(of_year(2003), newline="\n").encode("latin-1"), Expected("loaded", 3)),
        "bom.csv": (delimited(of_year(2004)).encode("utf-8-sig"), Expected("loaded", 3)),
        "quoted_newlines.csv": (
            delimited(table_with(2005, Office="Rua A, 12\nSão Paulo")).encode(),
            Expected("loaded", 3),
        ),
        "future_and_ages.csv": (
            delimited([*table_with(2006, Year="2031"), [*of_year(2006)[2][:5], "99-120", *TABLE[2][6:]]]).encode(),
            Expected("loaded", 2, frozenset({"future_period", "implausible_age"})),
        ),
        "injection.csv": (
            delimited([*of_year(2007), ["2007", SCRIPT, *TABLE[1][2:]], ["2007", FORMULA, *TABLE[2][2:]]]).encode(),
            Expected("loaded", 3, frozenset({"unknown_country"})),
        ),
        "pii_column.csv": (
            delimited([[*TABLE[0], "Caller e-mail"], *[[*row, PII] for row in of_year(2008)[1:]]]).encode(),
            Expected("failed", says=("unexpected column(s) 'Caller e-mail'",)),
        ),
        "huge_cell.csv": (
            delimited(table_with(2009, Office="x" * 5_000_000)).encode(),
            Expected("loaded", 2, frozenset({"cell_too_long"})),
        ),
        "wide.csv": (
            delimited([[f"col{n}" for n in range(5_000)], ["1"] * 5_000]).encode(),
            Expected("failed", says=("5,000", "col0", "col4999")),
        ),
        "export.jsonl": (
            "\n".join(
                [json.dumps(r, ensure_ascii=False) for r in records(of_year(2010))]
                + [json.dumps({**records(of_year(2010))[0], "Reason": "grooming", "Contacts": float("nan")})]
            ).encode(),
            Expected("loaded", 3, frozenset({"missing_value"})),
        ),
        "binary.csv": (b"\x00\x01\x02PK\x03\x04" * 100, Expected("failed", says=("not a text file",))),
    }
    for name, (content, _) in files.items():
        (folder / name).write_bytes(content)
    expected = {name: outcome for name, (_, outcome) in files.items()}

    workbook(folder / "cover_sheet.xlsx", {"Cover": [["Helpline contacts 2011"]], "Sheet1": as_cells(of_year(2011))})
    formulas = as_cells(of_year(2012))
    formulas[1][7] = "=1000+200"
    workbook(folder / "formulas.xlsx", {"Data": formulas})
    rewrite_sheet(
        folder / "formulas.xlsx", lambda xml: xml.replace("<f>1000+200</f><v />", "<f>1000+200</f><v>1200</v>")
    )
    many = [
        [f"2013-{1 + n % 12:02d}", *TABLE[1][1:5], f"{10 + n // 12}", TABLE[1][6], n + 1, f"o{n}"] for n in range(40)
    ]
    workbook(folder / "wrong_size.xlsx", {"Data": [TABLE[0], *many]})
    declared = '<dimension ref="A1:H3"'  # 41 rows and 9 columns, declared as 3 and 8
    rewrite_sheet(folder / "wrong_size.xlsx", lambda xml: re.sub(r'<dimension ref="[^"]*"', declared, xml))
    expected |= {
        "cover_sheet.xlsx": Expected("loaded", 3),
        "formulas.xlsx": Expected("loaded", 3),
        "wrong_size.xlsx": Expected("loaded", 40),
    }
    return expected


runner = CliRunner()


def pop(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def ingested(tmp_path: Path, database_url: str) -> Iterator[dict]:
    helpline_source(tmp_path, columns=COLUMNS, files="hl/*", format=["csv", "xlsx", "json"])
    expected = corpus(tmp_path / "inbox")
    with registry_settings(tmp_path, database_url, tmp_path / "sources.yaml") as outputs:
        console = pop("ingest", "--as-of", "2024-03-01")
        yield {"expected": expected, "console": console, "outputs": outputs, "url": database_url}


def test_each_file_gets_what_a_careful_steward_wants(ingested: dict) -> None:
    with get_engine(ingested["url"]).connect() as conn:
        batches = conn.execute(text("SELECT batch_id, original_name, status, rows_loaded, message FROM batches")).all()
        held = conn.execute(text("SELECT batch_id, reasons_json FROM quarantine")).all()
    checks: dict[int, set[str]] = {}
    for batch_id, reasons in held:
        checks.setdefault(batch_id, set()).update(r["check"] for r in json.loads(reasons))
    got = {
        name: Expected(status, loaded or 0, frozenset(checks.get(batch_id, ())), ())
        for batch_id, name, status, loaded, _ in batches
    }
    expected = ingested["expected"]
    assert got == {name: Expected(e.status, e.loaded, e.checks) for name, e in expected.items()}
    messages = {name: message or "" for _, name, _, _, message in batches}
    for name, outcome in expected.items():
        for words in outcome.says:
            assert words in messages[name], (name, messages[name])
        assert len(messages[name]) < 2_000, name  # a summary, never the whole header or cell
    assert len(ingested["console"]) < 20_000


def test_nothing_written_can_run_and_no_undeclared_value_leaves(ingested: dict) -> None:
    outputs: Path = ingested["outputs"]
    with get_engine(ingested["url"]).connect() as conn:
        waiting = [b for (b,) in conn.execute(text("SELECT DISTINCT batch_id FROM quarantine WHERE status = 'open'"))]
    for batch_id in waiting:
        pop("batch", "export", str(batch_id))  # in the batch's own format: CSV, or JSON Lines for the .jsonl
    written = [p for p in outputs.rglob("*") if p.is_file() and "landing" not in p.parts]
    exported = [p for p in written if p.suffix in (".csv", ".xlsx")]
    assert len(exported) == len(waiting) - 1 > 0
    for path in exported:
        cells = workbook_cells(path) if path.suffix == ".xlsx" else _csv_cells(path)
        assert all(inert(cell) for cell in cells), path
    assert any(FORMULA[1:] in str(cell) for path in exported for cell in _cells(path))  # kept, made inert
    for path in written:
        content = path.read_bytes()
        if path.suffix in (".json", ".html", ".csv", ".jsonl", ".md"):  # GX's static images are larger
            assert len(content) < 1_000_000, path  # the 5 MB cell is stored cut, and no report carries it
        assert PII.encode() not in content, path  # the refused column's values went nowhere
        if path.suffix == ".html":
            assert SCRIPT.encode() not in content, path  # shown as text, never run
    assert PII not in ingested["console"]


def _cells(path: Path) -> list[object]:
    return workbook_cells(path) if path.suffix == ".xlsx" else _csv_cells(path)


def _csv_cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [cell for row in csv.reader(handle) for cell in row]
