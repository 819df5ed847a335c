"""Extract: find a source's files, land them immutably (content-addressed by sha256), and read them in chunks
as text, with the row number each row has in the file the sender sent."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from pop.contracts import IncomingFile
from pop.registry import Source
from tasks.ingest.convert import BadFileError

ROW_NUMBER = "__row_number__"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discover_files(source: Source, inbox: Path) -> list[IncomingFile]:
    """The files in the inbox that match the source's glob, in name order."""
    paths = sorted(p for p in Path(inbox).glob(source.files) if p.is_file() and not p.name.startswith("."))
    return [IncomingFile(p, sha256_of(p), p.stat().st_size) for p in paths]


def land(incoming: IncomingFile, source: Source, landing_dir: Path) -> Path:
    """Copy the file to landing/<source>/<sha256><suffix>, read-only; an already landed copy is kept as it is."""
    target = Path(landing_dir) / source.id / f"{incoming.sha256}{incoming.path.suffix.lower()}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".partial")
        shutil.copyfile(incoming.path, partial)
        partial.chmod(0o444)
        partial.replace(target)
    return target


def _numbered(frame: pd.DataFrame, first_row: int) -> pd.DataFrame:
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = pd.RangeIndex(first_row, first_row + len(frame))
    return frame


def read_csv_chunks(path: Path, source: Source, name: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    with path.open("rb") as handle:
        head = handle.read(8192)
    if b"\x00" in head:
        kind = "an xlsx workbook or zip archive" if head.startswith(b"PK") else "a binary file"
        raise BadFileError(
            f"{name}: not a text file (it looks like {kind}). Export the data as CSV text and send it again."
        )
    try:
        # every cell as the text the sender wrote: no type inference ('007' stays '007'; since pandas 3.1 even
        # dtype="category" infers numbers), and no words read as missing except an empty cell
        reader = pd.read_csv(
            path,
            dtype=object,
            encoding=source.encoding,
            sep=source.delimiter,
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
    except UnicodeDecodeError as exc:
        raise BadFileError(
            f"{name}: the file is not valid {source.encoding} text (byte {exc.object[exc.start]:#04x} "
            f"at position {exc.start}). Save it as {source.encoding} (for example 'CSV UTF-8' in "
            f"Excel), or ask the POP team to register the encoding you use."
        ) from None
    except pd.errors.ParserError as exc:
        raise BadFileError(
            f"{name}: the file cannot be read as {source.delimiter!r}-separated CSV ({str(exc).strip()}). Check "
            f"that every row has the same number of columns and quotes are closed."
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


def read_xlsx_chunks(path: Path, source: Source, name: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise BadFileError(
            f"{name}: not a readable .xlsx workbook ({exc.__class__.__name__}). Save it from Excel "
            f"as 'Excel Workbook (.xlsx)' and send it again."
        ) from None
    try:
        if source.sheet not in workbook.sheetnames:
            raise BadFileError(
                f"{name}: the workbook has no sheet {source.sheet!r} (sheets found: "
                f"{', '.join(workbook.sheetnames)}). Put the data on a sheet named {source.sheet!r}."
            )
        rows = workbook[source.sheet].iter_rows(min_row=source.header_row, values_only=True)
        header = next(rows, None)
        if header is None or all(h is None for h in header):
            raise BadFileError(f"{name}: sheet {source.sheet!r} has no header in row {source.header_row}.")
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
    """A JSON value as the text a CSV cell would hold: lists joined with the multi-select delimiter."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return delimiter.join(str(v) for v in value)
    return json.dumps(value) if isinstance(value, dict) else str(value)


def read_json_chunks(path: Path, source: Source, name: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    try:
        text = path.read_text(encoding=source.encoding)
    except UnicodeDecodeError:
        raise BadFileError(f"{name}: the file is not valid {source.encoding} text. Save it as UTF-8.") from None
    if not text.strip():
        raise BadFileError(f"{name}: the file is empty. Send the file again with its records.")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadFileError(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).") from None
    records = doc
    if source.records_path:
        if not isinstance(doc, dict) or source.records_path not in doc:
            raise BadFileError(
                f"{name}: JSON of the wrong shape: expected an object with a {source.records_path!r} "
                f"list of records, found {type(doc).__name__}"
                + (f" with keys {', '.join(doc)}" if isinstance(doc, dict) else "")
                + "."
            )
        records = doc[source.records_path]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        where = f"under {source.records_path!r}" if source.records_path else "at the top level"
        raise BadFileError(f"{name}: JSON of the wrong shape: expected a list of records (objects) {where}.")
    columns = list(dict.fromkeys(key for record in records for key in record))
    for start in range(0, max(len(records), 1), chunk_rows):
        part = [
            {k: _json_cell(v, source.multi_select_delimiter) for k, v in r.items()}
            for r in records[start : start + chunk_rows]
        ]
        frame = pd.DataFrame(part, columns=columns, dtype="string")
        yield _numbered(frame, start + 1)


READERS = {"csv": read_csv_chunks, "xlsx": read_xlsx_chunks, "json": read_json_chunks}


def read_chunks(path: Path, source: Source, name: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Chunks of the file as text, indexed by the row number each row has in the sent file."""
    return READERS[source.format](path, source, name, chunk_rows)
