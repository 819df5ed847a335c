"""Shared pieces of the demo generator: tables of sender rows, seeded defects, writers and the ground truth."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from openpyxl import Workbook

FIXED_ZIP_TIME = (2024, 1, 1, 0, 0, 0)
FIXED_XLSX_STAMP = "2024-01-01T00:00:00Z"
NATURAL_KEY = "natural_key"


@dataclass
class Row:
    """One data row as the sender writes it; `fields` names our fields that a seeded defect breaks."""

    values: dict[str, Any]
    fields: list[str] = field(default_factory=list)
    locked: bool = False  # the original of a seeded duplicate: it must stay clean


@dataclass
class Table:
    """One sender file's rows under its own column names."""

    columns: list[str]
    rows: list[Row] = field(default_factory=list)

    def add(self, values: dict[str, Any]) -> None:
        """Append a clean row (columns the dict lacks stay empty)."""
        self.rows.append(Row({col: values.get(col) for col in self.columns}))

    def clean_indices(self) -> list[int]:
        """Positions of rows that carry no defect and are not the original of a duplicate."""
        return [i for i, row in enumerate(self.rows) if not row.fields and not row.locked]


def spoil(
    table: Table,
    rng: np.random.Generator,
    changes: dict[str, Any],
    fields: list[str],
    where: Callable[[dict[str, Any]], bool] = lambda values: True,
) -> Row:
    """Seed a defect: overwrite `changes` in a randomly chosen clean row (that `where` accepts) and record the
    broken `fields`."""
    candidates = [i for i in table.clean_indices() if where(table.rows[i].values)]
    row = table.rows[int(rng.choice(candidates))]
    row.values.update(changes)
    row.fields = list(fields)
    return row


def duplicate(table: Table, rng: np.random.Generator) -> Row:
    """Seed a repeated natural key: copy a clean row to a later position; the copy is the defective one."""
    clean = table.clean_indices()
    original = int(rng.choice(clean[: max(1, len(clean) // 2)]))
    table.rows[original].locked = True
    copy = Row(dict(table.rows[original].values), [NATURAL_KEY])
    table.rows.insert(int(rng.integers(original + 1, len(table.rows) + 1)), copy)
    return copy


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def csv_bytes(table: Table, delimiter: str = ",", encoding: str = "utf-8", newline: str = "\n") -> bytes:
    """The table as CSV bytes in the sender's encoding, delimiter and line ending."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_cell(row.values[col]) for col in table.columns])
    return buffer.getvalue().encode(encoding)


def json_bytes(table: Table, records_key: str, meta: dict[str, Any]) -> bytes:
    """The table as a JSON document {meta..., records_key: [ {column: value}, ... ]}."""
    records = [{col: row.values[col] for col in table.columns} for row in table.rows]
    return (json.dumps({**meta, records_key: records}, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _stable_zip(raw: bytes) -> bytes:
    """Re-zip an xlsx with fixed timestamps so the same workbook gives the same bytes on every run."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                    rb"\g<1>" + FIXED_XLSX_STAMP.encode() + rb"\2",
                    data,
                )
            stable = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            stable.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(stable, data)
    return out.getvalue()


def xlsx_bytes(about: list[tuple[str, str]], sheet: str, title: str, table: Table) -> bytes:
    """A workbook with a cover sheet 'About' and the data sheet: title in row 1, header in row 3, data below."""
    book = Workbook()
    cover = book.active
    cover.title = "About"
    for line in about:
        cover.append(list(line))
    data = book.create_sheet(sheet)
    data.append([title])
    data.append([])
    data.append(table.columns)
    for row in table.rows:
        data.append([row.values[col] for col in table.columns])
    book.properties.creator = "demo generator"
    raw = io.BytesIO()
    book.save(raw)
    return _stable_zip(raw.getvalue())


@dataclass
class GroundTruth:
    """What ingesting the bundled inbox once must give: quarantined rows, file outcomes, per-file counts."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def loaded(self, source: str, file_name: str, table: Table, first_row: int) -> None:
        """Record a file that loads: its defective rows (numbered as the sender sees them) and its counts."""
        bad = [(first_row + i, row.fields) for i, row in enumerate(table.rows) if row.fields]
        self.rows += [{"source": source, "file": file_name, "row": n, "fields": f} for n, f in bad]
        self.counts.setdefault(source, {})[file_name] = {
            "rows_in": len(table.rows),
            "rows_loaded": len(table.rows) - len(bad),
            "rows_quarantined": len(bad),
        }

    def refused(self, source: str, file_name: str, column: str) -> None:
        """Record a file refused as a whole for a missing required column."""
        self.files.append(
            {"source": source, "file": file_name, "status": "failed", "reason": "missing_column", "column": column}
        )

    def resent(self, source: str, file_name: str, duplicate_of: str) -> None:
        """Record a file that repeats another file byte for byte."""
        self.files.append({"source": source, "file": file_name, "status": "duplicate", "duplicate_of": duplicate_of})

    def to_yaml(self) -> str:
        """The ground truth as YAML, one flow-style line per quarantined row or file outcome."""

        def line(item: dict[str, Any]) -> str:
            return "  - " + yaml.safe_dump(item, default_flow_style=True, sort_keys=False, width=10_000).strip()

        rows = sorted(self.rows, key=lambda r: (r["source"], r["file"], r["row"]))
        parts = [
            "# Ground truth for the bundled demo inbox (written by `python -m demo.generate demo`; do not edit).",
            "# row: the 1-based row number a spreadsheet shows (CSV header = row 1; xlsx: the sheet's row;",
            "# JSON: the record's 1-based index). natural_key: the row repeats an earlier row's natural key.",
            "rows:",
            *map(line, rows),
            "files:",
            *map(line, self.files),
            "# counts: files that are ingested (refused and duplicate files are under files: and load nothing).",
            yaml.safe_dump({"counts": self.counts}, sort_keys=True, default_flow_style=False).strip(),
        ]
        return "\n".join(parts) + "\n"


def write(path: Path, data: bytes) -> None:
    """Write bytes, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
