"""Submission templates: an .xlsx workbook for a registered source, derived from its schema and vocabularies — a
README that explains every column, a data sheet with dropdowns and checks, and a hidden Lists sheet of codes.
Nothing is listed per group: every column, format, check and list comes from schemas/<group>.yaml and the
vocabularies. The checks in the workbook only help the person filling it in; ingest checks every row again."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from pop.files import safe_cell
from pop.registry import Source
from schemas.countries import countries
from schemas.kinds import PERIOD_FORMS
from schemas.spec import FieldSpec
from schemas.vocabulary import vocabulary

README_SHEET = "README"
LISTS_SHEET = "Lists"
DEFAULT_DATA_SHEET = "Data"
PREPARED_ROWS = 1000
FIXED_TIME = dt.datetime(2024, 1, 1)  # workbook created/modified: fixed, so two runs give the same bytes
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # every zip entry's timestamp, for the same reason
ONE_ZERO = '"1,0"'
MAX_PROMPT = 255  # Excel's limit for input and error messages
MAX_TITLE = 32  # Excel's limit for their titles
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7")
WRAP = Alignment(wrap_text=True, vertical="top")
README_WIDTHS = (30, 24, 12, 48, 52, 32, 26, 44)
README_HEADER = ("Column", "Our field", "Required", "What it means", "Allowed values", "Format", "Example", "Notes")


@dataclass(frozen=True)
class TemplateColumn:
    """One column as the source sends it: its header, our field, the option of a one-hot column, and
    whether it belongs on the data sheet (a field the source does not map is only explained in the README)."""

    header: str
    spec: FieldSpec
    option: str | None = None
    in_sheet: bool = True


def template_columns(source: Source) -> list[TemplateColumn]:
    """Every field in schema order, named as the source sends it (our field name when the source does not map it)."""
    sender = source.field_columns
    maps_nothing = not source.columns  # a draft registration: offer every field under our name
    result: list[TemplateColumn] = []
    for name, spec in source.schema.fields.items():
        if name in source.multi_select_columns:
            result += [TemplateColumn(col, spec, code) for col, code in source.multi_select_columns[name].items()]
        elif name in sender and sender[name] in {c.header for c in result}:
            continue  # a provider column gives the company and the product: one column, under the company
        else:
            result.append(TemplateColumn(sender.get(name, name), spec, in_sheet=name in sender or maps_nothing))
    return result


def data_sheet_name(source: Source) -> str:
    """The sheet ingest reads: the registry's `sheet` for an xlsx source, else 'Data'."""
    name = source.sheet if source.format == "xlsx" and source.sheet else DEFAULT_DATA_SHEET
    if name in (README_SHEET, LISTS_SHEET):
        raise ValueError(f"source {source.id!r}: its data sheet cannot be called {name!r} (the template uses it)")
    return name


def list_name(spec: FieldSpec) -> str | None:
    """The Lists column a field's values come from (its vocabulary, or 'country', 'company', 'platform'), if any."""
    return spec.field_kind.template_list(spec)


def dropdown(spec: FieldSpec) -> str | None:
    """The list a single-choice field picks from (a multi-select field has a list in the README only)."""
    rule = spec.field_kind.template_rule(spec)
    return rule.lists if rule.type == "list" else None


def list_codes(name: str) -> list[str]:
    """The codes of a list: a vocabulary's codes, or every ISO 3166 alpha-3 code plus WLD for 'country'."""
    return sorted(countries()) if name == "country" else list(vocabulary(name).codes)


def _cell(sheet: Worksheet, row: int, column: int, value: Any) -> Cell:
    """sheet.cell with its value made inert: no text of the schema's or the registry's runs as a formula."""
    return sheet.cell(row, column, safe_cell(value))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_text(column: TemplateColumn) -> str:
    """How a value is written, in words: whole number ≥ 0, YYYY-MM-DD, period forms, yes/no, ..."""
    if column.option is not None:
        return "1 or 0 (blank counts as 0)"
    return column.spec.field_kind.template_format_of(column.spec)


def allowed_text(column: TemplateColumn) -> str:
    """The values a column takes: vocabulary codes with their labels, yes/no, 1/0, or a description."""
    if column.option is not None:
        return f"1 = {column.option} applies, 0 = it does not"
    return column.spec.field_kind.template_allowed(column.spec)


def required_text(column: TemplateColumn, source: Source) -> str:
    """'yes' when every row needs a value, else 'no'."""
    return (
        "yes"
        if column.spec.name in source.schema.required_fields and column.spec.name not in source.given_defaults
        else "no"
    )


