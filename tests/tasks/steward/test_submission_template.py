"""Submission templates: every group's template explains every field, carries dropdowns that point at its Lists
sheet, and — filled in as a steward would — ingests with zero quarantine; a code outside the dropdown is still
caught at ingest. Also the real registry's sources, and byte-identical output."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from pop import paths
from pop.db import get_engine
from pop.registry import Registry, Source, load_registry
from schemas.spec import GROUPS, load_schema
from schemas.values import parse_number, parse_yes_no
from schemas.vocabulary import vocabulary
from tasks.ingest.batch import ingest_file
from tasks.ingest.inbox import discover_files
from tasks.reference.dimensions import sync_dimensions
from tasks.steward.submission_template import (
    LISTS_SHEET,
    PREPARED_ROWS,
    README_SHEET,
    TemplateColumn,
    list_codes,
    list_name,
    template_columns,
    write_template,
)
from tests.helpers import helpline_source

REAL_REGISTRY = paths.SOURCES_FILE
SINGLE_CHOICE = ("vocab", "company", "platform", "country")  # the kinds whose column is a dropdown of one code
ONE_HOT = {"children_youth": "told_whom"}  # a group whose test source sends a multi-select as 0/1 columns


def group_source(tmp_path: Path, group: str) -> Source:
    """An xlsx source (sheet Data, header row 1) whose columns are our field names, one multi-select as 0/1 columns."""
    schema = load_schema(group)
    onehot = {}
    if group in ONE_HOT:
        field = schema.fields[ONE_HOT[group]]
        onehot = {field.name: {f"{field.name}.{code}": code for code in vocabulary(field.vocab).codes}}
    columns = {name: name for name in schema.fields if name not in onehot}
    return helpline_source(
        tmp_path,
        id=f"tpl_{group}",
        group=group,
        schema=group,
        format="xlsx",
        files="hl/*.xlsx",
        sheet="Data",
        header_row=1,
        columns=columns,
        values={},
        multi_select_columns=onehot,
        # a provider writes its own name: the source is authoritative for it, as the demo's network and portal are
        authoritative_for=[name for name, spec in schema.fields.items() if spec.kind == "organisation"],
    )


def as_xlsx(source: Source) -> Source:
    """A registry source as if it sent workbooks (sheet Data) instead of CSV or JSON."""
    if source.format == "xlsx":
        return source
    return source.model_copy(update={"format": "xlsx", "sheet": "Data", "files": f"{source.id}/*.xlsx"})


def real_sources() -> list[Source]:
    return load_registry(REAL_REGISTRY).sources


def validations(sheet: Worksheet) -> dict[int, DataValidation]:
    """Column index → the data validation covering it."""
    found: dict[int, DataValidation] = {}
    for rule in sheet.data_validations.dataValidation:
        for cells in rule.sqref.ranges:
            for col in range(cells.min_col, cells.max_col + 1):
                found[col] = rule
    return found


def list_values(book: Workbook, formula: str) -> list[str]:
    """The values a list validation offers: an inline list, or the cells of a Lists range."""
    if formula.startswith('"'):
        return formula.strip('"').split(",")
    sheet_name, ref = formula.split("!")
    assert sheet_name.strip("'") == LISTS_SHEET
    return [row[0].value for row in book[LISTS_SHEET][ref.replace("$", "")]]


def header_of(sheet: Worksheet, source: Source) -> list[str]:
    return [c.value for c in sheet[source.header_row] if c.value is not None]


def steward_value(column: TemplateColumn, rule: DataValidation | None, book: Workbook, source: Source, i: int) -> Any:
    """What a steward types in row i: a code from the dropdown, or the schema's example (ids made unique)."""
    spec, example = column.spec, column.spec.example
    is_key = spec.name in source.schema.natural_key
    if column.option is not None:
        return 1 if column.option in str(example or "").split(";") else 0
    if spec.kind == "bool":
        return "yes" if parse_yes_no(str(example)) else "no"
    if rule is not None and rule.type == "list":
        codes = list_values(book, rule.formula1)
        return codes[i % len(codes)] if is_key else (example if example in codes else codes[0])
    if example is None:
        return None
    if spec.kind in ("int", "number"):
        number = parse_number(str(example))
        return int(number) if spec.kind == "int" else number
    if spec.kind == "date":
        return dt.date.fromisoformat(str(example))
    return f"{example}-{i + 1}" if is_key and spec.kind == "text" else example


