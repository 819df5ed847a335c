"""Map a sender's columns and codes to ours, then convert types explicitly: a value that cannot be converted
becomes a row issue (and so goes to quarantine), never a silent null."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from pop.registry import Source
from schemas.spec import MULTI_KINDS, FieldSpec, SourceSchema
from schemas.vocabulary import normalise_text
from tasks.ingest.distinct import map_distinct, parse_distinct
from tasks.ingest.issues import RowIssues, hint

TRUE_WORDS = {"yes", "y", "true", "t", "1", "x", "oui", "si", "sim", "ja"}
FALSE_WORDS = {"no", "n", "false", "f", "0", "non", "nao", "nein"}
THOUSANDS = re.compile(r"^-?\d{1,3}(?:[,\u00a0' ]\d{3})+(?:\.\d+)?$")
PERIOD_PATTERNS = [
    (re.compile(r"^(\d{4})$"), "year"),
    (re.compile(r"^(\d{4})\s*[-/ ]?\s*q([1-4])$"), "quarter"),
    (re.compile(r"^q([1-4])\s*[-/ ]?\s*(\d{4})$"), "quarter_rev"),
    (re.compile(r"^(\d{4})\s*[-/ ]?\s*h([12])$"), "half"),
    (re.compile(r"^h([12])\s*[-/ ]?\s*(\d{4})$"), "half_rev"),
    (re.compile(r"^(\d{4})-(\d{2})$"), "month"),
]


class BadFileError(Exception):
    """The file as a whole cannot be used; the message names the file's problem and what to fix."""


def sender_names(source: Source) -> dict[str, str | None]:
    """Our field → the sender's column name (for reports in the sender's own words)."""
    names: dict[str, str | None] = {ours: sender for sender, ours in source.columns.items()}
    for ours, options in source.multi_select_columns.items():
        names[ours] = ", ".join(options)
    return names


def check_header(columns: list[str], source: Source, file_name: str) -> None:
    """Refuse a file whose header lacks a required column or has columns nobody declared."""
    schema = source.schema
    present = set(columns)
    provided = {ours for sender, ours in source.columns.items() if sender in present}
    provided |= {ours for ours, opts in source.multi_select_columns.items() if set(opts) <= present}
    provided |= set(source.defaults)
    missing = [f for f in schema.required_fields if f not in provided]
    if missing:
        wanted = {ours: sender for sender, ours in source.columns.items()}
        described = ", ".join(f"'{wanted.get(f, f)}' (for {f})" for f in missing)
        raise BadFileError(
            f"{file_name}: missing required column(s) {described}. Add the column(s) to the file "
            f"with a value in every row; columns found: {', '.join(columns) or 'none'}."
        )
    declared = set(source.columns) | set(source.ignore_columns)
    declared |= {col for opts in source.multi_select_columns.values() for col in opts}
    extra = [c for c in columns if c not in declared]
    if extra:
        raise BadFileError(
            f"{file_name}: unexpected column(s) {', '.join(repr(c) for c in extra)}. Remove them, or "
            f"ask the POP team to map them in the source registry (columns or ignore_columns)."
        )


def clean_text(column: pd.Series) -> pd.Series:
    """Strip spaces and treat blank cells as missing (once per distinct value); categorical, as text repeats."""
    return map_distinct(column, lambda value: str(value).strip() or None)


def _truthy(column: pd.Series) -> pd.Series:
    return column.fillna("").astype(str).str.strip().str.lower().isin(TRUE_WORDS)


def map_columns(raw: pd.DataFrame, source: Source) -> pd.DataFrame:
    """Our field names, the sender's codes replaced by ours, one-hot answers joined, defaults filled in."""
    schema = source.schema
    mapped = pd.DataFrame(index=raw.index)
    for sender, ours in source.columns.items():
        if sender in raw.columns:
            mapped[ours] = clean_text(raw[sender])
    for ours, options in source.multi_select_columns.items():
        chosen = pd.DataFrame({code: _truthy(raw[col]) for col, code in options.items()}, index=raw.index)
        mapped[ours] = (
            chosen.apply(lambda row: source.multi_select_delimiter.join(row.index[row]), axis=1)
            if len(chosen)
            else pd.Series(dtype="string")
        )
        mapped[ours] = clean_text(mapped[ours].astype("string"))
    for ours, codes in source.values.items():
        if ours in mapped.columns:
            lookup = {normalise_text(k): v for k, v in codes.items()}
            mapped[ours] = map_distinct(mapped[ours], lambda v: lookup.get(normalise_text(v), v))
    for name, spec in schema.fields.items():
        default = source.defaults.get(name, spec.default)
        if name not in mapped.columns:
            mapped[name] = pd.Series(pd.NA if default is None else str(default), index=raw.index, dtype="category")
        elif default is not None and mapped[name].isna().any():
            mapped[name] = mapped[name].astype("string").fillna(str(default)).astype("category")
    return mapped