def notes_text(column: TemplateColumn, source: Source) -> str:
    """Defaults, the source's own codes, key membership, and fields this source does not send."""
    spec, notes = column.spec, []
    if not column.in_sheet:
        notes.append(
            "Not on the data sheet, as this source does not send it yet: if you have it, tell us, so that it can be "
            "added."
        )
    default = source.given_defaults.get(spec.name, spec.default)
    if default is not None:
        notes.append(f"Left blank, it is read as {str(default)!r}." if str(default) else "May be left blank.")
    if spec.name in source.values:
        own = ", ".join(f"{theirs} = {ours}" for theirs, ours in source.values[spec.name].items())
        notes.append(f"Your own codes are accepted too: {own}.")
    if spec.name in source.schema.natural_key:
        notes.append("Part of what identifies a row: send each combination once.")
    if column.option is not None:
        notes.append(f"One column per option of {spec.name}.")
    return " ".join(notes)


def example_value(column: TemplateColumn) -> Any:
    """The schema's example for a column (1/0 for a one-hot option, from the multi-select example)."""
    example = column.spec.example
    if column.option is not None:
        chosen = [t.strip() for t in str(example or "").split(";")]
        return 1 if column.option in chosen else 0
    return "" if example is None else example


def number_format(spec: FieldSpec) -> str:
    """The cell format of a field: whole numbers, numbers, dates, or text (so Excel keeps 2023-05 and 13-15)."""
    return spec.field_kind.template_number_format(spec)


def _rule(column: TemplateColumn, source: Source, refs: dict[str, str]) -> DataValidation:
    if column.option is not None:
        return DataValidation(type="list", formula1=ONE_ZERO, errorStyle="stop")
    rule = column.spec.field_kind.template_rule(column.spec)
    if rule.type is None:
        return DataValidation()  # any value: only the input message
    # a list of codes only suggests when names and aliases are accepted too, or the source has its own codes
    strict = rule.strict and not (rule.lists and column.spec.name in source.values)
    return DataValidation(
        type=rule.type,
        operator=rule.operator,
        formula1=refs[rule.lists] if rule.lists else rule.formula1,
        formula2=rule.formula2,
        errorStyle="stop" if strict else "warning",
    )


def validation(column: TemplateColumn, source: Source, refs: dict[str, str], cells: str) -> DataValidation:
    """The column's data validation over `cells`: a dropdown or range check, with the field's description as prompt."""
    rule = _rule(column, source, refs)
    rule.allow_blank = True
    rule.showInputMessage = True
    rule.promptTitle = _clip(column.header, MAX_TITLE)
    rule.prompt = _clip(f"{column.spec.description} Format: {format_text(column)}.".strip(), MAX_PROMPT)
    if rule.type is not None:
        rule.showErrorMessage = True
        rule.errorTitle = _clip(f"{column.header}: not allowed", MAX_TITLE)
        what = "pick a value from the list" if rule.type == "list" else format_text(column)
        rule.error = _clip(f"{column.header}: {what}. See the README sheet.", MAX_PROMPT)
    rule.add(cells)
    return rule


def write_lists(sheet: Worksheet, names: list[str]) -> dict[str, str]:
    """One column per list (header: its name, then its codes); returns each list's absolute range."""
    refs: dict[str, str] = {}
    for index, name in enumerate(names, start=1):
        letter, codes = get_column_letter(index), list_codes(name)
        _cell(sheet, 1, index, name).font = BOLD
        for row, code in enumerate(codes, start=2):
            _cell(sheet, row, index, code)
        sheet.column_dimensions[letter].width = max(12, *(len(c) + 2 for c in [name, *codes]))
        refs[name] = f"{quote_sheetname(LISTS_SHEET)}!${letter}$2:${letter}${len(codes) + 1}"
    sheet.sheet_state = "hidden"
    return refs


def _width(column: TemplateColumn) -> float:
    name = dropdown(column.spec) if column.option is None else None
    texts = [column.header, str(example_value(column)), *(list_codes(name) if name else [])]
    return min(max(8, *map(len, texts)) + 4, 45)


def write_data_sheet(sheet: Worksheet, source: Source, columns: list[TemplateColumn], refs: dict[str, str]) -> None:
    """Title above the header (when header_row > 1), the bold frozen header with a filter, formats and checks."""
    top = source.header_row
    if top > 1:
        _cell(sheet, 1, 1, f"POP submission template: {source.schema.title} — {source.organisation}").font = Font(
            bold=True, size=13
        )
    if top > 2:
        _cell(sheet, 2, 1, f"Fill in one row per record from row {top + 1}; the README sheet explains every column.")
    first, last = top + 1, top + PREPARED_ROWS
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        cell = _cell(sheet, top, index, column.header)
        cell.font, cell.fill = BOLD, HEADER_FILL
        dimension = sheet.column_dimensions[letter]
        dimension.width = _width(column)
        dimension.number_format = "General" if column.option is not None else number_format(column.spec)
        sheet.add_data_validation(validation(column, source, refs, f"{letter}{first}:{letter}{last}"))
    sheet.freeze_panes = f"A{first}"
    sheet.auto_filter.ref = f"A{top}:{get_column_letter(max(len(columns), 1))}{last}"


