"""Map a sender's columns and codes to ours, then convert types explicitly: a value that cannot be converted
becomes a row issue (and so goes to quarantine), never a silent null."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pop.registry import Source
from pop.settings import get_settings
from schemas.kinds import ParseOptions
from schemas.spec import FieldSpec, SourceSchema
from schemas.values import TRUE_WORDS
from schemas.vocabulary import Additions, normalise_text
from tasks.ingest.distinct import map_distinct, parse_distinct
from tasks.ingest.issues import RowIssues, hint
from tasks.ingest.outsized import CUT_MARK, NAME_CHARS, cut, listing, quoted

TOO_LONG = (
    "{field} has a cell longer than a cell may be, at most {max} characters; a longer one most often comes from a "
    "broken export (a quote left open takes in the rows after it) or pasted text. Shorten the text, or check the "
    "export and send the file again."
)
CUT_CELL = (
    "{field} has the cell POP cut when it exported the row, as it ends with POP's mark '… [cut by POP: …]'. Put back "
    "the text in full, at most {max} characters."
)


class BadFileError(Exception):
    """The file as a whole cannot be used; the message names the file's problem and what to fix."""


def sender_names(source: Source) -> dict[str, str | None]:
    """Our field → the sender's column name (for reports in the sender's own words)."""
    names: dict[str, str | None] = dict(source.field_columns)
    for ours, options in source.multi_select_columns.items():
        names[ours] = ", ".join(options)
    return names


def declared_columns(source: Source) -> set[str]:
    """The sender's columns the registry knows: mapped, one-hot options, or ignored."""
    declared = set(source.columns) | set(source.ignore_columns)
    return declared | {col for opts in source.multi_select_columns.values() for col in opts}


def check_header(columns: list[str], source: Source, file_name: str) -> None:
    """Refuse a file whose header lacks a required column or has columns nobody declared."""
    schema = source.schema
    present = set(columns)
    provided = {ours for ours, sender in source.field_columns.items() if sender in present}
    provided |= {ours for ours, opts in source.multi_select_columns.items() if set(opts) <= present}
    provided |= set(source.given_defaults)
    missing = [f for f in schema.required_fields if f not in provided]
    if missing:
        wanted = source.field_columns
        described = listing([f"'{wanted.get(f, f)}' (for {f})" for f in missing])
        found = listing([cut(c, NAME_CHARS) for c in columns])
        raise BadFileError(
            f"{file_name}: missing required column(s) {described}. Add the column(s) to the file "
            f"with a value in every row; columns found: {found or 'none'}."
        )
    declared = declared_columns(source)
    extra = [c for c in columns if c not in declared]
    if extra:
        raise BadFileError(
            f"{file_name}: unexpected column(s) {listing([quoted(c) for c in extra])}. Remove them and send the "
            f"file again; if they belong in it, tell us what they hold."
        )


def flag_outsized_cells(mapped: pd.DataFrame, issues: RowIssues, max_chars: int) -> None:
    """Hold back a row with a cell longer than any cell may be (it would load megabytes of one cell, most often
    from a broken export), or with a cell POP cut when it exported the row, which must come back whole."""
    for name in mapped.columns:
        codes, values = pd.factorize(mapped[name])
        texts = [str(value) for value in values]
        for check, bad, message in (
            ("cell_too_long", [len(t) > max_chars for t in texts], TOO_LONG),
            ("cut_cell", [CUT_MARK in t for t in texts], CUT_CELL),
        ):
            rows = np.array([*bad, False])[codes]  # the code of a missing cell, -1, picks the False
            if rows.any():
                sent = np.array([*texts, None], dtype=object)[codes[rows]]  # cut where stored and reported
                reason = hint(check, issues.column(name), fallback=message, max=f"{max_chars:,}")
                issues.add(mapped.index[rows], name, check, list(sent), reason)


def clean_text(column: pd.Series) -> pd.Series:
    """Strip spaces and treat blank cells as missing (once per distinct value); categorical, as text repeats."""
    return map_distinct(column, lambda value: str(value).strip() or None)


def _truthy(column: pd.Series) -> pd.Series:
    return column.fillna("").astype(str).str.strip().str.lower().isin(TRUE_WORDS)


def parse_options(source: Source, as_of: dt.date | None = None, additions: Additions | None = None) -> ParseOptions:
    """How a source writes its values, judged on `as_of` (default: the settings' as-of date, else today), with the
    names added to the vocabularies in the warehouse."""
    return ParseOptions(
        as_of=as_of or get_settings().as_of or dt.date.today(),
        delimiter=source.multi_select_delimiter,
        decimal=source.decimal,
        additions=additions or Additions(),
        adds_names=frozenset(source.adds_names_of),
    )


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
    given = source.given_defaults
    for name, spec in schema.fields.items():
        default = given.get(name, spec.default)
        if name not in mapped.columns:
            mapped[name] = pd.Series(pd.NA if default is None else str(default), index=raw.index, dtype="category")
        elif default is not None and mapped[name].isna().any():
            mapped[name] = mapped[name].astype("string").fillna(str(default)).astype("category")
    return mapped


def parse_field(column: pd.Series, spec: FieldSpec, issues: RowIssues, options: ParseOptions) -> pd.DataFrame:
    """The field's kind applied to each distinct value, as the source writes values: its output columns; a value
    that does not parse, or cannot be true, is a row issue (its check, with the check's plain-language hint)."""
    kind = spec.field_kind
    frame, failures, shown = parse_distinct(column, kind.parser(spec, options), kind.outputs(spec), str(kind.failure))
    if kind.multi:  # a cell with no answer is an empty list of codes
        frame[spec.name] = frame[spec.name].map(lambda codes: codes if isinstance(codes, list) else [])
    params = kind.hint_params(spec, options)
    for check, failed in failures.items():
        reason = hint(check, issues.column(spec.name), **params)
        issues.add(column.index[failed], spec.name, check, shown[failed], reason)
    return frame


def convert_types(mapped: pd.DataFrame, schema: SourceSchema, issues: RowIssues, options: ParseOptions) -> pd.DataFrame:
    """A typed frame: numbers, booleans, dates and periods converted (as the source writes them); other kinds passed
    on as text."""
    parts = []
    for name, spec in schema.fields.items():
        if spec.field_kind.phase == "convert":
            parts.append(parse_field(mapped[name], spec, issues, options))
        else:
            parts.append(mapped[[name]])
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=mapped.index)
