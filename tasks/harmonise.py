"""Harmonise: the sender's words → one shared language (ISO countries, canonical companies and platforms,
vocabulary codes, age bands with POP bands). What cannot be harmonised becomes a row issue."""

from __future__ import annotations

import re

import pandas as pd

from schemas.spec import FieldSpec, SourceSchema
from schemas.vocabulary import vocabulary
from tasks.countries import resolve_country
from tasks.issues import RowIssues, hint

AGE_RANGE = re.compile(r"^(\d{1,3})\s*(?:-|–|to)\s*(\d{1,3})$")
AGE_PLUS = re.compile(r"^(\d{1,3})\s*\+$|^(?:over|above)\s*(\d{1,3})$")
AGE_UNDER = re.compile(r"^(?:<|under|below)\s*(\d{1,3})$")
AGE_SINGLE = re.compile(r"^(\d{1,3})$")
UNKNOWN_AGE = {"unknown", "not known", "n/k", "unk", "not recorded", "unspecified"}
MAX_AGE = 120


def _allowed(vocab: str, limit: int = 12) -> str:
    codes = vocabulary(vocab).codes
    return ", ".join(codes[:limit]) + (", …" if len(codes) > limit else "")


def parse_age_band(value: str) -> tuple[int | None, int | None] | None:
    """(age_min, age_max) of a band such as 13-15, 25+, under 10, 14 or unknown; None when it is not a band."""
    text = str(value).strip().lower()
    if text in UNKNOWN_AGE:
        return (None, None)
    if match := AGE_RANGE.match(text):
        low, high = int(match[1]), int(match[2])
        return (low, high) if low <= high <= MAX_AGE else None
    if match := AGE_PLUS.match(text):
        low = int(match[1] or match[2])
        return (low, None) if low <= MAX_AGE else None
    if match := AGE_UNDER.match(text):
        return (0, int(match[1]) - 1) if 0 < int(match[1]) <= MAX_AGE else None
    if match := AGE_SINGLE.match(text):
        return (int(match[1]), int(match[1])) if int(match[1]) <= MAX_AGE else None
    return None


def age_band_label(age_min: int | None, age_max: int | None) -> str:
    """The canonical text of a band: 13-15, 25+, 14 or unknown."""
    if age_min is None:
        return "unknown"
    if age_max is None:
        return f"{age_min}+"
    return f"{age_min}" if age_min == age_max else f"{age_min}-{age_max}"


def pop_age_band(age_min: int | None, age_max: int | None) -> str:
    """The POP band holding the whole source band: 'unknown' without ages, 'mixed' when it spans several."""
    if age_min is None:
        return "unknown"
    for code, entry in vocabulary("pop_age_band").entries.items():
        low, high = entry.get("age_min"), entry.get("age_max")
        if low is None:
            continue
        if low <= age_min and (high is None or (age_max is not None and age_max <= high)):
            return code
    return "mixed"


def _resolve_unique(column: pd.Series, resolve) -> pd.Series:  # type: ignore[no-untyped-def]
    present = column.dropna()
    table = {value: resolve(value) for value in present.unique()}
    return present.map(table).reindex(column.index)


def harmonise_vocab(column: pd.Series, spec: FieldSpec, issues: RowIssues) -> pd.Series:
    codes = _resolve_unique(column, vocabulary(spec.vocab).resolve)
    bad = column.notna() & codes.isna()
    issues.add(column.index[bad], spec.name, "unknown_code", column[bad],
               hint("unknown_code", spec.name, allowed=_allowed(spec.vocab)))
    return codes.astype("string")


def harmonise_country(column: pd.Series, spec: FieldSpec, issues: RowIssues) -> pd.Series:
    codes = _resolve_unique(column, resolve_country)
    bad = column.notna() & codes.isna()
    issues.add(column.index[bad], spec.name, "unknown_country", column[bad], hint("unknown_country", spec.name))
    return codes.astype("string")