def _about(source: Source, data_sheet: str) -> list[tuple[str, str]]:
    schema = source.schema
    rows = [
        (
            "What this is",
            "A template for sending evidence to POP (Protection through Online Participation). "
            f"The POP pipeline reads the '{data_sheet}' sheet and checks every row.",
        ),
        ("Stakeholder group", f"{schema.title} ({schema.group})"),
        ("Organisation", source.organisation),
        ("Source id", source.id),
        ("Contact", source.contact),
        ("Licence", source.licence),
        ("Consent", source.consent or ""),
        ("Update frequency", source.update_frequency),
    ]
    return [(k, v) for k, v in rows if v]


def _how_to(source: Source, data_sheet: str) -> list[str]:
    key = ", ".join(source.schema.natural_key)
    steps = [
        f"Fill in the '{data_sheet}' sheet, one row per record, from row {source.header_row + 1}. Keep the header "
        f"(row {source.header_row}) as it is: do not rename columns or add new ones.",
        "Fill in every required column in every row; leave an optional cell blank when you do not know the value.",
        "Coded columns have a dropdown: pick a code (the table below gives each code's meaning).",
        "Columns that take several values have no dropdown (Excel allows one choice per cell): type the codes "
        "separated by ';', for example a;b.",
        f"Write yes or no for yes/no columns, dates as YYYY-MM-DD, and periods as {PERIOD_FORMS}.",
        f"A row is identified by {key}: send each combination once.",
        "Pasted values skip the dropdowns, so every row is checked again when POP reads the file: a row that "
        "breaks a rule is held back with its row number and the reason, and the other rows are loaded.",
        f"Save as Excel Workbook (.xlsx) and send it to {source.contact}.",
    ]
    if source.ignore_columns:
        steps.append(f"These extra columns of yours are accepted and not read: {', '.join(source.ignore_columns)}.")
    return [f"{n}. {step}" for n, step in enumerate(steps, start=1)]


def readme_rows(source: Source, columns: list[TemplateColumn]) -> list[tuple[Any, ...]]:
    """The README table: one row per column, with its field, requirement, meaning, values, format and example."""
    rows = []
    for column in columns:
        spec = column.spec
        meaning = spec.description + (f" Option: {column.option}." if column.option is not None else "")
        rows.append(
            (
                column.header,
                spec.name,
                required_text(column, source),
                meaning,
                allowed_text(column),
                format_text(column),
                example_value(column),
                notes_text(column, source),
            )
        )
    return rows


def write_readme(sheet: Worksheet, source: Source, columns: list[TemplateColumn], data_sheet: str) -> None:
    """What the template is for, how to fill it in, then the table of columns."""
    _cell(sheet, 1, 1, f"POP submission template: {source.schema.title}").font = Font(bold=True, size=14)
    row = 3
    for label, value in _about(source, data_sheet):
        _cell(sheet, row, 1, label).font = BOLD
        _cell(sheet, row, 2, value)
        row += 1
    _cell(sheet, row + 1, 1, "How to fill it in").font = BOLD
    row += 2
    for step in _how_to(source, data_sheet):
        _cell(sheet, row, 1, step)
        row += 1
    _cell(sheet, row + 1, 1, "Columns").font = BOLD
    row += 2
    for index, title in enumerate(README_HEADER, start=1):
        cell = _cell(sheet, row, index, title)
        cell.font, cell.fill = BOLD, HEADER_FILL
    for values in readme_rows(source, columns):
        row += 1
        for index, value in enumerate(values, start=1):
            _cell(sheet, row, index, value).alignment = WRAP
    for index, width in enumerate(README_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


def build_template(source: Source) -> Workbook:
    """The template workbook for a source: README, the data sheet, and the hidden Lists sheet."""
    columns = template_columns(source)
    sheet_columns = [c for c in columns if c.in_sheet]
    names = list(dict.fromkeys(n for c in sheet_columns if (n := list_name(c.spec))))
    data_sheet = data_sheet_name(source)
    book = Workbook()
    readme = book.active
    readme.title = README_SHEET
    data = book.create_sheet(data_sheet)
    refs = write_lists(book.create_sheet(LISTS_SHEET), names)
    write_readme(readme, source, columns, data_sheet)
    write_data_sheet(data, source, sheet_columns, refs)
    book.properties.creator = "POP evidence pipeline"
    book.properties.title = f"POP submission template: {source.id}"
    return book


def save_deterministic(book: Workbook, path: Path) -> Path:
    """Save with fixed document dates and zip timestamps, so the same workbook gives the same bytes."""
    book.properties.created = book.properties.modified = FIXED_TIME
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).save()  # not book.save(): that stamps 'modified' with the current time
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(buffer) as source_zip, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source_zip.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type, fixed.external_attr = zipfile.ZIP_DEFLATED, info.external_attr
            target.writestr(fixed, source_zip.read(info))
    return path


def write_template(source: Source, path: Path) -> Path:
    """Write the .xlsx submission template of a registered source to `path` and return the path."""
    return save_deterministic(build_template(source), path)
