"""Extract: read a landed file (tasks/ingest/inbox.py finds and lands them) in chunks
as text, with the row number each row has in the file the sender sent. Each file is read as its content shows it
to be (tasks/ingest/sniff.py), within what one file may hold (ReadLimits)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.workbook import Workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from pop.registry import Source
from pop.settings import Settings, get_settings
from tasks.ingest.bounds import check_workbook, first_long_line, long_line_error
from tasks.ingest.convert import BadFileError, declared_columns
from tasks.ingest.json_stream import JsonDocument, number
from tasks.ingest.outsized import NAME_CHARS, cut, listing, quoted
from tasks.ingest.sniff import DELIMITERS, FileKind, decode_error, sniff

ROW_NUMBER = "__row_number__"


def _default(setting: str, shift: int = 0) -> int:
    return Settings.model_fields[setting].default << shift


@dataclass(frozen=True)
class ReadLimits:
    """What one file may hold; more fails its batch (POP_MAX_FILE_MB, POP_MAX_ROWS, POP_MAX_CELL_CHARS), and what
    reading it may hold in memory at once (POP_MAX_LINE_KB, POP_MAX_XLSX_EXPANDED_MB, POP_MAX_XLSX_STRINGS_MB,
    POP_MAX_ZIP_RATIO); the limits left out are the settings' defaults."""

    max_bytes: int
    max_rows: int
    max_cell_chars: int
    max_line_bytes: int = _default("max_line_kb", 10)
    max_xlsx_expanded_bytes: int = _default("max_xlsx_expanded_mb", 20)
    max_xlsx_strings_bytes: int = _default("max_xlsx_strings_mb", 20)
    max_zip_ratio: int = _default("max_zip_ratio")

    @classmethod
    def from_settings(cls) -> ReadLimits:
        settings = get_settings()
        return cls(
            settings.max_file_mb << 20,
            settings.max_rows,
            settings.max_cell_chars,
            max_line_bytes=settings.max_line_kb << 10,
            max_xlsx_expanded_bytes=settings.max_xlsx_expanded_mb << 20,
            max_xlsx_strings_bytes=settings.max_xlsx_strings_mb << 20,
            max_zip_ratio=settings.max_zip_ratio,
        )


def _numbered(frame: pd.DataFrame, first_row: int) -> pd.DataFrame:
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = pd.RangeIndex(first_row, first_row + len(frame))
    return frame


def read_csv_chunks(
    path: Path, kind: FileKind, source: Source, name: str, chunk_rows: int, limits: ReadLimits
) -> Iterator[pd.DataFrame]:
    _check_lines(path, kind, name, limits)
    try:
        # every cell as the text the sender wrote: no type inference ('007' stays '007'; since pandas 3.1 even
        # dtype="category" infers numbers), and no words read as missing except an empty cell
        reader = pd.read_csv(
            path,
            dtype=object,
            encoding=kind.encoding,
            sep=kind.delimiter,
            chunksize=chunk_rows,
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
        )
        first = 2  # the header is row 1
        for chunk in reader:
            yield _numbered(chunk, first)
            first += len(chunk)
    except pd.errors.EmptyDataError:
        raise BadFileError(f"{name}: the file is empty. Send the file again with its header row and data.") from None
    except UnicodeDecodeError:
        raise decode_error(path, name, str(kind.encoding)) from None
    except pd.errors.ParserError as exc:
        raise BadFileError(
            f"{name}: the file cannot be read as text separated by {DELIMITERS.get(str(kind.delimiter), 'commas')} "
            f"({cut(str(exc).strip())}). Check that every row has the same number of columns and quotes are closed."
        ) from None