def parse_number(value: str) -> float | None:
    """A number from a sender's text: 1200, 1,200, 16 200 000, 0.75; None when it is not one."""
    text = str(value).strip()
    if THOUSANDS.match(text):
        text = re.sub(r"[,\u00a0' ]", "", text)
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def parse_whole_number(value: str) -> int | None:
    number = parse_number(value)
    return int(number) if number is not None and number.is_integer() else None


def parse_yes_no(value: str) -> bool | None:
    word = str(value).strip().lower()
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None


def parse_date(value: str) -> pd.Timestamp | None:
    try:
        return pd.Timestamp(dt.datetime.strptime(str(value).strip(), "%Y-%m-%d"))
    except ValueError:
        return None


SIMPLE_KINDS = {  # kind → (parser, dtype, check when a value does not parse)
    "int": (parse_whole_number, "Int64", "not_a_whole_number"),
    "number": (parse_number, "Float64", "not_a_number"),
    "bool": (parse_yes_no, "boolean", "not_yes_no"),
    "date": (parse_date, "datetime64[us]", "not_a_date"),
}


def convert_simple(column: pd.Series, spec: FieldSpec, issues: RowIssues) -> pd.Series:
    """Convert a number, yes/no or date column; what does not convert is a row issue, with the value sent."""
    parse, dtype, check = SIMPLE_KINDS[spec.kind]
    frame, failed = parse_distinct(
        column, lambda value: (parsed,) if (parsed := parse(value)) is not None else None, {spec.name: dtype}
    )
    issues.add(column.index[failed], spec.name, check, column[failed], hint(check, spec.name))
    return frame[spec.name]


def parse_period(value: str) -> tuple[pd.Timestamp, pd.Timestamp, str] | None:
    """(start, end, granularity) of a period label like 2023, 2023-Q2, Q2 2023, 2023-H1 or 2023-05."""
    text = str(value).strip().lower()
    for pattern, form in PERIOD_PATTERNS:
        match = pattern.match(text)
        if not match:
            continue
        if form == "year":
            start, months, granularity = pd.Timestamp(int(match[1]), 1, 1), 12, "year"
        elif form in ("quarter", "quarter_rev"):
            year, q = (match[1], match[2]) if form == "quarter" else (match[2], match[1])
            start, months, granularity = pd.Timestamp(int(year), 3 * int(q) - 2, 1), 3, "quarter"
        elif form in ("half", "half_rev"):
            year, h = (match[1], match[2]) if form == "half" else (match[2], match[1])
            start, months, granularity = pd.Timestamp(int(year), 6 * int(h) - 5, 1), 6, "half"
        else:
            if not 1 <= int(match[2]) <= 12:
                return None
            start, months, granularity = pd.Timestamp(int(match[1]), int(match[2]), 1), 1, "month"
        if not 1990 <= start.year <= 2100:
            return None
        end = start + pd.DateOffset(months=months) - pd.Timedelta(days=1)
        return start, end, granularity
    return None


def period_label(start: pd.Timestamp, granularity: str) -> str:
    """The canonical label of a period: 2023, 2023-H1, 2023-Q2 or 2023-05."""
    if granularity == "year":
        return f"{start.year}"
    if granularity == "half":
        return f"{start.year}-H{(start.month - 1) // 6 + 1}"
    if granularity == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def convert_period(column: pd.Series, spec: FieldSpec, issues: RowIssues) -> pd.DataFrame:
    """The canonical period label with its start, end and granularity; unparseable periods are row issues."""

    def parse(value: str) -> tuple[str, pd.Timestamp, pd.Timestamp, str] | None:
        parsed = parse_period(value)
        return None if parsed is None else (period_label(parsed[0], parsed[2]), *parsed)

    frame, failed = parse_distinct(
        column,
        parse,
        {
            "period": "category",
            "period_start": "datetime64[us]",
            "period_end": "datetime64[us]",
            "period_granularity": "category",
        },
    )
    issues.add(column.index[failed], spec.name, "bad_period", column[failed], hint("bad_period", spec.name))
    return frame


def convert_types(mapped: pd.DataFrame, schema: SourceSchema, issues: RowIssues) -> pd.DataFrame:
    """A typed frame: numbers, booleans, dates and periods converted; other kinds passed on as text."""
    typed = pd.DataFrame(index=mapped.index)
    for name, spec in schema.fields.items():
        column = mapped[name]
        if spec.kind in SIMPLE_KINDS:
            typed[name] = convert_simple(column, spec, issues)
        elif spec.kind == "period":
            typed = pd.concat([typed, convert_period(column, spec, issues)], axis=1)
        elif spec.kind in MULTI_KINDS:
            typed[name] = column
        else:
            typed[name] = column
    return typed