def harmonise_named(column: pd.Series, spec: FieldSpec, issues: RowIssues, vocab: str, check: str) -> pd.Series:
    codes = _resolve_unique(column, vocabulary(vocab).resolve)
    bad = column.notna() & codes.isna()
    issues.add(column.index[bad], spec.name, check, column[bad], hint(check, spec.name))
    return codes.astype("string")


def _split(cell: str, delimiter: str) -> list[str]:
    return [token.strip() for token in re.split(f"[{re.escape(delimiter)}|]", str(cell)) if token.strip()]


def harmonise_multi(column: pd.Series, spec: FieldSpec, issues: RowIssues, delimiter: str) -> pd.Series:
    """Each cell → a list of codes; a cell with any unknown option is a row issue naming the unknown options."""
    resolve = resolve_country if spec.kind == "countries" else vocabulary(spec.vocab).resolve

    def parse(cell: str) -> tuple[list[str], list[str]]:
        tokens = _split(cell, delimiter)
        codes = [resolve(token) for token in tokens]
        return list(dict.fromkeys(c for c in codes if c)), [t for t, c in zip(tokens, codes) if not c]

    parsed = _resolve_unique(column, parse)
    unknown = parsed.dropna().map(lambda p: p[1])
    bad_index = unknown.index[unknown.map(len) > 0]
    check = "unknown_country" if spec.kind == "countries" else "unknown_code"
    params = {} if spec.kind == "countries" else {"allowed": _allowed(spec.vocab)}
    issues.add(bad_index, spec.name, check, unknown.loc[bad_index].map("; ".join), hint(check, spec.name, **params))
    return parsed.map(lambda p: p[0] if isinstance(p, tuple) else [])


def harmonise_age_band(column: pd.Series, spec: FieldSpec, issues: RowIssues) -> pd.DataFrame:
    parsed = _resolve_unique(column, parse_age_band)
    bad = column.notna() & parsed.isna()
    issues.add(column.index[bad], spec.name, "bad_age_band", column[bad], hint("bad_age_band", spec.name))
    ok = parsed.dropna()
    frame = pd.DataFrame(index=column.index)
    frame["age_band"] = ok.map(lambda p: age_band_label(*p)).reindex(column.index).astype("string")
    frame["age_min"] = pd.Series(pd.array([p[0] for p in ok], dtype="Int64"), index=ok.index).reindex(column.index)
    frame["age_max"] = pd.Series(pd.array([p[1] for p in ok], dtype="Int64"), index=ok.index).reindex(column.index)
    bands = {p: pop_age_band(*p) for p in set(ok)}
    frame["pop_age_band"] = ok.map(bands).reindex(column.index).astype("string")
    return frame


def harmonise(typed: pd.DataFrame, schema: SourceSchema, issues: RowIssues, delimiter: str) -> pd.DataFrame:
    """The harmonised frame: every field in our codes, with the columns the warehouse stores."""
    out = pd.DataFrame(index=typed.index)
    for name, spec in schema.fields.items():
        if spec.kind == "period":
            for col in ("period", "period_start", "period_end", "period_granularity"):
                out[col] = typed[col]
        elif spec.kind == "country":
            out["country_iso3"] = harmonise_country(typed[name], spec, issues)
        elif spec.kind == "vocab":
            out[name] = harmonise_vocab(typed[name], spec, issues)
        elif spec.kind in ("multi", "countries"):
            out[name] = harmonise_multi(typed[name], spec, issues, delimiter)
        elif spec.kind == "age_band":
            out = pd.concat([out, harmonise_age_band(typed[name], spec, issues)], axis=1)
        elif spec.kind == "company":
            out["company_code"] = harmonise_named(typed[name], spec, issues, "company", "unknown_company")
            out["company_reported"] = typed[name]
        elif spec.kind == "platform":
            out[f"{name}_code"] = harmonise_named(typed[name], spec, issues, "platform", "unknown_platform")
            out[f"{name}_reported"] = typed[name]
        else:
            out[name] = typed[name]
    return out