def _cell_text(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    text = str(value).strip()
    return text or None


def _open_workbook(path: Path, name: str, limits: ReadLimits) -> Workbook:
    try:
        # what it unpacks to is judged from the zip's directory before openpyxl reads a byte of it
        check_workbook(path, name, limits.max_xlsx_expanded_bytes, limits.max_xlsx_strings_bytes, limits.max_zip_ratio)
        # data_only: a formula cell gives the value Excel saved with it
        return load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise BadFileError(
            f"{name}: not a readable .xlsx workbook ({exc.__class__.__name__}). Save it from Excel "
            f"as 'Excel Workbook (.xlsx)' and send it again."
        ) from None


def _sheet(workbook: Workbook, title: str) -> ReadOnlyWorksheet:
    """A sheet read in full: read-only mode trusts the size a sheet declares (its <dimension>), and a wrong one
    would drop the rows and columns beyond it without a word."""
    sheet = workbook[title]
    sheet.reset_dimensions()
    return sheet


def _header(sheet: ReadOnlyWorksheet, row: int) -> list[str]:
    """The names in a sheet's header row."""
    values = next(sheet.iter_rows(min_row=row, max_row=row, values_only=True), ())
    return [text for value in values if value is not None and (text := str(value).strip())]


def _sheet_names(titles: list[str]) -> str:
    return listing([cut(title, NAME_CHARS) for title in titles])


def _data_sheet(workbook: Workbook, source: Source, name: str) -> ReadOnlyWorksheet:
    """The registered sheet; without one, the first sheet with the most of the source's columns in its header row
    (a cover or notes sheet has none of them)."""
    titles = [sheet.title for sheet in workbook.worksheets]
    if source.sheet:
        if source.sheet in titles:
            return _sheet(workbook, source.sheet)
        holding = [t for t in titles if _known_columns(_header(_sheet(workbook, t), source.header_row), source)]
        where = f" Sheet {quoted(holding[0])} has this source's columns: rename it {source.sheet!r}." if holding else ""
        raise BadFileError(
            f"{name}: the workbook has no sheet {source.sheet!r} (sheets found: {_sheet_names(titles)}).{where} Put "
            f"the data on a sheet named {source.sheet!r}."
        )
    headers = {title: _header(_sheet(workbook, title), source.header_row) for title in titles}
    known = {title: _known_columns(header, source) for title, header in headers.items()}
    best = max(titles, key=known.__getitem__, default=None)
    if best is None or not known[best]:
        tried = [f"{quoted(t)} ({listing([quoted(h) for h in headers[t]]) or 'empty'})" for t in titles]
        raise BadFileError(
            f"{name}: no sheet has this source's columns in row {source.header_row}; sheets tried, with what row "
            f"{source.header_row} holds: {listing(tried) or 'none'}. Put the data's header in row "
            f"{source.header_row} and send the file again."
        )
    return _sheet(workbook, best)


def _known_columns(header: list[str], source: Source) -> int:
    """How many of a header's names the source declares."""
    declared = declared_columns(source)
    return sum(1 for column in header if column in declared)


def read_xlsx_chunks(
    path: Path, kind: FileKind, source: Source, name: str, chunk_rows: int, limits: ReadLimits
) -> Iterator[pd.DataFrame]:
    workbook = _open_workbook(path, name, limits)
    try:
        sheet = _data_sheet(workbook, source, name)
        rows = sheet.iter_rows(min_row=source.header_row, values_only=True)
        header = next(rows, None)
        if header is None or all(h is None for h in header):
            raise BadFileError(f"{name}: sheet {sheet.title!r} has no header in row {source.header_row}.")
        width = max(i for i, h in enumerate(header) if h is not None) + 1
        columns = [str(h).strip() if h is not None else f"column_{i + 1}" for i, h in enumerate(header[:width])]
        buffer: list[list[object]] = []
        first = next_row = source.header_row + 1
        for values in rows:
            cells = [_cell_text(v) for v in values[:width]] + [None] * max(0, width - len(values))
            if any(c is not None for c in cells):
                if not buffer:
                    first = next_row
                buffer.append(cells)
                if len(buffer) >= chunk_rows:
                    yield _numbered(pd.DataFrame(buffer, columns=columns, dtype="string"), first)
                    buffer = []
            elif buffer:  # a blank row ends the table's current chunk; row numbers stay those of the sheet
                yield _numbered(pd.DataFrame(buffer, columns=columns, dtype="string"), first)
                buffer = []
            next_row += 1
        if buffer:
            yield _numbered(pd.DataFrame(buffer, columns=columns, dtype="string"), first)
        elif first == source.header_row + 1 and next_row == first:
            yield _numbered(pd.DataFrame(columns=columns, dtype="string"), first)
    finally:
        workbook.close()


def _json_cell(value: object, delimiter: str) -> str | None:
    """A JSON value as the text a CSV cell would hold: lists joined with the multi-select delimiter; a decimal
    number as Python's json module reads it (a float)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return delimiter.join(str(number(v)) for v in value)
    return json.dumps(value, default=number) if isinstance(value, dict) else str(number(value))


def _json_constant(word: str) -> str | None:
    """NaN, which Python and pandas write for a missing number, is missing; Infinity stays the word the sender
    wrote, which no number field takes (a row issue)."""
    return None if word == "NaN" else word


def _records_frame(records: list[dict], numbers: range | list[int], columns: list[str], source: Source) -> pd.DataFrame:
    cells = [{k: _json_cell(v, source.multi_select_delimiter) for k, v in r.items()} for r in records]
    frame = pd.DataFrame(cells, columns=columns, index=pd.Index(numbers), dtype="string")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def read_json_chunks(
    path: Path, kind: FileKind, source: Source, name: str, chunk_rows: int, limits: ReadLimits
) -> Iterator[pd.DataFrame]:
    """Records streamed from the document (tasks/ingest/json_stream.py: never read whole, each record within
    POP_MAX_LINE_KB), numbered from 1; the columns so far are every key seen so far, as for JSON Lines."""
    document = JsonDocument(path, str(kind.encoding), name, source.records_path, limits.max_line_bytes)
    columns: dict[str, None] = {}
    records: list[dict] = []
    first = 1
    try:
        for record in document.records():
            records.append(record)
            columns.update(dict.fromkeys(record))
            if len(records) >= chunk_rows:
                yield _records_frame(records, range(first, first + len(records)), list(columns), source)
                first, records = first + len(records), []
    except UnicodeDecodeError:
        raise decode_error(path, name, str(kind.encoding)) from None
    if records or first == 1:  # a document of no records gives one empty chunk: its header check names the lack
        yield _records_frame(records, range(first, first + len(records)), list(columns), source)


def _json_line(line: str, number: int, name: str) -> dict[str, Any]:
    try:
        record = json.loads(line, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        raise BadFileError(
            f"{name}: line {number:,} is not valid JSON ({exc.msg} at column {exc.colno}). Each line of a JSON Lines "
            f"file holds one record, an object."
        ) from None
    if not isinstance(record, dict):
        raise BadFileError(
            f"{name}: line {number:,} holds a {type(record).__name__}, not a record (an object). Each line of a JSON "
            f"Lines file holds one record."
        )
    return record


def read_json_lines_chunks(
    path: Path, kind: FileKind, source: Source, name: str, chunk_rows: int, limits: ReadLimits
) -> Iterator[pd.DataFrame]:
    """Records one per line, each numbered by its line; the columns so far are every key seen so far."""
    _check_lines(path, kind, name, limits)
    columns: dict[str, None] = {}
    records: list[dict] = []
    numbers: list[int] = []
    seen = False
    try:
        with path.open(encoding=kind.encoding) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                records.append(_json_line(line, number, name))
                numbers.append(number)
                columns.update(dict.fromkeys(records[-1]))
                if len(records) >= chunk_rows:
                    yield _records_frame(records, numbers, list(columns), source)
                    records, numbers, seen = [], [], True
    except UnicodeDecodeError:
        raise decode_error(path, name, str(kind.encoding)) from None
    if records:
        yield _records_frame(records, numbers, list(columns), source)
    elif not seen:
        raise BadFileError(f"{name}: the file is empty. Send the file again with its records, one per line.")


Reader = Callable[[Path, FileKind, Source, str, int, ReadLimits], Iterator[pd.DataFrame]]
READERS: dict[str, Reader] = {"csv": read_csv_chunks, "xlsx": read_xlsx_chunks, "json": read_json_chunks}


def _check_lines(path: Path, kind: FileKind, name: str, limits: ReadLimits) -> None:
    """Refuse text with a line longer than allowed before a parser buffers it (one scan of the file's bytes)."""
    line = first_long_line(path, limits.max_line_bytes, kind.encoding)
    if line is not None:
        raise long_line_error(name, line, limits.max_line_bytes)


def _too_much(name: str, what: str, setting: str) -> BadFileError:
    return BadFileError(
        f"{name}: the file {what} ({setting}). Nothing was loaded: split it into smaller files and send them."
    )


def read_chunks(path: Path, source: Source, name: str, chunk_rows: int, limits: ReadLimits) -> Iterator[pd.DataFrame]:
    """Chunks of the file as text, indexed by the row number each row has in the sent file; a file beyond the
    limits fails as a whole, never cut short."""
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_bytes:
        size_mb, limit_mb = size / 2**20, limits.max_bytes / 2**20
        raise _too_much(
            name, f"is {size_mb:,.1f} MB, more than the {limit_mb:,.0f} MB a file may be", "POP_MAX_FILE_MB"
        )
    kind = sniff(path, source, name)
    read = read_json_lines_chunks if kind.json_lines else READERS[kind.format]
    rows = 0
    for chunk in read(path, kind, source, name, chunk_rows, limits):
        rows += len(chunk)
        if rows > limits.max_rows:
            raise _too_much(name, f"has more than {limits.max_rows:,} rows, the most a file may have", "POP_MAX_ROWS")
        yield chunk