def fill(template: Path, target: Path, source: Source, rows: int = 3, bad_code: bool = False) -> None:
    """Open the template, type `rows` valid rows (and one with an unknown code when asked) and save it as `target`."""
    book = load_workbook(template)
    sheet = book[source.sheet]
    rules = validations(sheet)
    columns = [c for c in template_columns(source) if c.in_sheet]
    assert header_of(sheet, source) == [c.header for c in columns]
    values = [
        [steward_value(c, rules.get(j), book, source, i) for j, c in enumerate(columns, start=1)] for i in range(rows)
    ]
    if bad_code:
        position = next(j for j, c in enumerate(columns) if c.spec.kind == "vocab")
        values.append([*values[0][:position], "not_a_code", *values[0][position + 1 :]])
    for i, row in enumerate(values):
        for j, value in enumerate(row, start=1):
            sheet.cell(source.header_row + 1 + i, j, value)
    target.parent.mkdir(parents=True, exist_ok=True)
    book.save(target)


def ingest(tmp_path: Path, database_url: str, source: Source) -> dict:
    with get_engine(database_url).begin() as conn:
        sync_dimensions(conn, Registry(sources=[source]))
    [incoming] = discover_files(source, tmp_path / "inbox")
    return ingest_file(source, incoming, database_url, tmp_path / "landing", 1000, None)


def inbox_file(tmp_path: Path, source: Source) -> Path:
    return tmp_path / "inbox" / Path(source.files).parent / "filled.xlsx"


def readme_table(book: Workbook) -> list[dict[str, Any]]:
    sheet = book[README_SHEET]
    rows = list(sheet.iter_rows(values_only=True))
    start = next(n for n, r in enumerate(rows) if r[:2] == ("Column", "Our field"))
    header = rows[start]
    return [dict(zip(header, r, strict=True)) for r in rows[start + 1 :] if r[0] is not None]


