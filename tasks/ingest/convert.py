"""Map a sender's columns and codes to ours, then convert types explicitly: a value that cannot be converted
becomes a row issue (and so goes to quarantine), never a silent null."""

from __future__ import annotations

import pandas as pd

from pop.registry import Source
from schemas.spec import FieldSpec, SourceSchema
from schemas.values import TRUE_WORDS
from schemas.vocabulary import normalise_text
from tasks.ingest.distinct import map_distinct, parse_distinct
from tasks.ingest.issues import RowIssues, hint


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
            mapped[ours] = map_distinct(mapped[ours], lambda v, lookup=lookup: lookup.get(normalise_text(v), v))
    for name, spec in schema.fields.items():
        default = source.defaults.get(name, spec.default)
        if name not in mapped.columns:
            mapped[name] = pd.Series(pd.NA if default is None else str(default), index=raw.index, dtype="category")
        elif default is not None and mapped[name].isna().any():
            mapped[name] = mapped[name].astype("string").fillna(str(default)).astype("category")
    return mapped


def parse_field(column: pd.Series, spec: FieldSpec, issues: RowIssues, delimiter: str) -> pd.DataFrame:
    """The field's kind applied to each distinct value: its output columns; a value that does not parse is a row
    issue (the kind's failure check, with its plain-language hint)."""
    kind = spec.field_kind
    frame, failed, shown = parse_distinct(column, kind.parser(spec, delimiter), kind.outputs(spec))
    if kind.multi:  # a cell with no answer is an empty list of codes
        frame[spec.name] = frame[spec.name].map(lambda codes: codes if isinstance(codes, list) else [])
    issues.add(
        column.index[failed],
        spec.name,
        kind.failure,
        shown[failed],
        hint(kind.failure, spec.name, **kind.hint_params(spec)),
    )
    return frame


def convert_types(mapped: pd.DataFrame, schema: SourceSchema, issues: RowIssues) -> pd.DataFrame:
    """A typed frame: numbers, booleans, dates and periods converted; other kinds passed on as text."""
    parts = []
    for name, spec in schema.fields.items():
        if spec.field_kind.phase == "convert":
            parts.append(parse_field(mapped[name], spec, issues, delimiter=""))
        else:
            parts.append(mapped[[name]])
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=mapped.index)
