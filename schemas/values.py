"""How senders write values, read one value at a time: numbers with thousands separators (and the decimal mark of
the source's locale), yes/no in several languages, dates, reporting periods and age bands. Pure functions; the field
kinds (schemas/kinds.py) use them."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from schemas.vocabulary import vocabulary

TRUE_WORDS = {"yes", "y", "true", "t", "1", "x", "oui", "si", "sim", "ja"}
FALSE_WORDS = {"no", "n", "false", "f", "0", "non", "nao", "nein"}
GROUPED = {  # a number written with thousands separators, by the source's decimal mark: 1,234.5 or 1.234,5
    ".": re.compile(r"^-?\d{1,3}(?:[,\u00a0' ]\d{3})+(?:\.\d+)?$"),
    ",": re.compile(r"^-?\d{1,3}(?:[.\u00a0' ]\d{3})+(?:,\d+)?$"),
}
THOUSANDS_MARK = {".": ",", ",": "."}  # the mark that groups thousands where the other one is the decimal mark
PERIOD_PATTERNS = [
    (re.compile(r"^(\d{4})$"), "year"),
    (re.compile(r"^(\d{4})\s*[-/ ]?\s*q([1-4])$"), "quarter"),
    (re.compile(r"^q([1-4])\s*[-/ ]?\s*(\d{4})$"), "quarter_rev"),
    (re.compile(r"^(\d{4})\s*[-/ ]?\s*h([12])$"), "half"),
    (re.compile(r"^h([12])\s*[-/ ]?\s*(\d{4})$"), "half_rev"),
    (re.compile(r"^(\d{4})-(\d{2})$"), "month"),
]
AGE_RANGE = re.compile(r"^(\d{1,3})\s*(?:-|\u2013|to)\s*(\d{1,3})$")
AGE_PLUS = re.compile(r"^(\d{1,3})\s*\+$|^(?:over|above)\s*(\d{1,3})$")
AGE_UNDER = re.compile(r"^(?:<|under|below)\s*(\d{1,3})$")
AGE_SINGLE = re.compile(r"^(\d{1,3})$")
UNKNOWN_AGE = {"unknown", "not known", "n/k", "unk", "not recorded", "unspecified"}
MAX_AGE = 120


def parse_number(value: str, decimal: str = ".") -> float | None:
    """A number from a sender's text: 1200, 1,200, 16 200 000, 0.75 (with the decimal mark ",": 1.200, 1.234,5,
    0,75); None when it is not one."""
    text = str(value).strip()
    grouping = THOUSANDS_MARK[decimal]
    if GROUPED[decimal].match(text):
        text = re.sub(f"[{re.escape(grouping)}\u00a0' ]", "", text)
    if grouping in text:  # 1,5 where the decimal mark is '.', or 1.5 where it is ',': which number was meant?
        return None
    try:
        number = float(text.replace(decimal, "."))
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def parse_whole_number(value: str, decimal: str = ".") -> int | None:
    number = parse_number(value, decimal)
    return int(number) if number is not None and number.is_integer() else None


def parse_yes_no(value: str) -> bool | None:
    word = str(value).strip().lower()
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None


def parse_date(value: str) -> pd.Timestamp | None:
    try:
        return pd.Timestamp(dt.datetime.strptime(str(value).strip(), "%Y-%m-%d"))
    except ValueError:
        return None


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


def open_band_start() -> int:
    """The age POP's open-ended band starts at (25+: POP counts children and young people up to 24)."""
    entries = vocabulary("pop_age_band").entries.values()
    return next(e["age_min"] for e in entries if e.get("age_min") is not None and e.get("age_max") is None)


def plausible_age_band(age_min: int | None) -> bool:
    """Whether a band can count children or young people, or be the band of older callers a helpline counts beside
    them (18-25, 25+): it starts no later than POP's open-ended band. 99-120, or a single age of 67, cannot."""
    return age_min is None or age_min <= open_band_start()


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
