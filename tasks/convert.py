"""Map a sender's columns and codes to ours, then convert types explicitly: a value that cannot be converted
becomes a row issue (and so goes to quarantine), never a silent null."""

from __future__ import annotations

import re

import pandas as pd

from schemas.spec import MULTI_KINDS, FieldSpec, SourceSchema
from schemas.vocabulary import normalise_text
from tasks.issues import RowIssues, hint
from tasks.registry import Source

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
        raise BadFileError(f"{file_name}: missing required column(s) {described}. Add the column(s) to the file "
                           f"with a value in every row; columns found: {', '.join(columns) or 'none'}.")
    declared = set(source.columns) | set(source.ignore_columns)
    declared |= {col for opts in source.multi_select_columns.values() for col in opts}
    extra = [c for c in columns if c not in declared]
    if extra:
        raise BadFileError(f"{file_name}: unexpected column(s) {', '.join(repr(c) for c in extra)}. Remove them, or "
                           f"ask the POP team to map them in the source registry (columns or ignore_columns).")


def clean_text(column: pd.Series) -> pd.Series:
    """Strip spaces and treat blank cells as missing, working once per distinct value."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    cleaned = pd.Series(uniques, dtype="string").str.strip().replace("", pd.NA)
    values = cleaned.array.take(codes, allow_fill=True)
    return pd.Series(values, index=column.index, dtype="string")


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
        mapped[ours] = chosen.apply(lambda row: source.multi_select_delimiter.join(row.index[row]), axis=1) \
            if len(chosen) else pd.Series(dtype="string")
        mapped[ours] = mapped[ours].astype("string").replace("", pd.NA)
    for ours, codes in source.values.items():
        if ours in mapped.columns:
            lookup = {normalise_text(k): v for k, v in codes.items()}
            mapped[ours] = _unique_map(mapped[ours], lambda v: lookup.get(normalise_text(v), v)) \
                .reindex(mapped.index).astype("string")
    for name, spec in schema.fields.items():
        default = source.defaults.get(name, spec.default)
        if name not in mapped.columns:
            mapped[name] = pd.Series(pd.NA if default is None else str(default), index=raw.index, dtype="string")
        elif default is not None:
            mapped[name] = mapped[name].fillna(str(default))
    return mapped


def _unique_map(column: pd.Series, parse) -> pd.Series:  # type: ignore[no-untyped-def]
    """Apply `parse` once per distinct value (fast on columns with few distinct values)."""
    present = column.dropna()
    uniques = present.unique()
    table = {value: parse(value) for value in uniques}
    return present.map(table)


def _to_number(column: pd.Series) -> pd.Series:
    """Numbers from text; thousands separators (1,200 or 16 200 000) are accepted where plain parsing fails."""
    numbers = pd.to_numeric(column, errors="coerce")
    retry = column.notna() & numbers.isna()
    if retry.any():
        text = column[retry].astype("string").str.strip()
        grouped = text.str.fullmatch(THOUSANDS.pattern).fillna(False).astype(bool)
        numbers[text.index[grouped]] = pd.to_numeric(
            text[grouped].str.replace(r"[,\u00a0' ]", "", regex=True), errors="coerce")
    return numbers


def convert_int(column: pd.Series, spec: FieldSpec, issues: RowIssues) -> pd.Series:
    numbers = _to_number(column)
    bad = column.notna() & (numbers.isna() | (numbers.notna() & (numbers % 1 != 0)))
    issues.add(column.index[bad], spec.name, "not_a_whole_number", column[bad], hint("not_a_whole_number", spec.name))
    return numbers.where(~bad).astype("Int64")


def convert_number(column: pd.Series, spec: FieldSpec, issues: RowIssues) -> pd.Series:
    numbers = _to_number(column).astype("Float64")
    bad = column.notna() & numbers.isna()
    issues.add(column.index[bad], spec.name, "not_a_number", column[bad], hint("not_a_number", spec.name))
    return numbers


def convert_bool(column: pd.Series, spec: FieldSpec, issues: RowIssues) -> pd.Series:
    words = column.astype("string").str.strip().str.lower()
    result = pd.Series(pd.NA, index=column.index, dtype="boolean")
    result[words.isin(TRUE_WORDS).fillna(False).astype(bool)] = True
    result[words.isin(FALSE_WORDS).fillna(False).astype(bool)] = False
    bad = column.notna() & result.isna()
    issues.add(column.index[bad], spec.name, "not_yes_no", column[bad], hint("not_yes_no", spec.name))
    return result


def convert_date(column: pd.Series, spec: FieldSpec, issues: RowIssues) -> pd.Series:
    dates = pd.to_datetime(column, format="%Y-%m-%d", errors="coerce").astype("datetime64[us]")
    bad = column.notna() & dates.isna()
    issues.add(column.index[bad], spec.name, "not_a_date", column[bad], hint("not_a_date", spec.name))
    return dates


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
    parsed = _unique_map(column, parse_period)
    bad = parsed.isna().reindex(column.index, fill_value=False) & column.notna()
    issues.add(column.index[bad], spec.name, "bad_period", column[bad], hint("bad_period", spec.name))
    ok = parsed.dropna()
    frame = pd.DataFrame(index=column.index)
    frame["period"] = pd.Series(pd.NA, index=column.index, dtype="string")
    if len(ok):
        frame.loc[ok.index, "period"] = [period_label(p[0], p[2]) for p in ok]
    frame["period_start"] = pd.Series(pd.NaT, index=column.index, dtype="datetime64[us]")
    frame["period_end"] = pd.Series(pd.NaT, index=column.index, dtype="datetime64[us]")
    frame["period_granularity"] = pd.Series(pd.NA, index=column.index, dtype="string")
    if len(ok):
        frame.loc[ok.index, "period_start"] = [p[0] for p in ok]
        frame.loc[ok.index, "period_end"] = [p[1] for p in ok]
        frame.loc[ok.index, "period_granularity"] = [p[2] for p in ok]
    return frame


CONVERTERS = {"int": convert_int, "number": convert_number, "bool": convert_bool, "date": convert_date}


def convert_types(mapped: pd.DataFrame, schema: SourceSchema, issues: RowIssues) -> pd.DataFrame:
    """A typed frame: numbers, booleans, dates and periods converted; other kinds passed on as text."""
    typed = pd.DataFrame(index=mapped.index)
    for name, spec in schema.fields.items():
        column = mapped[name]
        if spec.kind in CONVERTERS:
            typed[name] = CONVERTERS[spec.kind](column, spec, issues)
        elif spec.kind == "period":
            typed = pd.concat([typed, convert_period(column, spec, issues)], axis=1)
        elif spec.kind in MULTI_KINDS:
            typed[name] = column
        else:
            typed[name] = column.astype("string")
    return typed

