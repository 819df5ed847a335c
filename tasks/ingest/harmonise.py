"""Harmonise: the sender's words → one shared language (ISO countries, canonical companies and platforms,
vocabulary codes, age bands with POP bands). What cannot be harmonised becomes a row issue."""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd

from schemas.countries import resolve_country
from schemas.spec import FieldSpec, SourceSchema
from schemas.vocabulary import vocabulary
from tasks.ingest.distinct import map_distinct, parse_distinct
from tasks.ingest.issues import RowIssues, hint

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


def harmonise_lookup(
    column: pd.Series,
    spec: FieldSpec,
    issues: RowIssues,
    resolve: Callable[[str], str | None],
    check: str,
    **params: str,
) -> pd.Series:
    """Each distinct value resolved to our code once; a value that resolves to nothing is a row issue."""
    codes = map_distinct(column, resolve)
    bad = column.notna() & codes.isna()
    issues.add(column.index[bad], spec.name, check, column[bad], hint(check, spec.name, **params))
    return codes


def harmonise_vocab(column: pd.Series, spec: FieldSpec, issues: RowIssues) -> pd.Series:
    return harmonise_lookup(
        column, spec, issues, vocabulary(spec.vocab).resolve, "unknown_code", allowed=_allowed(spec.vocab)
    )


def _split(cell: str, delimiter: str) -> list[str]:
    return [token.strip() for token in re.split(f"[{re.escape(delimiter)}|]", str(cell)) if token.strip()]


def harmonise_multi(column: pd.Series, spec: FieldSpec, issues: RowIssues, delimiter: str) -> pd.Series:
    """Each cell → a list of codes; a cell with any unknown option is a row issue naming the unknown options."""
    resolve = resolve_country if spec.kind == "countries" else vocabulary(spec.vocab).resolve

    def parse(cell: str) -> tuple[list[str], str | None]:
        tokens = _split(cell, delimiter)
        codes = [resolve(token) for token in tokens]
        unknown = [t for t, c in zip(tokens, codes) if not c]
        return list(dict.fromkeys(c for c in codes if c)), "; ".join(unknown) or None

    frame, _ = parse_distinct(column, parse, {"codes": "object", "unknown": "object"})
    bad = frame["unknown"].notna()
    check = "unknown_country" if spec.kind == "countries" else "unknown_code"
    params = {} if spec.kind == "countries" else {"allowed": _allowed(spec.vocab)}
    issues.add(column.index[bad], spec.name, check, frame["unknown"][bad], hint(check, spec.name, **params))
    return frame["codes"].map(lambda codes: codes if isinstance(codes, list) else [])


def harmonise_age_band(column: pd.Series, spec: FieldSpec, issues: RowIssues) -> pd.DataFrame:
    """Canonical band text, its ages and its POP band; what is not a band is a row issue."""

    def parse(value: str) -> tuple[str, int | None, int | None, str] | None:
        ages = parse_age_band(value)
        return None if ages is None else (age_band_label(*ages), *ages, pop_age_band(*ages))

    frame, failed = parse_distinct(
        column, parse, {"age_band": "category", "age_min": "Int64", "age_max": "Int64", "pop_age_band": "category"}
    )
    issues.add(column.index[failed], spec.name, "bad_age_band", column[failed], hint("bad_age_band", spec.name))
    return frame


def harmonise(typed: pd.DataFrame, schema: SourceSchema, issues: RowIssues, delimiter: str) -> pd.DataFrame:
    """The harmonised frame: every field in our codes, with the columns the warehouse stores."""
    out = pd.DataFrame(index=typed.index)
    for name, spec in schema.fields.items():
        if spec.kind == "period":
            for col in ("period", "period_start", "period_end", "period_granularity"):
                out[col] = typed[col]
        elif spec.kind == "country":
            out["country_iso3"] = harmonise_lookup(typed[name], spec, issues, resolve_country, "unknown_country")
        elif spec.kind == "vocab":
            out[name] = harmonise_vocab(typed[name], spec, issues)
        elif spec.kind in ("multi", "countries"):
            out[name] = harmonise_multi(typed[name], spec, issues, delimiter)
        elif spec.kind == "age_band":
            out = pd.concat([out, harmonise_age_band(typed[name], spec, issues)], axis=1)
        elif spec.kind == "company":
            out["company_code"] = harmonise_lookup(
                typed[name], spec, issues, vocabulary("company").resolve, "unknown_company"
            )
            out["company_reported"] = typed[name]
        elif spec.kind == "platform":
            out[f"{name}_code"] = harmonise_lookup(
                typed[name], spec, issues, vocabulary("platform").resolve, "unknown_platform"
            )
            out[f"{name}_reported"] = typed[name]
        else:
            out[name] = typed[name]
    return out