@pytest.mark.parametrize("group", GROUPS)
def test_filled_template_loads_without_quarantine(tmp_path: Path, database_url: str, group: str) -> None:
    source = group_source(tmp_path, group)
    template = write_template(source, tmp_path / "template.xlsx")
    fill(template, inbox_file(tmp_path, source), source)
    batch = ingest(tmp_path, database_url, source)
    assert (batch.status, batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == (
        "loaded",
        3,
        3,
        0,
    ), batch.failures


@pytest.mark.parametrize("group", GROUPS)
def test_a_code_outside_the_dropdown_is_caught_at_ingest(tmp_path: Path, database_url: str, group: str) -> None:
    source = group_source(tmp_path, group)
    template = write_template(source, tmp_path / "template.xlsx")
    fill(template, inbox_file(tmp_path, source), source, bad_code=True)
    batch = ingest(tmp_path, database_url, source)
    assert (batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == (4, 3, 1)
    assert [(f.check, f.row_numbers) for f in batch.failures] == [("unknown_code", (5,))]


@pytest.mark.parametrize("source", real_sources(), ids=lambda s: s.id)
def test_real_registry_sources_ingest_their_filled_template(tmp_path: Path, database_url: str, source: Source) -> None:
    source = as_xlsx(source)
    template = write_template(source, tmp_path / f"{source.id}.xlsx")
    fill(template, inbox_file(tmp_path, source), source)
    batch = ingest(tmp_path, database_url, source)
    assert (batch.status, batch.rows_loaded, batch.rows_quarantined) == ("loaded", 3, 0), (
        batch.message or batch.failures
    )


@pytest.mark.parametrize("group", GROUPS)
def test_readme_lists_every_field_with_its_allowed_values(tmp_path: Path, group: str) -> None:
    source = group_source(tmp_path, group)
    book = load_workbook(write_template(source, tmp_path / "t.xlsx"))
    assert book.sheetnames[0] == README_SHEET
    table = readme_table(book)
    schema = source.schema
    assert [r["Our field"] for r in table if r["Column"] == r["Our field"]] == [
        n for n in schema.fields if n not in source.multi_select_columns
    ]
    for name, spec in schema.fields.items():
        rows = [r for r in table if r["Our field"] == name]
        assert rows and all(r["What it means"].startswith(spec.description) for r in rows)
        assert {r["Required"] for r in rows} == {"yes" if name in schema.required_fields else "no"}
        allowed = "\n".join(r["Allowed values"] or "" for r in rows)
        if spec.vocab or spec.kind in ("company", "platform"):
            for code in list_codes(list_name(spec)):
                assert code in allowed, (name, code)
        if spec.kind in ("multi", "countries") and name not in source.multi_select_columns:
            assert allowed.startswith("one or more, separated by ';'")
        if spec.kind == "bool":
            assert allowed.startswith("yes, no")
    formats = {r["Our field"]: r["Format"] for r in table}
    assert all(formats[n] == "date, YYYY-MM-DD" for n, s in schema.fields.items() if s.kind == "date")
    assert all("2023-Q2" in formats[n] for n, s in schema.fields.items() if s.kind == "period")
    assert all(formats[n].startswith("whole number") for n, s in schema.fields.items() if s.kind == "int")


@pytest.mark.parametrize("group", GROUPS)
def test_data_sheet_has_dropdowns_checks_and_formats(tmp_path: Path, group: str) -> None:
    source = group_source(tmp_path, group)
    book = load_workbook(write_template(source, tmp_path / "t.xlsx"))
    assert book[LISTS_SHEET].sheet_state == "hidden"
    sheet = book["Data"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    assert all(c.font.bold for c in sheet[1] if c.value is not None)
    rules = validations(sheet)
    for j, column in enumerate([c for c in template_columns(source) if c.in_sheet], start=1):
        spec, rule = column.spec, rules[j]
        assert rule.showInputMessage and rule.prompt.startswith(spec.description[:40])
        assert max(r.max_row for r in rule.sqref.ranges) - 1 >= PREPARED_ROWS
        number_format = next(d.number_format for d in sheet.column_dimensions.values() if d.min <= j <= d.max)
        if column.option is not None:
            assert (rule.type, rule.formula1) == ("list", '"1,0"')
        elif spec.kind in SINGLE_CHOICE:
            assert rule.type == "list" and rule.formula1.split("!")[0].strip("'") == LISTS_SHEET
            assert list_values(book, rule.formula1) == list_codes(list_name(spec))
        elif spec.kind == "bool":
            assert (rule.type, rule.formula1) == ("list", '"yes,no"')
        elif spec.kind == "int":
            assert rule.type == "whole" and number_format in ("0", "#,##0")
            if spec.min is not None:
                assert rule.formula1 == str(int(spec.min)) and rule.operator in ("greaterThanOrEqual", "between")
        elif spec.kind == "number":
            assert rule.type == "decimal" and number_format in ("0.00", "#,##0.00")
        elif spec.kind == "date":
            assert rule.type == "date" and number_format == "yyyy-mm-dd"
        if spec.kind in ("period", "text") and column.option is None:
            assert number_format == "@"


def test_one_hot_multi_select_gets_a_yes_no_column_per_option(tmp_path: Path) -> None:
    source = as_xlsx(load_registry(REAL_REGISTRY).get("youth_survey"))
    book = load_workbook(write_template(source, tmp_path / "t.xlsx"))
    header = header_of(book["Data"], source)
    options = source.multi_select_columns["told_whom"]
    assert [h for h in header if h in options] == list(options)
    rules = validations(book["Data"])
    assert {rules[header.index(h) + 1].formula1 for h in options} == {'"1,0"'}
    assert "interview_mode" not in header  # ignored columns are not offered


def test_header_row_below_a_title_for_a_source_that_reads_row_3(tmp_path: Path) -> None:
    source = load_registry(REAL_REGISTRY).get("helpline_ph")
    book = load_workbook(write_template(source, tmp_path / "ph.xlsx"))
    sheet = book["Data"]
    assert "POP submission template" in sheet["A1"].value and "Demo Helpline Philippines" in sheet["A1"].value
    assert header_of(sheet, source) == list(source.columns)
    assert sheet.freeze_panes == "A4"
    table = readme_table(book)
    unmapped = {r["Our field"]: r for r in table if r["Column"] in ("record_id", "value_quality")}
    assert set(unmapped) == {"record_id", "value_quality"}
    assert all("Not on the data sheet, as this source does not send it yet" in r["Notes"] for r in unmapped.values())
    channel = next(r for r in table if r["Our field"] == "channel")
    assert channel["Column"] == "Channel" and "TEL = phone" in channel["Notes"]


def test_two_runs_give_the_same_bytes(tmp_path: Path) -> None:
    source = load_registry(REAL_REGISTRY).get("youth_survey")
    first = write_template(source, tmp_path / "a.xlsx").read_bytes()
    time.sleep(2.1)  # zip timestamps have 2-second resolution, document dates 1 second
    assert write_template(source, tmp_path / "b.xlsx").read_bytes() == first
